// Plant operator: the gate screen driven as a USB barcode scanner drives it (it types the code
// and Enter into the focused field), with the scale's weight: receive, reject, dispose; the
// API's container states change accordingly and each event is stored once. On SQLite or
// PostgreSQL (YIFEI_BROWSER_DB), with nothing fetched off the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, signIn, apiToken, apiGet, screenshot } from '../lib/harness.mjs';

let server; let browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

async function apiPost(base, token, path, body) {
  const r = await fetch(`${base}/api/v1${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** Containers of the demo clinic, sealed there and collected by a driver: on their way in. */
async function onTheRoad(n) {
  const clinic = await apiToken(server.base, 'clinic');
  const driver = await apiToken(server.base, 'driver1');
  const codes = [];
  for (let i = 0; i < n; i++) codes.push((await apiPost(server.base, clinic, '/containers', { category: 'infectious', packaging: 'bag' })).code);
  const at = (min) => new Date(Date.now() - min * 60000).toISOString();
  const seal = await apiPost(server.base, clinic, '/scans', { events: codes.map((code) => ({ event_id: crypto.randomUUID(), code, action: 'seal', occurred_at: at(2), weight_kg: 2.0 })) });
  const collect = await apiPost(server.base, driver, '/scans', { events: codes.map((code) => ({ event_id: crypto.randomUUID(), code, action: 'collect', occurred_at: at(1), weight_kg: 2.1 })) });
  assert.ok([...seal.results, ...collect.results].every((r) => r.status === 'accepted'));
  return codes;
}

/** Types as a scanner does: the characters, then Enter, into whatever has the focus. */
async function scanner(page, text) {
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press('Enter');
}

const printed = (c) => c.replace(/(.{4})(?=.)/g, '$1-');

test('disposing by another method asks what it was and stores it as the server requires', async () => {
  const [a] = await onTheRoad(1);
  const token = await apiToken(server.base, 'plant');
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'plant');
  await page.goto(`${server.base}/#/plant`);
  const code = page.getByLabel('容器编码（扫码枪扫描后自动回车）');
  await code.waitFor();
  await page.getByRole('button', { name: '入厂称重' }).click();
  await page.getByLabel('磅秤重量（kg）').fill('1.2');
  await code.focus();
  await scanner(page, a);
  await page.locator('#gate-feedback.ok').getByText('已入厂', { exact: false }).first().waitFor();

  await page.getByRole('button', { name: '处置', exact: true }).click();
  assert.equal(await page.getByLabel('写明其他方式').isVisible(), false, 'hidden until "other" is chosen');
  await page.getByLabel('处置方式').selectOption('other');
  await code.focus();
  // Without the text, nothing is sent: the screen asks for it and keeps the code waiting.
  await scanner(page, a);
  await page.locator('#gate-feedback').getByText('请写明处置方式').waitFor();
  assert.equal((await apiGet(server.base, token, `/containers/${a}`)).state, 'received');
  assert.equal(await page.evaluate(() => document.activeElement?.name), 'method_other');
  await page.keyboard.type('等离子体气化');
  await page.keyboard.press('Enter');
  await page.locator('#gate-feedback.ok').getByText('已处置').first().waitFor();
  const c = await apiGet(server.base, token, `/containers/${a}`);
  assert.equal(c.state, 'disposed');
  assert.equal(c.events.find((e) => e.action === 'dispose').method, 'other: 等离子体气化');
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.offsite, []);
  await page.context().close();
});

