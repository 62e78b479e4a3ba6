// The bureau's day in the browser: the dashboard reads the same figures as
// GET /api/v1/reports/coverage, the county map draws the H3 cells and the institutions and
// opens an institution's page, a sign-up is approved (and one rejected with a reason), an
// alert is acknowledged and resolved with a note, a spot check is recorded; every page fits
// 360 px and 1280 px, and nothing is fetched off the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer, launch, openPage, signIn, apiToken, apiGet, screenshot } from '../lib/harness.mjs';

let server; let browser; let token;
// Alert rules evaluated every 2 s, so the demo's overdue waste has its alerts within the test.
before(async () => {
  server = await startServer({ YIFEI_ALERT_INTERVAL_S: '2' });
  browser = await launch();
  token = await apiToken(server.base, 'bureau');
});
after(async () => { await browser?.close(); await server?.stop(); });

/** A local day of the deployment (+08:00), `offset` days from today. */
function day(offset) {
  const d = new Date(Date.now() + 8 * 3600e3 + offset * 86400e3);
  return d.toISOString().slice(0, 10);
}
// A period that has ended: its figures no longer move with the clock while the test runs.
const FROM = day(-29);
const TO = day(-1);

/** The page's way of showing a rate (dom.js pct), in zh-CN. */
const pct = (x) => (x === null || x === undefined ? '无数据' : `${(x * 100).toLocaleString('zh-CN', { maximumFractionDigits: 1 })} %`);
const num = (x, d = 1) => Number(x).toLocaleString('zh-CN', { maximumFractionDigits: d });

