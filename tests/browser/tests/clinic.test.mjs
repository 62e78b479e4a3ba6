// Clinic staff and hub keepers: create containers and print their label sheet (A4, labels at
// their real 100 x 70 mm), seal one, see its deadline as the API counts it, request a pickup;
// the hub keeper nests village boxes into a big box. On SQLite or PostgreSQL
// (YIFEI_BROWSER_DB), with nothing fetched off the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launch, openPage, signIn, apiToken, apiGet, screenshot } from '../lib/harness.mjs';

let server; let browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

const MM = 96 / 25.4; // CSS pixels per millimetre

async function apiPost(base, token, path, body) {
  const r = await fetch(`${base}/api/v1${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

async function noOverflow(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what}: the page is ${overflow} px wider than the screen`);
}

test('a clinic labels containers and prints an A4 sheet of 100 x 70 mm labels', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'clinic');
  await page.goto(`${server.base}/#/clinic/labels`);
  await page.getByRole('heading', { name: '新建容器并打印标签' }).waitFor();

  // The API's packaging rule shows next to the field it names.
  await page.getByLabel('废物类别').selectOption('sharps');
  await page.getByLabel('包装方式').selectOption('bag');
  await page.getByRole('button', { name: '创建并生成标签' }).click();
  const packagingField = page.locator('label.field', { has: page.getByLabel('包装方式') });
  await packagingField.locator('.field-error').getByText('损伤性废物只能装入利器盒').waitFor();
  assert.equal(await page.getByLabel('包装方式').getAttribute('aria-invalid'), 'true');

  const token = await apiToken(server.base, 'clinic');
  const before = (await apiGet(server.base, token, '/containers?state=labelled&limit=200')).items.length;
  await page.getByLabel('废物类别').selectOption('infectious');
  await page.getByLabel('数量（张）').fill('10');
  await page.getByRole('button', { name: '创建并生成标签' }).click();
  await page.getByText('已创建 10 个容器').waitFor();
  await page.locator('#label-sheet[data-ready="10"]').waitFor();
  const after_ = (await apiGet(server.base, token, '/containers?state=labelled&limit=200')).items.length;
  assert.equal(after_ - before, 10, 'the API holds the ten new containers');
  const codes = await page.locator('#label-sheet img.label').evaluateAll((els) => els.map((e) => e.dataset.code));
  assert.equal(new Set(codes).size, 10);
  // Every label is the server's SVG, shown from a blob: URL.
  const srcs = await page.locator('#label-sheet img.label').evaluateAll((els) => els.map((e) => [e.src, e.naturalWidth > 0]));
  assert.ok(srcs.every(([src, loaded]) => src.startsWith('blob:') && loaded), JSON.stringify(srcs));
  await screenshot(page, 'clinic-labels');

  // In print: two A4 pages (8 + 2 labels), each label 100 x 70 mm, nothing else printed.
  await page.emulateMedia({ media: 'print' });
  const boxes = await page.locator('#label-sheet img.label').evaluateAll((els) => els.map((e) => { const r = e.getBoundingClientRect(); return [r.width, r.height, r.left]; }));
  for (const [w, hgt] of boxes) {
    assert.ok(Math.abs(w / MM - 100) < 0.1 && Math.abs(hgt / MM - 70) < 0.1, `label is ${(w / MM).toFixed(2)} x ${(hgt / MM).toFixed(2)} mm`);
  }
  assert.equal(await page.locator('h1').isVisible(), false, 'the form is not printed');
  const dir = mkdtempSync(join(tmpdir(), 'yifei-labels-'));
  try {
    const pdf = join(dir, 'labels.pdf');
    writeFileSync(pdf, await page.pdf({ format: 'A4', preferCSSPageSize: true, printBackground: true }));
    const info = execFileSync('pdfinfo', [pdf]).toString();
    assert.match(info, /Pages:\s+2\b/, info);
    const size = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(info);
    assert.ok(size && Math.abs(size[1] - 595.28) < 1 && Math.abs(size[2] - 841.89) < 1, `A4 page: ${info}`);
    // The first page at 254 dpi (10 px per mm): the eight labels' dashed outlines fall on the
    // 100 x 70 mm grid inside the 5 mm side and 8.5 mm top margins.
    execFileSync('pdftoppm', ['-png', '-r', '254', '-f', '1', '-l', '1', '-singlefile', pdf, join(dir, 'page')]);
    if (process.env.YIFEI_LABEL_PDF) {
      execFileSync('cp', [pdf, join(dir, 'page.png'), process.env.YIFEI_LABEL_PDF]);
    }
    const cols = await page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width; c.height = img.height;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const { data } = g.getImageData(0, 0, c.width, c.height);
      const dark = (x, y) => { const i = (y * c.width + x) * 4; return data[i] + data[i + 1] + data[i + 2] < 600; };
      // Leftmost and rightmost inked column, topmost and lowest inked row.
      let minX = c.width; let maxX = 0; let minY = c.height; let maxY = 0;
      for (let y = 0; y < c.height; y += 2) for (let x = 0; x < c.width; x += 2) {
        if (dark(x, y)) { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); }
      }
      return { w: c.width, h: c.height, minX, maxX, minY, maxY };
    }, `data:image/png;base64,${execFileSync('base64', ['-w0', join(dir, 'page.png')]).toString()}`);
    assert.ok(Math.abs(cols.w - 2100) < 3 && Math.abs(cols.h - 2970) < 3, JSON.stringify(cols));
    // The inked area spans two labels across (200 mm) and four down (280 mm).
    assert.ok(Math.abs((cols.maxX - cols.minX) / 10 - 200) < 1.5, `sheet width ${(cols.maxX - cols.minX) / 10} mm`);
    assert.ok(Math.abs((cols.maxY - cols.minY) / 10 - 280) < 1.5, `sheet height ${(cols.maxY - cols.minY) / 10} mm`);
    assert.ok(Math.abs(cols.minX / 10 - 5) < 1 && Math.abs(cols.minY / 10 - 8.5) < 1, `margins ${cols.minX / 10} / ${cols.minY / 10} mm`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await page.emulateMedia({ media: 'screen' });
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a clinic seals a container, sees its deadline and requests a pickup', async () => {
  const token = await apiToken(server.base, 'clinic');
  const made = await apiPost(server.base, token, '/containers', { category: 'infectious', packaging: 'bag' });
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'clinic');
  await page.goto(`${server.base}/#/clinic`);
  await page.getByRole('heading', { name: '待收运的医疗废物' }).waitFor();
  // A mistyped code is refused next to the code field.
  const bad = made.code.slice(0, 11) + (made.code[11] === 'A' ? 'B' : 'A');
  await page.getByLabel('容器编码（扫码或输入）').fill(bad);
  await page.getByLabel('重量（kg）', { exact: true }).fill('1.8');
  await page.getByRole('button', { name: '封口', exact: true }).click();
  await page.getByText('编码有误').waitFor();
  await page.getByLabel('容器编码（扫码或输入）').fill(made.code);
  await page.getByRole('button', { name: '封口', exact: true }).click();
  await page.getByText(/已封口：/).waitFor();
  const clocks = await apiGet(server.base, token, '/storage-clocks');
  const mine = clocks.items.find((c) => c.code === made.code);
  assert.ok(mine, 'the API counts its storage clock');
  const row = page.locator('tr', { hasText: made.code.replace(/(.{4})(?=.)/g, '$1-') });
  await row.waitFor();
  const shown = await page.evaluate((iso) => new Date(iso).toLocaleString('zh-CN', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }), mine.deadline);
  assert.ok((await row.textContent()).includes(shown), `the deadline ${shown} is shown`);
  await page.getByText(/期限 = 封口时间 \+ 48 小时/).waitFor();

  // Request a pickup: an invalid weight is refused next to its field, then it goes through.
  await page.getByLabel('预计重量（kg）').fill('9000');
  await page.getByRole('button', { name: '提交申请' }).click();
  await page.locator('label.field', { has: page.getByLabel('预计重量（kg）') }).locator('.field-error').waitFor();
  await page.getByLabel('预计重量（kg）').fill('6.5');
  await page.getByLabel('给调度员的备注（可选）').fill('门诊后门');
  await page.getByRole('button', { name: '提交申请' }).click();
  await page.getByText('已提交收运申请').waitFor();
  const requests = await apiGet(server.base, token, '/pickup-requests');
  assert.ok(requests.some((r) => r.est_weight_kg === 6.5 && r.note === '门诊后门' && r.status === 'open'), JSON.stringify(requests));
  // The dispatcher sees it too.
  const dispatch = await apiToken(server.base, 'dispatch');
  assert.ok((await apiGet(server.base, dispatch, '/pickup-requests')).some((r) => r.note === '门诊后门'));
  await page.locator('td', { hasText: '门诊后门' }).waitFor();
  await screenshot(page, 'clinic-waiting');
  // In English, every string of the page has its translation (a missing key shows itself).
  await page.getByRole('button', { name: 'English' }).click();
  await page.locator('main h1').filter({ hasText: /[A-Za-z]/ }).waitFor();
  const text = await page.locator('main').innerText();
  assert.doesNotMatch(text, /\b(clinic|labels|hub|plant|w|col|req|mf|m|r)\.[a-z_.]+\b/, text);
  assert.doesNotMatch(text, /(待收运|申请收运|处置厂大门|今日入厂|封口称重)/, 'no Chinese page text left');
  await page.getByRole('button', { name: '中文' }).click();

  await page.goto(`${server.base}/#/clinic/history`);
  await page.getByRole('heading', { name: '历史记录' }).waitFor();
  await page.getByRole('heading', { name: '转移联单' }).waitFor();
  await page.locator('tr', { hasText: made.code.replace(/(.{4})(?=.)/g, '$1-') }).first().waitFor();
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the history lists the transfer manifests of the institution', async () => {
  // A container sealed here, an urgent insertion of the clinic into a run of today's plan,
  // and the run's driver collecting it: the pickup opens the clinic's manifest.
  const clinic = await apiToken(server.base, 'clinic');
  const dispatch = await apiToken(server.base, 'dispatch');
  const admin = await apiToken(server.base, 'admin');
  const me = await apiGet(server.base, clinic, '/me');
  const c = await apiPost(server.base, clinic, '/containers', { category: 'infectious', packaging: 'bag' });
  const at = new Date(Date.now() - 60000).toISOString();
  await apiPost(server.base, clinic, '/scans', { events: [{ event_id: crypto.randomUUID(), code: c.code, action: 'seal', occurred_at: at, weight_kg: 2.2 }] });
  const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
  const plan = await apiPost(server.base, dispatch, '/plans', { date: today });
  // The clinic is on a run if it was due (its pickup request makes it so); else it is
  // inserted into one as an urgent stop.
  let run = plan.runs.find((r) => r.driver_id && r.stops.some((s) => s.institution_id === me.org_id));
  if (!run) {
    run = plan.runs.find((r) => r.driver_id);
    assert.ok(run, `a run with a driver: ${JSON.stringify(plan).slice(0, 400)}`);
    await apiPost(server.base, dispatch, `/runs/${run.id}/insert`, { institution_id: me.org_id });
  }
  const users = await apiGet(server.base, admin, '/users?limit=200');
  const driver = users.items.find((u) => u.id === run.driver_id).login;
  const driverToken = await apiToken(server.base, driver);
  const res = await apiPost(server.base, driverToken, '/scans', { events: [{ event_id: crypto.randomUUID(), code: c.code, action: 'collect', occurred_at: new Date().toISOString(), weight_kg: 2.3, run_id: run.id }] });
  assert.equal(res.results[0].status, 'accepted', JSON.stringify(res));
  const manifests = (await apiGet(server.base, clinic, `/runs/${run.id}/manifests`)).items;
  assert.equal(manifests.length, 1);

  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'clinic');
  await page.goto(`${server.base}/#/clinic/history`);
  await page.getByRole('heading', { name: '转移联单' }).waitFor();
  const row = page.locator('tr', { hasText: manifests[0].number });
  await row.waitFor();
  assert.match(await row.textContent(), /2\.3 kg/);
  const download = page.waitForEvent('download');
  await row.getByRole('button', { name: '下载 CSV' }).click();
  assert.equal((await download).suggestedFilename(), `${manifests[0].number}.csv`);
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a hub keeper takes village boxes in and nests them into a big box', async () => {
  const room = await apiToken(server.base, 'room');
  const boxes = [];
  for (let i = 0; i < 2; i++) {
    const c = await apiPost(server.base, room, '/containers', { category: 'infectious', packaging: 'bag' });
    const res = await apiPost(server.base, room, '/scans', { events: [{ event_id: crypto.randomUUID(), code: c.code, action: 'seal', occurred_at: new Date().toISOString(), weight_kg: 1.5 }] });
    assert.equal(res.results[0].status, 'accepted');
    boxes.push(c.code);
  }
  const unsealed = (await apiPost(server.base, room, '/containers', { category: 'infectious', packaging: 'bag' })).code;
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'hub');
  await page.goto(`${server.base}/#/hub`);
  await page.getByRole('heading', { name: '收集点：小箱进大箱' }).waitFor();
  const inField = page.getByLabel('小箱编码（扫码后回车）');
  await inField.fill(boxes[0]);
  await inField.press('Enter');
  await page.getByText(/已接收：/).waitFor();
  await page.getByRole('button', { name: '新建大箱（周转箱）' }).click();
  await page.getByText(/已新建大箱/).waitFor();
  const big = await page.getByLabel('大箱').inputValue();
  const small = page.getByLabel('小箱编码（逐个扫码后回车）');
  for (const code of [...boxes, unsealed]) { await small.fill(code); await small.press('Enter'); }
  await page.getByRole('button', { name: '装箱' }).click();
  // The unsealed box is refused next to its code; nothing is nested.
  await page.locator('.hub-list li', { hasText: unsealed.replace(/(.{4})(?=.)/g, '$1-') }).locator('.field-error').waitFor();
  const hub = await apiToken(server.base, 'hub');
  assert.deepEqual((await apiGet(server.base, hub, `/containers/${big}`)).children, []);
  await page.locator('.hub-list li', { hasText: unsealed.replace(/(.{4})(?=.)/g, '$1-') }).getByRole('button', { name: '移除' }).click();
  await page.getByRole('button', { name: '装箱' }).click();
  await page.getByText(/现装有 2 个小箱/).waitFor();
  const box = await apiGet(server.base, hub, `/containers/${big}`);
  assert.deepEqual([...box.children].sort(), [...boxes].sort());
  const first = await apiGet(server.base, hub, `/containers/${boxes[0]}`);
  assert.equal(first.parent_code, big);
  assert.equal(first.events.filter((e) => e.action === 'hub_in').length, 1, 'the hub_in scan is stored once');
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a clinic opening the plant gate is refused, in the page and by the API', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'clinic');
  await page.goto(`${server.base}/#/plant`);
  await page.getByRole('heading', { name: '无权访问' }).waitFor();
  await page.goto(`${server.base}/#/hub`);
  await page.getByRole('heading', { name: '无权访问' }).waitFor();
  const status = await page.evaluate(async () => (await fetch('/api/v1/plant/intake', { headers: { 'X-Yifei-Console': '1' } })).status);
  assert.equal(status, 403);
  await page.context().close();
});

test('the clinic and hub pages fit 360 px and 1280 px without overflow', async () => {
  for (const [login, paths] of [['clinic', ['/clinic', '/clinic/labels', '/clinic/history']], ['hub', ['/clinic', '/hub']]]) {
    for (const width of [360, 1280]) {
      const page = await openPage(browser, server.base, { viewport: { width, height: 800 } });
      await signIn(page, server.base, login);
      for (const p of paths) {
        await page.goto(`${server.base}/#${p}`);
        await page.locator('main h1').waitFor();
        await page.waitForFunction(() => !document.querySelector('main .loading'));
        await noOverflow(page, `${login} ${p} at ${width} px`);
      }
      assert.deepEqual(page.offsite, []);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    }
  }
});