test('the plant receives, rejects and disposes by typed codes, each event stored once', async () => {
  const [a, b] = await onTheRoad(2);
  const token = await apiToken(server.base, 'plant');
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'plant');
  await page.goto(`${server.base}/#/plant`);
  await page.getByRole('heading', { name: '处置厂大门' }).waitFor();
  const code = page.getByLabel('容器编码（扫码枪扫描后自动回车）');
  await code.waitFor();
  // Both containers are listed in transit.
  for (const c of [a, b]) await page.locator('tr', { hasText: printed(c) }).first().waitFor();
  await page.getByRole('button', { name: '入厂称重' }).click();
  assert.equal(await page.evaluate(() => document.activeElement?.name), 'code', 'the scanner field has the focus');

  // A scan before the weight: the screen asks for it, Enter in the weight field sends it.
  await scanner(page, `YF1:${a}`);
  await page.locator('#gate-feedback').getByText('先称重').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.name), 'weight_kg');
  await page.keyboard.type('2.35');
  await page.keyboard.press('Enter');
  await page.locator('#gate-feedback.ok').getByText('已入厂', { exact: false }).first().waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.name), 'code', 'focus is back for the next scan');
  assert.equal(await code.inputValue(), '');
  let c = await apiGet(server.base, token, `/containers/${a}`);
  assert.equal(c.state, 'received');
  assert.equal(c.weights.receive_kg, 2.35);

  // A mistyped code is refused clearly, and nothing is stored.
  const wrong = a.slice(0, 11) + (a[11] === 'A' ? 'B' : 'A');
  await page.getByLabel('磅秤重量（kg）').fill('1');
  await code.focus();
  await scanner(page, wrong);
  await page.locator('#gate-feedback.bad').getByText('编码有误').waitFor();

  // Reject the second with a reason.
  await page.getByRole('button', { name: '拒收' }).click();
  await page.getByLabel('拒收原因').fill('破损渗漏');
  await code.focus();
  await scanner(page, printed(b));
  await page.locator('#gate-feedback.ok').getByText('已拒收').first().waitFor();
  c = await apiGet(server.base, token, `/containers/${b}`);
  assert.equal(c.state, 'rejected');
  assert.equal(c.events.find((e) => e.action === 'reject').reason, 'leaking');

  // Dispose of the first by incineration.
  await page.getByRole('button', { name: '处置', exact: true }).click();
  assert.equal(await page.getByLabel('处置方式').inputValue(), 'incineration');
  await scanner(page, a.toLowerCase());
  await page.locator('#gate-feedback.ok').getByText('已处置').first().waitFor();
  c = await apiGet(server.base, token, `/containers/${a}`);
  assert.equal(c.state, 'disposed');
  const count = (evs, action) => evs.filter((e) => e.action === action).length;
  assert.deepEqual(['seal', 'collect', 'receive', 'dispose'].map((x) => count(c.events, x)), [1, 1, 1, 1], 'each event once');
  assert.equal(c.events.find((e) => e.action === 'dispose').method, 'incineration');
  const rejected = await apiGet(server.base, token, `/containers/${b}`);
  assert.deepEqual(['seal', 'collect', 'receive', 'reject'].map((x) => count(rejected.events, x)), [1, 1, 0, 1]);

  // Today's intake on the page agrees with the API's.
  const intake = await apiGet(server.base, token, '/plant/intake');
  assert.ok(intake.received >= 1 && intake.rejected >= 1);
  await page.locator('#intake-received').getByText(`入厂 ${intake.received} 件`).waitFor();
  await page.locator('#intake-rejected').getByText(`拒收 ${intake.rejected} 件`).waitFor();
  await page.getByRole('button', { name: '入厂称重' }).click();
  await page.getByLabel('磅秤重量（kg）').fill('');
  await code.focus();
  await screenshot(page, 'plant-gate');
  // In English, every string of the page has its translation (a missing key shows itself).
  await page.getByRole('button', { name: 'English' }).click();
  await page.locator('main h1').filter({ hasText: /[A-Za-z]/ }).waitFor();
  const text = await page.locator('main').innerText();
  assert.doesNotMatch(text, /\b(clinic|labels|hub|plant|w|col|req|mf|m|r)\.[a-z_.]+\b/, text);
  assert.doesNotMatch(text, /(待收运|申请收运|处置厂大门|今日入厂|封口称重)/, 'no Chinese page text left');
  await page.getByRole('button', { name: '中文' }).click();
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a clinic opening the plant gate is refused; the plant may not open clinic pages', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'clinic');
  await page.goto(`${server.base}/#/plant`);
  await page.getByRole('heading', { name: '无权访问' }).waitFor();
  await page.context().close();
  const plant = await openPage(browser, server.base);
  await signIn(plant, server.base, 'plant');
  await plant.goto(`${server.base}/#/clinic/labels`);
  await plant.getByRole('heading', { name: '无权访问' }).waitFor();
  const status = await plant.evaluate(async () => (await fetch('/api/v1/storage-clocks', { headers: { 'X-Yifei-Console': '1' } })).status);
  assert.equal(status, 403);
  await plant.context().close();
});

test('the gate fits 360 px and 1280 px without overflow', async () => {
  await onTheRoad(1);
  for (const width of [360, 1280]) {
    const page = await openPage(browser, server.base, { viewport: { width, height: 800 } });
    await signIn(page, server.base, 'plant');
    await page.goto(`${server.base}/#/plant`);
    await page.locator('#intake-received').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the gate at ${width} px is ${overflow} px too wide`);
    assert.deepEqual(page.offsite, []);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});
