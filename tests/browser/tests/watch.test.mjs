// The watch list (重点监控名单) in the browser: a failed spot check puts an institution on it,
// words alone do not strike it off, a passed re-inspection does; the filters narrow it, the
// institution's page shows the rectification closed; the page fits 360 px and 1280 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, signIn, apiToken, apiGet, screenshot } from '../lib/harness.mjs';

let server; let browser; let token;
// Rules evaluated every 2 s, so that the spot check's entry appears within the test.
before(async () => {
  server = await startServer({ YIFEI_ALERT_INTERVAL_S: '2' });
  browser = await launch();
  token = await apiToken(server.base, 'bureau');
});
after(async () => { await browser?.close(); await server?.stop(); });

async function apiPost(path, body) {
  const r = await fetch(`${server.base}/api/v1${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

async function allEntries(query = '') {
  const items = [];
  let cursor = '';
  do {
    const page = await apiGet(server.base, token, `/watch-list?limit=200${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

const checklist = (ok) => ({ packaging: true, labels: ok, storage_time: true, register: true, signage: true });

test('a failed spot check is listed, refused without evidence, struck off with a passed re-inspection', async () => {
  const inst = (await apiGet(server.base, token, '/institutions?status=active&limit=1')).items[0];
  const deadline = new Date(Date.now() + 7 * 86400e3).toISOString();
  await apiPost('/inspections', { institution_id: inst.id, checklist: checklist(false), rectification_deadline: deadline });
  let entry;
  for (let i = 0; i < 50 && !entry; i += 1) {
    entry = (await allEntries('&rule=failed_inspection')).find((e) => e.institution_id === inst.id);
    if (!entry) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(entry, 'the evaluator listed the failed spot check');

  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'bureau');
  await page.getByRole('link', { name: '重点监控' }).click();
  await page.getByRole('heading', { name: '重点监控名单' }).waitFor();
  const everything = await allEntries();
  assert.equal(await page.locator('tbody tr').count(), everything.length, 'every entry of the API is a row');
  const form = page.locator(`form[data-entry="${entry.id}"]`);
  await form.getByLabel('销号证据').fill('已口头整改');
  await form.getByRole('button', { name: '销号' }).click();
  await page.getByText(/struck off only by a passed re-inspection/).waitFor();
  assert.equal((await allEntries('&rule=failed_inspection')).find((e) => e.id === entry.id).status, 'open');

  const passed = await apiPost('/inspections', { institution_id: inst.id, checklist: checklist(true) });
  await page.reload();
  await page.getByRole('heading', { name: '重点监控名单' }).waitFor();
  const again = page.locator(`form[data-entry="${entry.id}"]`);
  // The re-inspections are read after the list is drawn: wait for the passed one's option.
  await again.locator(`option[value="${passed.id}"]`).waitFor({ state: 'attached' });
  assert.equal(await again.getByLabel('复查记录').inputValue(), passed.id, 'the passed re-inspection is offered');
  await again.getByLabel('销号证据').fill('复查合格，标签已补齐');
  await again.getByRole('button', { name: '销号' }).click();
  await page.getByText('销号完成').waitFor();
  const done = (await allEntries('&status=struck_off')).find((e) => e.id === entry.id);
  assert.equal(done.evidence, '复查合格，标签已补齐');
  assert.equal(done.evidence_inspection_id, passed.id);

  // The state filter: only struck-off entries remain, and the address says so.
  await page.getByLabel('状态').selectOption('struck_off');
  await page.getByRole('button', { name: '查询' }).click();
  await page.waitForURL(/status=struck_off/);
  await page.locator(`tbody tr`).first().waitFor();
  const struck = await allEntries('&status=struck_off');
  assert.equal(await page.locator('tbody tr').count(), struck.length);
  await screenshot(page, 'bureau-watch-list');

  // The institution's page: its rectification, closed by the re-inspection.
  await page.goto(`${server.base}/#/bureau/institutions/${inst.id}`);
  await page.getByRole('heading', { name: '限期整改' }).waitFor();
  await page.getByText('已复查合格').first().waitFor();
  await page.getByRole('heading', { name: '处罚与移送' }).waitFor();
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the watch list fits 360 px and 1280 px, and is refused to a clinic', async () => {
  for (const width of [360, 1280]) {
    const page = await openPage(browser, server.base, { viewport: { width, height: 800 } });
    await signIn(page, server.base, 'bureau');
    await page.goto(`${server.base}/#/bureau/watch-list`);
    await page.locator('.page h1').waitFor();
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(over <= 0, `${width} px: the page is ${over} px wider than the screen`);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'clinic');
  await page.goto(`${server.base}/#/bureau/watch-list`);
  await page.getByRole('heading', { name: '无权访问' }).waitFor();
  await page.context().close();
});