async function all(path) {
  const items = [];
  let cursor = '';
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await apiGet(server.base, token, `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

async function apiPost(tok, path, body) {
  const r = await fetch(`${server.base}/api/v1${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/**
 * A transfer manifest, the way one comes to be: the dispatcher plans today, the run's driver
 * collects a container at its first stop with waste. Resolves to the manifest's institution
 * and number.
 */
async function aManifest() {
  const plan = await apiPost(await apiToken(server.base, 'dispatch'), '/plans', { date: day(0) });
  const run = plan.runs.find((r) => r.driver_id && r.stops.some((st) => st.containers.length));
  assert.ok(run, 'the demo plan has a run with waste to collect');
  const stop = run.stops.find((st) => st.containers.length);
  let driver;
  for (let n = 1; n <= 6 && !driver; n++) {
    const tok = await apiToken(server.base, `driver${n}`);
    if ((await apiGet(server.base, tok, '/me')).id === run.driver_id) driver = tok;
  }
  const code = stop.containers[0];
  const res = await apiPost(driver, '/scans', { events: [{
    event_id: randomUUID(), code, action: 'collect', occurred_at: new Date().toISOString(), weight_kg: 1.25, location: stop.location, run_id: run.id,
  }] });
  assert.equal(res.results[0].status, 'accepted', JSON.stringify(res));
  const container = await apiGet(server.base, token, `/containers/${code}`);
  const manifests = await apiGet(server.base, token, `/runs/${run.id}/manifests`);
  const m = manifests.items.find((x) => x.shipper.id === container.institution_id);
  assert.ok(m, 'the collect opened a manifest');
  return { institution: container.institution_id, number: m.number };
}

async function figure(page, key) {
  const card = page.locator(`[data-figure="${key}"]`);
  return { value: (await card.locator('.value').textContent()).trim(), parts: (await card.locator('.parts').textContent()).trim(), def: (await card.locator('.def').textContent()).trim() };
}

/** Every figure on the dashboard equals the report's for the same period and township. */
async function compareDashboard(page, township = '') {
  await page.getByLabel('起始日').fill(FROM);
  await page.getByLabel('截止日').fill(TO);
  await page.getByLabel('乡镇').selectOption(township);
  await page.getByRole('button', { name: '查看' }).click();
  await page.waitForFunction(([f, t]) => location.hash.includes(`from=${f}`) && location.hash.includes(`to=${t}`), [FROM, TO]);
  await page.locator('[data-figure="entry_rate_institutions"]').waitFor();
  await page.getByText(`${FROM} 至 ${TO}`).waitFor();
  const q = `from=${FROM}&to=${TO}${township ? `&township=${encodeURIComponent(township)}` : ''}`;
  const r = await apiGet(server.base, token, `/reports/coverage?${q}`);
  let open = await all(`/alerts?status=open${township ? `&township=${encodeURIComponent(township)}` : ''}`);
  const tot = r.total;
  const rates = ['entry_rate_institutions', 'entry_rate_weight', 'harmless_disposal_rate', 'on_time_rate', 'inspection_pass_rate'];
  if ('plant_disposal_rate' in tot) rates.push('plant_disposal_rate');
  for (const key of rates) {
    const f = await figure(page, key);
    assert.equal(f.value, pct(tot[key]), `${key}: the page shows ${f.value}, the report ${tot[key]}`);
    assert.ok(f.def.length > 10, `${key} states its definition`);
    // The report's own definition, when it sends one, is the one shown.
    const d = (r.definitions || []).find((x) => x.rate === key);
    if (d) assert.ok(f.def.includes(d.numerator) && f.def.includes(d.denominator), `${key} shows the report's definition`);
  }
  assert.equal((await figure(page, 'overdue_storage_hours')).value, num(tot.overdue_storage_hours));
  assert.equal((await figure(page, 'open_discrepancies')).value, num(tot.open_discrepancies, 0));
  // Alerts are evaluated every 2 s here: if one opened between the page's call and the test's,
  // the reloaded page must agree.
  let shown = (await figure(page, 'open_alerts')).value;
  if (shown !== String(open.length)) {
    await page.reload();
    await page.locator('[data-figure="open_alerts"]').waitFor();
    shown = (await figure(page, 'open_alerts')).value;
    open = await all(`/alerts?status=open${township ? `&township=${encodeURIComponent(township)}` : ''}`);
  }
  assert.equal(shown, String(open.length));
  // The numbers each rate divides are the report's too.
  const entry = await figure(page, 'entry_rate_institutions');
  assert.ok(entry.parts.startsWith(`${tot.collected_within_interval} / ${tot.institutions_expected ?? tot.registered} `), entry.parts);
  const ontime = await figure(page, 'on_time_rate');
  assert.ok(ontime.parts.startsWith(`${tot.collected_on_time} / ${tot.containers_due ?? tot.containers_collected} `), ontime.parts);
  const insp = await figure(page, 'inspection_pass_rate');
  assert.ok(insp.parts.startsWith(`${tot.inspections_passed} / ${tot.inspections} `), insp.parts);
  assert.match(insp.parts, /目标 95 %/);
  // The township table holds the report's rows.
  if (!township) {
    const rows = await page.locator('h2:text("按乡镇") + .table-wrap tbody tr').count();
    assert.equal(rows, r.by_township.length);
  }
  return r;
}

async function noOverflow(page, what) {
  const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(over <= 0, `${what}: the page is ${over} px wider than the screen`);
}

test('the dashboard shows the figures of GET /reports/coverage, each with its definition and the list behind it', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'bureau');
  await page.getByRole('heading', { name: '医疗废物监管概况' }).waitFor();
  const r = await compareDashboard(page);
  const township = r.by_township[0].group;
  await compareDashboard(page, township);
  // A figure's name opens the institutions behind it, with their containers.
  await compareDashboard(page);
  await page.locator('[data-figure="entry_rate_institutions"] a.name').click();
  await page.getByRole('heading', { name: /明细：集中处置纳入率（按机构）/ }).waitFor();
  const rows = page.locator('tbody tr');
  assert.equal(await rows.count(), r.institutions.length, 'every institution of the denominator is listed');
  const notIn = r.institutions.filter((i) => !i.collected_within_interval).length;
  assert.equal(await page.locator('tbody tr .badge.bad').count(), notIn, 'those not counted are marked');
  // The weekly trend: eight weeks, a point per week with data.
  await page.goBack();
  await page.locator('.bureau-trend svg.trend').waitFor();
  assert.equal(await page.locator('.bureau-trend tbody tr').count(), 8);
  await screenshot(page, 'bureau-dashboard');
  // Downloads: the report as CSV and the cell map as GeoJSON, for the period on the page.
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '覆盖率报表 CSV' }).click()]);
  assert.equal(csv.suggestedFilename(), `coverage-${FROM}-${TO}.csv`);
  const text = (await import('node:fs')).readFileSync(await csv.path(), 'utf8').replace(/^\uFEFF/, '');
  assert.match(text, /^dimension,group,/);
  assert.equal(text.split('\n').filter((l) => l.startsWith('township,')).length, r.by_township.length);
  const [geo] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '网格地图 GeoJSON' }).click()]);
  const cells = JSON.parse((await import('node:fs')).readFileSync(await geo.path(), 'utf8'));
  assert.equal(cells.type, 'FeatureCollection');
  assert.ok(cells.features.length > 0);
  // English too.
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { name: 'Medical waste oversight' }).waitFor();
  await page.getByText('Harmless disposal rate', { exact: true }).first().waitFor();
  await page.getByRole('button', { name: '中文' }).click();
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the map draws the cells and the institutions; a point opens the institution with its containers, manifests and spot checks', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'bureau');
  await page.goto(`${server.base}/#/bureau/map?from=${FROM}&to=${TO}`);
  await page.locator('svg.bureau-map').waitFor();
  const geo = await apiGet(server.base, token, `/reports/coverage/cells?from=${FROM}&to=${TO}&res=7`);
  assert.ok(geo.features.length > 10);
  assert.equal(await page.locator('svg.bureau-map path.hex').count(), geo.features.length);
  const active = (await all('/institutions?status=active')).filter((i) => i.location);
  assert.equal(await page.locator('svg.bureau-map a.point').count(), active.length);
  // The colour of a hex follows its share of institutions collected within interval.
  const cell = geo.features[0].properties;
  const share = await page.locator(`path.hex[data-cell="${cell.cell}"]`).getAttribute('data-share');
  assert.equal(Number(share), Number((cell.collected_on_time / cell.institutions).toFixed(4)));
  assert.equal(await page.locator('.legend svg rect').count(), 4);
  await screenshot(page, 'bureau-map');
  // Keyboard: a point is a link that takes focus and opens with Enter.
  const first = page.locator('svg.bureau-map a.point').first();
  const id = await first.getAttribute('data-institution');
  await page.getByRole('button', { name: '查看' }).focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset?.institution), id, 'Tab goes from the form to the first point');
  await page.keyboard.press('Enter');
  await page.waitForFunction((i) => location.hash === `#/bureau/institutions/${i}`, id);
  // And a click on another one.
  await page.goBack();
  await page.locator('svg.bureau-map').waitFor();
  const withWaste = (await apiGet(server.base, token, `/reports/coverage?from=${FROM}&to=${TO}`)).institutions
    .find((i) => i.containers_collected > 0 && active.some((a) => a.id === i.institution_id));
  await page.locator(`svg.bureau-map a.point[data-institution="${withWaste.institution_id}"] circle`).click();
  await page.getByRole('heading', { name: withWaste.name, exact: true }).waitFor();
  await page.getByRole('heading', { name: /^容器/ }).waitFor();
  const containers = await all(`/containers?institution_id=${withWaste.institution_id}`);
  assert.ok(await page.locator('h2:has-text("容器") + .table-wrap tbody tr').count() === Math.min(50, containers.length));
  await page.getByRole('heading', { name: '转移联单' }).waitFor();
  await page.getByRole('heading', { name: /抽查记录/ }).waitFor();
  // The manifests of the runs that collected its waste.
  const m = await aManifest();
  await page.goto(`${server.base}/#/bureau/institutions/${m.institution}`);
  await page.getByRole('heading', { name: '转移联单' }).waitFor();
  await page.getByRole('cell', { name: m.number, exact: true }).waitFor();
  await page.getByRole('heading', { name: /抽查记录/ }).waitFor();
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the bureau approves a pending sign-up and rejects another with a reason', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'bureau');
  const pending = await all('/institutions?status=pending');
  assert.ok(pending.length >= 2, 'the demo has sign-ups waiting');
  const [a, b] = pending;
  await page.getByRole('link', { name: '注册审核' }).click();
  await page.getByRole('heading', { name: '待审核的注册' }).waitFor();
  await page.getByRole('row', { name: new RegExp(a.name) }).getByRole('button', { name: '批准' }).click();
  await page.getByText(`已批准：${a.name}`).waitFor();
  assert.equal((await apiGet(server.base, token, `/institutions/${a.id}`)).status, 'active');
  assert.equal(await page.getByRole('row', { name: new RegExp(a.name) }).count(), 0, 'it left the list');
  await page.getByRole('row', { name: new RegExp(b.name) }).getByRole('button', { name: '驳回' }).click();
  await page.getByLabel('驳回理由').fill('执业许可证号与登记不符');
  await page.getByRole('button', { name: '确认驳回' }).click();
  await page.getByText(`已驳回：${b.name}`).waitFor();
  const rejected = await apiGet(server.base, token, `/institutions/${b.id}`);
  assert.equal(rejected.status, 'rejected');
  assert.equal(rejected.status_reason, '执业许可证号与登记不符');
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the bureau acknowledges an alert and resolves it with a note', async () => {
  let open = [];
  for (let i = 0; i < 60 && !open.length; i++) {
    open = await all('/alerts?status=open');
    if (!open.length) await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(open.length, 'the demo raises alerts');
  const alert = open[0];
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'bureau');
  await page.getByRole('link', { name: '告警' }).click();
  await page.getByRole('heading', { name: '告警' }).waitFor();
  const row = page.locator(`[data-alert="${alert.id}"]`);
  await row.getByRole('button', { name: '确认' }).click();
  await page.getByText('已确认告警').waitFor();
  assert.equal((await all('/alerts?status=acknowledged')).find((x) => x.id === alert.id)?.status, 'acknowledged');
  // Still listed (unresolved), now without the acknowledge button.
  await page.locator(`[data-alert="${alert.id}"]`).waitFor();
  assert.equal(await row.getByRole('button', { name: '确认' }).count(), 0);
  await row.getByLabel('处理说明').fill('已通知机构负责人，当日清运');
  await row.getByRole('button', { name: '解决' }).click();
  await page.getByText('已解决告警').waitFor();
  const resolved = (await all('/alerts?status=resolved')).find((x) => x.id === alert.id);
  assert.equal(resolved?.note, '已通知机构负责人，当日清运');
  assert.equal(await page.locator(`[data-alert="${alert.id}"]`).count(), 0, 'a resolved alert leaves the unresolved list');
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the bureau records a spot check, and the dashboard\'s pass rate follows the report', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'bureau');
  const inst = (await all('/institutions?status=active'))[0];
  await page.getByRole('link', { name: '抽查' }).click();
  await page.getByRole('heading', { name: '规范化管理抽查' }).waitFor();
  await page.getByLabel('被检查机构').selectOption(inst.id);
  // Yesterday at 10:00, so that it falls inside the ended period the dashboard compares.
  await page.getByLabel('检查时间').fill(`${TO}T10:00`);
  for (const item of ['包装符合 HJ 421', '标签完整', '交接登记完整', '贮存点警示标识']) await page.getByLabel(item).check();
  await page.getByText('结果：不合格（需要整改期限）').waitFor();
  await page.getByLabel('整改期限').fill(`${day(7)}T17:00`);
  await page.getByLabel('备注').fill('暂存间有超过 48 小时的包装袋');
  await page.getByRole('button', { name: '保存抽查' }).click();
  await page.getByText('已记录抽查（不合格）').waitFor();
  const list = await apiGet(server.base, token, `/inspections?from=${TO}&to=${TO}`);
  const mine = list.items.find((i) => i.institution_id === inst.id);
  assert.ok(mine, 'the API holds the spot check');
  assert.equal(mine.passed, false);
  assert.deepEqual(mine.checklist, { packaging: true, labels: true, storage_time: false, register: true, signage: true });
  assert.equal(mine.notes, '暂存间有超过 48 小时的包装袋');
  assert.equal(new Date(mine.inspected_at).toISOString(), new Date(`${TO}T10:00:00+08:00`).toISOString());
  // A passing one: every item ticked, no deadline needed.
  await page.getByLabel('被检查机构').selectOption(inst.id);
  await page.getByLabel('检查时间').fill(`${TO}T11:00`);
  for (const item of ['包装符合 HJ 421', '标签完整', '无超期贮存', '交接登记完整', '贮存点警示标识']) await page.getByLabel(item).check();
  await page.getByRole('button', { name: '保存抽查' }).click();
  await page.getByText('已记录抽查（合格）').waitFor();
  // The dashboard for the ended period now has spot checks, and equals the report.
  await page.getByRole('link', { name: '概况' }).click();
  const r = await compareDashboard(page);
  assert.equal(r.total.inspections, 2);
  assert.equal((await figure(page, 'inspection_pass_rate')).value, pct(0.5));
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('every bureau page fits 360 px and 1280 px without the page scrolling sideways', async () => {
  const inst = (await all('/institutions?status=active'))[0];
  for (const width of [360, 1280]) {
    const page = await openPage(browser, server.base, { viewport: { width, height: 800 } });
    await signIn(page, server.base, 'bureau');
    for (const path of ['/bureau', '/bureau/map', '/bureau/signups', '/bureau/alerts?status=any', '/bureau/inspections',
      '/bureau/list?figure=harmless_disposal_rate', `/bureau/institutions/${inst.id}`]) {
      await page.goto(`${server.base}/#${path}`);
      await page.locator('.page h1').waitFor();
      await noOverflow(page, `${path} at ${width} px`);
    }
    assert.deepEqual(page.offsite, []);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('another role opening a bureau page is refused, and so is its API call', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'clinic');
  for (const path of ['/bureau/map', '/bureau/alerts', '/bureau/inspections']) {
    await page.goto(`${server.base}/#${path}`);
    await page.getByRole('heading', { name: '无权访问' }).waitFor();
  }
  const status = await page.evaluate(async () => (await fetch('/api/v1/reports/coverage/cells', { headers: { 'X-Yifei-Console': '1' } })).status);
  assert.equal(status, 403);
  await page.context().close();
});
