// The dispatcher's day in the browser: the due list with its reasons, planning tomorrow while
// the page shows the solver working, the runs on the map (one line per run) and stop by stop
// as the API has them, an urgent insertion, a skipped stop, the fleet; a driver is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, signIn, apiToken, apiGet, screenshot } from '../lib/harness.mjs';

let server; let browser; let token;
before(async () => { server = await startServer(); browser = await launch(); token = await apiToken(server.base, 'dispatch'); });
after(async () => { await browser?.close(); await server?.stop(); });

/** The deployment's day (UTC+8) `days` from today, as YYYY-MM-DD. */
function day(days) {
  return new Date(Date.now() + 8 * 3600e3 + days * 86400e3).toISOString().slice(0, 10);
}

async function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

async function apiPost(path, body) {
  const r = await fetch(`${server.base}/api/v1${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

test('the dispatcher plans tomorrow and sees the runs the API has', async () => {
  const tomorrow = day(1);
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'dispatch');
  await page.goto(`${server.base}/#/dispatch?date=${tomorrow}`);
  await page.getByRole('heading', { name: `调度：${tomorrow}` }).waitFor();

  // The due list: as many rows as the API's, each with its reasons and deadline in words.
  const due = await apiGet(server.base, token, `/pickups/due?date=${tomorrow}`);
  assert.ok(due.stops.length > 0, 'the demo county has stops due tomorrow');
  await page.getByRole('heading', { name: `待收站点（${due.stops.length}）` }).waitFor();
  const dueTable = page.locator('table').last();
  assert.equal(await dueTable.locator('tbody tr').count(), due.stops.length);
  const first = dueTable.locator('tbody tr').first();
  assert.match(await first.textContent(), new RegExp(due.stops[0].name));
  assert.match(await first.textContent(), /期限|无贮存期限/);
  assert.match(await first.textContent(), /下次机会|之后没有/);
  assert.match(await dueTable.textContent(), /贮存期限将至|收集间隔将满|已逾期|机构申请收运|代收村卫生室/);

  // Plan: the page shows the solver at work with the time elapsed, then the result.
  assert.equal((await apiGet(server.base, token, `/runs?date=${tomorrow}`)).items.length, 0);
  await page.getByRole('button', { name: '规划这一天' }).click();
  await page.locator('.plan-progress').getByText(/正在规划… 已用 \d+ 秒/).waitFor();
  await page.getByText(/^已规划：\d+ 条路线/).waitFor({ timeout: 60000 });
  assert.equal(await page.locator('.plan-progress').count(), 0, 'the progress is gone once planned');

  // The page's runs are the API's runs, stop by stop in order.
  const runs = (await apiGet(server.base, token, `/runs?date=${tomorrow}`)).items;
  assert.ok(runs.length > 0);
  await page.getByRole('heading', { name: `路线（${runs.length}）` }).waitFor();
  const cards = page.locator('.run-card');
  assert.deepEqual(await cards.evaluateAll((els) => els.map((e) => e.dataset.run)), runs.map((r) => r.id));
  for (const [i, run] of runs.entries()) {
    const rows = cards.nth(i).locator('tbody tr');
    assert.equal(await rows.count(), run.stops.length);
    const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.cells[1].querySelector('strong').textContent));
    assert.deepEqual(names, run.stops.map((s) => s.name));
    assert.match(await cards.nth(i).textContent(), new RegExp(run.plate));
  }
  // The map: one line per run, one numbered circle per stop, the plant; no tile, no request off the machine.
  const map = page.locator('svg.run-map');
  assert.equal(await map.locator('polyline.run-line').count(), runs.length);
  assert.deepEqual(await map.locator('polyline.run-line').evaluateAll((ls) => ls.map((l) => l.dataset.run)), runs.map((r) => r.id));
  for (const run of runs) {
    const pts = await map.locator(`polyline[data-run="${run.id}"]`).getAttribute('points');
    assert.equal(pts.trim().split(/\s+/).length, run.stops.length + 2, 'plant, the stops in order, plant');
  }
  assert.equal(await map.locator('g.run-stop').count(), runs.reduce((n, r) => n + r.stops.length, 0));
  assert.equal(await map.locator('g.run-stop text').first().textContent(), '1');
  assert.ok(await map.locator('g.run-depot').count() >= 1);
  assert.ok((await overflow(page)) <= 0, 'no page overflow at 1280 px');
  await screenshot(page, 'dispatch-plan');
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('an urgent insertion and a skipped stop change the run as the API says', async () => {
  const tomorrow = day(1);
  let runs = (await apiGet(server.base, token, `/runs?date=${tomorrow}`)).items;
  if (!runs.length) {
    assert.equal((await apiPost('/plans', { date: tomorrow })).status, 201);
    runs = (await apiGet(server.base, token, `/runs?date=${tomorrow}`)).items;
  }
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'dispatch');
  await page.goto(`${server.base}/#/dispatch?date=${tomorrow}`);
  await page.getByRole('heading', { name: '紧急插单' }).waitFor();

  // Insert: try institutions from the end of the list (active ones not due) until one fits.
  const form = page.locator('form.insert-form');
  const options = await form.getByLabel('机构').locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(options.length > 0);
  const onRun = new Set(runs.flatMap((r) => r.stops.map((s) => s.institution_id)));
  assert.ok(options.every((o) => !onRun.has(o)), 'only institutions on no run are offered');
  // The solver's time limit makes plans differ from run to run, and a full run refuses (409,
  // shown on the page): try the runs in turn, shortest first.
  let inserted = null; let run = null; let refusals = 0;
  const byLength = [...runs].sort((a, b) => a.duration_min - b.duration_min);
  for (const r of byLength) {
    for (const inst of options.slice(-4).reverse()) {
      await form.getByLabel('机构').selectOption(inst);
      await form.getByLabel('插入路线').selectOption(r.id);
      await form.getByRole('button', { name: '插入' }).click();
      const outcome = await Promise.race([
        page.getByText(/^已插入 /).waitFor().then(() => 'ok'),
        page.locator('.dispatch-msg .notice.error').waitFor().then(() => 'refused'),
      ]);
      if (outcome === 'ok') { inserted = inst; run = r; break; }
      refusals += 1;
    }
    if (inserted) break;
  }
  assert.ok(inserted, `one of the institutions could be inserted (${refusals} refusals)`);
  const after = (await apiGet(server.base, token, `/runs/${run.id}`));
  const stop = after.stops.find((s) => s.institution_id === inserted);
  assert.ok(stop, 'the run holds the inserted stop');
  await page.getByText(new RegExp(`为第 ${stop.seq} 站`)).waitFor();
  const card = page.locator(`.run-card[data-run="${run.id}"]`);
  assert.equal(await card.locator('tbody tr').count(), after.stops.length);
  // A run's stops open from its summary (closed at first: a day has hundreds of rows).
  assert.equal(await card.evaluate((d) => d.open), false);
  await card.locator('summary').click();
  assert.match(await card.locator('summary').textContent(), new RegExp(`${after.stops.length} 站`));

  // Skip the first pending stop with a reason: it shows as skipped and is due again.
  // A stop that was due (the inserted one may have no waste waiting, and then is not due again).
  const target = after.stops.find((s) => s.status === 'pending' && s.institution_id !== inserted);
  const row = card.locator('tbody tr').nth(after.stops.indexOf(target));
  await row.getByRole('button', { name: '跳过' }).click();
  await row.getByLabel('跳过原因').fill('道路施工');
  await row.getByRole('button', { name: '确认跳过' }).click();
  await page.getByText(`已跳过第 ${target.seq} 站：${target.name}`).waitFor();
  assert.equal(await card.evaluate((d) => d.open), true, 'the run stays open after the page is re-built');
  const skipped = (await apiGet(server.base, token, `/runs/${run.id}`)).stops.find((s) => s.seq === target.seq);
  assert.equal(skipped.status, 'skipped');
  assert.equal(skipped.skip_reason, '道路施工');
  await page.getByRole('heading', { name: /已跳过的站点（[1-9]/ }).waitFor();
  assert.match(await page.locator('.page').textContent(), /道路施工/);
  const dueAgain = await apiGet(server.base, token, `/pickups/due?date=${tomorrow}`);
  assert.ok(dueAgain.stops.some((s) => s.institution_id === target.institution_id && s.reasons.includes('skipped')));
  // The skipped stop leaves the run's line on the map.
  const pts = await page.locator(`polyline[data-run="${run.id}"]`).getAttribute('points');
  assert.equal(pts.trim().split(/\s+/).length, after.stops.length - 1 + 2);
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the dispatcher adds a vehicle, gives it a driver, and sees the drivers', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'dispatch');
  await page.getByRole('link', { name: '车辆' }).click();
  await page.getByRole('heading', { name: '车辆与司机' }).waitFor();
  const drivers = (await apiGet(server.base, token, '/drivers')).items;
  await page.getByRole('heading', { name: `司机（${drivers.length}）` }).waitFor();
  const add = page.locator('form').filter({ has: page.getByRole('heading', { name: '添加车辆' }) });
  await add.getByLabel('车牌').fill('鲁Q-T0001');
  await add.getByLabel('载重（kg）').fill('900');
  await add.getByLabel('容量（件）').fill('70');
  await add.getByRole('button', { name: '添加车辆' }).click();
  await page.getByText('已添加车辆 鲁Q-T0001').waitFor();
  let v = (await apiGet(server.base, token, '/vehicles')).items.find((x) => x.plate === '鲁Q-T0001');
  assert.equal(v.capacity_kg, 900);
  assert.equal(v.driver_id ?? null, null);
  // Edit: assign the first driver and take it off the plan.
  await page.getByRole('button', { name: '修改 鲁Q-T0001' }).click();
  const edit = page.locator('form.vehicle-edit:not([hidden])');
  await edit.getByLabel('司机').selectOption(drivers[0].id);
  await edit.getByLabel('参与规划').uncheck();
  await edit.getByRole('button', { name: '保存' }).click();
  await page.getByText('已保存 鲁Q-T0001').waitFor();
  v = (await apiGet(server.base, token, '/vehicles')).items.find((x) => x.plate === '鲁Q-T0001');
  assert.equal(v.driver_id, drivers[0].id);
  assert.equal(v.active, false);
  const d = (await apiGet(server.base, token, '/drivers')).items.find((x) => x.id === drivers[0].id);
  assert.ok(d.plates.includes('鲁Q-T0001'));
  await page.locator('table').last().getByText(/鲁Q-T0001/).waitFor();
  // A bad shift is refused with the field named, nothing written.
  await add.getByLabel('车牌').fill('鲁Q-T0002');
  await add.getByLabel('出车时间').fill('18:00');
  await add.getByLabel('收车时间').fill('08:00');
  await add.getByRole('button', { name: '添加车辆' }).click();
  await add.locator('.notice.error').getByText(/shift_end/).waitFor();
  assert.ok(!(await apiGet(server.base, token, '/vehicles')).items.some((x) => x.plate === '鲁Q-T0002'));
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the dispatch pages fit 360 px and 1280 px without page overflow', async () => {
  for (const width of [360, 1280]) {
    const page = await openPage(browser, server.base, { viewport: { width, height: 800 } });
    await signIn(page, server.base, 'dispatch');
    for (const path of [`/dispatch?date=${day(1)}`, '/dispatch/fleet']) {
      await page.goto(`${server.base}/#${path}`);
      await page.locator('main h1').waitFor();
      await page.locator('main table').first().waitFor({ state: 'attached' });
      // With every run and the due list open, the widest state of the page.
      await page.evaluate(() => { for (const d of document.querySelectorAll('main details')) d.open = true; });
      assert.ok((await overflow(page)) <= 0, `${path} is wider than ${width} px`);
    }
    // In English too (the choice is kept on the device).
    await page.goto(`${server.base}/#/dispatch?date=${day(1)}`);
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: `Dispatch: ${day(1)}` }).waitFor();
    assert.match(await page.locator('main').textContent(), /Due stops \(\d+\)/);
    assert.ok((await overflow(page)) <= 0);
    assert.deepEqual(page.offsite, []);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('a driver opening the dispatch page is refused, and so is the API', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'driver1');
  await page.goto(`${server.base}/#/dispatch`);
  await page.getByRole('heading', { name: '无权访问' }).waitFor();
  await page.goto(`${server.base}/#/dispatch/fleet`);
  await page.getByRole('heading', { name: '无权访问' }).waitFor();
  const status = await page.evaluate(async (date) => (await fetch('/api/v1/plans', {
    method: 'POST', headers: { 'X-Yifei-Console': '1', 'Content-Type': 'application/json' }, body: JSON.stringify({ date }),
  })).status, day(1));
  assert.equal(status, 403);
  assert.deepEqual(page.offsite, []);
  await page.context().close();
});
