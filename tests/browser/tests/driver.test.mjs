// The driver's day on a 360 px phone: the run is loaded, the phone goes offline, three
// containers are scanned by typed codes, the page is reloaded offline (the page and the queue
// survive), the network returns, the queue uploads, and the server holds each event once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, signIn, apiToken, apiGet, screenshot, PASSWORD } from '../lib/harness.mjs';
import { parseCode, uuidv7, backoff, deviceTime, displayCode } from '../../../api/console/assets/js/pages/driver-queue.js';

const PHONE = { width: 360, height: 740 };
let server; let browser;
let day; let driver; let run;

/** A local day of the deployment (Asia/Shanghai), `offset` days from today. */
function shanghaiDay(offset) {
  const d = new Date(Date.now() + offset * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

async function apiPost(token, path, body) {
  const r = await fetch(`${server.base}/api/v1${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

before(async () => {
  server = await startServer();
  browser = await launch();
  // The dispatcher plans tomorrow (the demo sealed waste over the last two days), as the
  // README walkthrough does; take a driver the plan gave a run with containers.
  day = shanghaiDay(1);
  const dispatch = await apiToken(server.base, 'dispatch');
  await apiPost(dispatch, '/plans', { date: day });
  for (const login of ['driver1', 'driver2', 'driver3', 'driver4', 'driver5', 'driver6']) {
    const token = await apiToken(server.base, login);
    const runs = (await apiGet(server.base, token, `/me/runs?date=${day}`)).items;
    const r = runs.find((x) => x.stops.filter((s) => s.containers.length).length >= 3);
    if (r) { driver = login; run = r; break; }
  }
  assert.ok(run, 'the plan gave some driver a run with three stops holding containers');
});
after(async () => { await browser?.close(); await server?.stop(); });

/** The stop `seq` of the run, opened (its scan form visible). */
async function openStop(page, seq) {
  const stop = page.locator(`details.stop[data-seq="${seq}"]`);
  if (!(await stop.evaluate((d) => d.open))) await stop.locator(":scope > summary").click();
  return stop;
}

async function pending(page) {
  return Number(await page.locator('#driver-pending').getAttribute('data-count'));
}

async function waitPending(page, n) {
  await page.waitForFunction((want) => document.querySelector('#driver-pending')?.dataset.count === String(want), n, { timeout: 60000 });
}

/** The scan records the page keeps in IndexedDB. */
async function stored(page) {
  return page.evaluate(() => new Promise((ok, fail) => {
    const r = indexedDB.open('yifei-driver');
    r.onerror = () => fail(r.error);
    r.onsuccess = () => {
      const all = r.result.transaction('scans').objectStore('scans').getAll();
      all.onsuccess = () => { ok(all.result); r.result.close(); };
    };
  }));
}

async function scan(page, seq, typed, weight) {
  const stop = await openStop(page, seq);
  await stop.getByLabel(/容器编码/).fill(typed);
  await stop.getByLabel(/重量/).fill(weight);
  await stop.getByLabel(/重量/).press('Enter');
  await stop.locator('.scan-msg').getByText(/已记录/).waitFor();
}

function noOverflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

test('offline scans survive a reload and upload once when the network returns', async () => {
  // Three containers of three stops, typed as a person or a scanner would: with dashes in
  // lower case, as printed, and as the label's QR code reads (YF1:...).
  const stops = run.stops.filter((s) => s.containers.length).slice(0, 3);
  const codes = stops.map((s) => s.containers[0]);
  const typed = [codes[0].match(/.{4}/g).join('-').toLowerCase(), codes[1].match(/.{4}/g).join('-'), `YF1:${codes[2]}`];
  const first = stops[0].location;
  const page = await openPage(browser, server.base, {
    viewport: PHONE,
    context: { permissions: ['geolocation'], geolocation: { latitude: first.lat, longitude: first.lng } },
  });
  const context = page.context();
  await signIn(page, server.base, driver);
  await page.getByRole('link', { name: '明天' }).click();
  await page.locator(`section.run[data-run="${run.id}"]`).waitFor();
  // The stop's address, its phone as a tel: link, the map as a geo: URI (no tiles).
  const s0 = await openStop(page, stops[0].seq);
  await s0.getByText(stops[0].address).waitFor();
  assert.match(await s0.locator('a.tel').getAttribute('href'), /^tel:[0-9+]+$/);
  assert.match(await s0.locator('a.map-link').getAttribute('href'), /^geo:-?\d+\.\d+,-?\d+\.\d+/);

  // The service worker has kept every file of the page after this one online visit.
  await page.waitForFunction(async () => {
    const c = await caches.open('yifei-shell-v2');
    const keys = (await c.keys()).map((r) => new URL(r.url).pathname);
    return ['/', '/assets/js/app.js', '/assets/js/pages/driver.js', '/assets/js/pages/driver-queue.js', '/assets/css/driver.css'].every((k) => keys.includes(k))
      && navigator.serviceWorker.controller !== null;
  }, null, { timeout: 20000 });

  await context.setOffline(true);
  assert.equal(await page.evaluate(() => fetch('/api/v1/me').then(() => 'answered', () => 'failed')), 'failed');
  for (let i = 0; i < 3; i++) await scan(page, stops[i].seq, typed[i], ['2.4', '1,5', '0.8'][i]);
  await waitPending(page, 3);
  await page.locator('.driver-sync').getByText(/离线/).waitFor();
  // The truck drives on: the run's GPS track is kept on the device too.
  await context.setGeolocation({ latitude: stops[1].location.lat, longitude: stops[1].location.lng });
  await page.waitForFunction(() => new Promise((ok) => {
    const r = indexedDB.open('yifei-driver');
    r.onsuccess = () => { const c = r.result.transaction('fixes').objectStore('fixes').count(); c.onsuccess = () => { ok(c.result >= 2); r.result.close(); }; };
  }), null, { timeout: 20000 });
  // A typo is caught on the phone, before anything is queued.
  const bad = codes[0].slice(0, 10) + (codes[0][10] === 'A' ? 'B' : 'A') + codes[0][11];
  const s1 = await openStop(page, stops[0].seq);
  await s1.getByLabel(/容器编码/).fill(bad);
  await s1.getByLabel(/重量/).fill('1');
  await s1.getByRole('button', { name: '记录' }).click();
  await s1.locator('.scan-msg').getByText(/编码有误/).waitFor();
  assert.equal(await pending(page), 3);
  assert.ok(await noOverflow(page) <= 0, 'no horizontal overflow at 360 px');
  // The picture: the first stop open with its scans and the typo refused, the others closed.
  await page.evaluate((seq) => { document.querySelectorAll('details.stop').forEach((d) => { d.open = d.dataset.seq === String(seq); }); window.scrollTo(0, 0); }, stops[0].seq);
  await screenshot(page, 'driver-offline');

  // Reload, still offline: the page comes from the service worker, the run and the queue
  // from IndexedDB.
  const res = await page.reload();
  assert.ok(res.fromServiceWorker(), 'the page came from the service worker');
  await page.locator(`section.run[data-run="${run.id}"]`).waitFor();
  await page.getByText(/离线数据/).waitFor();
  await waitPending(page, 3);
  const queued = (await stored(page)).filter((s) => s.status === 'pending');
  assert.deepEqual(queued.map((s) => s.code).sort(), [...codes].sort());
  for (const s of queued) {
    assert.match(s.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v7 made on the device');
    assert.equal(s.run_id, run.id);
    assert.match(s.occurred_at, /[+-]\d\d:\d\d$/, 'device time with its offset');
  }
  assert.equal(queued.find((s) => s.code === codes[1]).weight_kg, 1.5, 'a decimal comma reads as a point');

  // Back online: the queue uploads by itself, the track too.
  const tracks = [];
  page.on('request', (r) => { if (r.url().endsWith(`/runs/${run.id}/positions`)) tracks.push(r.postDataJSON().positions); });
  await context.setOffline(false);
  await waitPending(page, 0);
  await page.waitForFunction(() => new Promise((ok) => {
    const r = indexedDB.open('yifei-driver');
    r.onsuccess = () => { const c = r.result.transaction('fixes').objectStore('fixes').count(); c.onsuccess = () => { ok(c.result === 0); r.result.close(); }; };
  }), null, { timeout: 20000 });
  const sentFixes = tracks.flat();
  assert.ok(sentFixes.length >= 2, `the track was uploaded (${sentFixes.length} fixes)`);
  const after = await stored(page);
  assert.ok(after.every((s) => s.status === 'accepted'), JSON.stringify(after.map((s) => [s.code, s.status, s.reason])));

  // The server holds each event exactly once, in the container's history and its hash chain.
  const dispatchTok = await apiToken(server.base, 'dispatch');
  const admin = await apiToken(server.base, 'admin');
  const check = async () => {
    for (const s of after) {
      const c = await apiGet(server.base, dispatchTok, `/containers/${s.code}`);
      assert.equal(c.state, 'collected');
      assert.equal(c.events.filter((e) => e.action === 'collect').length, 1, `one collect of ${s.code}`);
      const audit = await apiGet(server.base, admin, `/containers/${s.code}/audit`);
      assert.equal(audit.valid, true);
      assert.equal(audit.events.filter((e) => e.event_id === s.event_id).length, 1);
    }
  };
  await check();
  // A replay of the same events (an answer lost on the way) changes nothing.
  const driverTok = await apiToken(server.base, driver);
  const replay = await apiPost(driverTok, '/scans', { events: after.map((s) => ({
    event_id: s.event_id, code: s.code, action: 'collect', occurred_at: s.occurred_at, weight_kg: s.weight_kg, run_id: s.run_id, location: s.location || undefined,
  })) });
  assert.deepEqual(replay.results.map((r) => r.status), ['duplicate', 'duplicate', 'duplicate']);
  await check();
  // The track is stored: sent again, every fix is a duplicate.
  const again = await apiPost(driverTok, `/runs/${run.id}/positions`, { positions: sentFixes });
  assert.deepEqual([again.accepted, again.duplicates, again.rejected.length], [0, sentFixes.length, 0]);
  // The stops are completed on the server, and the page says so after its refresh.
  const fresh = await apiGet(server.base, driverTok, `/runs/${run.id}`);
  for (const s of stops) assert.equal(fresh.stops.find((x) => x.institution_id === s.institution_id).status, 'completed');
  await page.reload();
  await page.locator(`details.stop[data-seq="${stops[0].seq}"] > summary`).getByText('已收运').waitFor();
  assert.ok(await noOverflow(page) <= 0);
  await screenshot(page, 'driver-run');
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await context.close();
});

/** A well-formed code (right check character) that no container has. */
function unknownCode() {
  const A = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const payload = 'ZZZZZZZZZZZ';
  let factor = 2; let sum = 0;
  for (let i = payload.length - 1; i >= 0; i--) {
    const add = factor * A.indexOf(payload[i]);
    factor = factor === 2 ? 1 : 2;
    sum += Math.floor(add / 32) + (add % 32);
  }
  return payload + A[(32 - (sum % 32)) % 32];
}

test('a refused scan is shown to the driver, not re-sent, and removed only when read', async () => {
  const page = await openPage(browser, server.base, { viewport: PHONE });
  await signIn(page, server.base, driver);
  await page.getByRole('link', { name: '明天' }).click();
  await page.locator(`section.run[data-run="${run.id}"]`).waitFor();
  const stop = run.stops.find((s) => s.status === 'pending' && !s.containers.length) || run.stops.at(-1);
  await scan(page, stop.seq, unknownCode(), '1.1');
  const refused = page.locator('.driver-refused');
  await refused.getByText(/没有此容器/).waitFor();
  await waitPending(page, 0);
  const rec = (await stored(page)).find((s) => s.code === unknownCode());
  assert.equal(rec.status, 'rejected');
  assert.equal(rec.reason, 'unknown_code');
  // Not sent again: a further round (the upload button, the online event) leaves it alone.
  let posts = 0;
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/scans')) posts++; });
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await page.waitForTimeout(500);
  assert.equal(posts, 0);
  await refused.getByRole('button', { name: /知道了/ }).click();
  await refused.waitFor({ state: 'hidden' });
  assert.equal((await stored(page)).filter((s) => s.code === unknownCode()).length, 0);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a skip made offline reaches the server with its reason', async () => {
  const page = await openPage(browser, server.base, { viewport: PHONE });
  await signIn(page, server.base, driver);
  await page.getByRole('link', { name: '明天' }).click();
  await page.locator(`section.run[data-run="${run.id}"]`).waitFor();
  const token = await apiToken(server.base, driver);
  const now = await apiGet(server.base, token, `/runs/${run.id}`);
  const target = now.stops.filter((s) => s.status === 'pending').at(-1);
  await page.context().setOffline(true);
  const stop = await openStop(page, target.seq);
  await stop.locator('details.skip-box > summary').click();
  await stop.getByLabel(/^原因/).selectOption({ label: '道路不通' });
  await stop.getByRole('button', { name: '跳过此站' }).click();
  await stop.getByText('已记录跳过').waitFor();
  await waitPending(page, 1);
  // Meanwhile the dispatcher inserts an urgent stop, and the stops are renumbered: the queued
  // skip must still land on the institution the driver skipped, not on whatever is now at its
  // old number.
  const dispatch = await apiToken(server.base, 'dispatch');
  const everyRun = (await apiGet(server.base, dispatch, `/runs?date=${day}`)).items;
  const planned = new Set(everyRun.flatMap((r) => r.stops.map((x) => x.institution_id)));
  // The unplanned institution nearest the run's first stop: the cheapest insertion is near
  // the start, before the skipped (last pending) stop.
  const near = run.stops[0].location;
  const d2 = (l) => (l.lat - near.lat) ** 2 + (l.lng - near.lng) ** 2;
  const urgent = (await apiGet(server.base, dispatch, '/institutions?status=active&limit=200')).items
    .filter((i) => !planned.has(i.id) && i.location).sort((a, b) => d2(a.location) - d2(b.location))[0];
  const inserted = await apiPost(dispatch, `/runs/${run.id}/insert`, { institution_id: urgent.id });
  const wasThere = inserted.stops.find((x) => x.seq === target.seq);
  assert.notEqual(wasThere.institution_id, target.institution_id, 'the insertion renumbered the skipped stop');
  await page.context().setOffline(false);
  await waitPending(page, 0);
  const after = await apiGet(server.base, token, `/runs/${run.id}`);
  const s = after.stops.find((x) => x.institution_id === target.institution_id);
  assert.equal(s.status, 'skipped');
  assert.equal(s.skip_reason, '道路不通');
  assert.equal(after.stops.find((x) => x.institution_id === wasThere.institution_id).status, wasThere.status, 'the stop now at the old number is untouched');
  // The page re-reads the run after the upload and shows the urgent stop.
  await page.locator('details.stop').filter({ hasText: urgent.name }).locator('.badge', { hasText: '紧急' }).waitFor({ state: 'attached' });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('back after hours: the refresh cookie uploads the queue; with the session gone it waits for sign-in', async () => {
  const page = await openPage(browser, server.base, { viewport: PHONE });
  const context = page.context();
  await signIn(page, server.base, driver);
  await page.getByRole('link', { name: '明天' }).click();
  await page.locator(`section.run[data-run="${run.id}"]`).waitFor();
  const token = await apiToken(server.base, driver);
  const now = await apiGet(server.base, token, `/runs/${run.id}`);
  const left = now.stops.flatMap((s) => s.containers.map((c) => ({ seq: s.seq, code: c })));
  assert.ok(left.length >= 2, 'two containers still to collect');

  // The access cookie has expired (gone), the refresh cookie is good: the upload renews.
  await context.setOffline(true);
  await scan(page, left[0].seq, left[0].code, '1.0');
  await context.clearCookies({ name: 'yifei_at' });
  await context.setOffline(false);
  await waitPending(page, 0);

  // Both cookies gone (the session ended): the queue stays, the sign-in form shows, and the
  // upload follows the sign-in.
  await context.setOffline(true);
  await scan(page, left[1].seq, left[1].code, '1.0');
  await context.clearCookies();
  await context.setOffline(false);
  await page.getByRole('heading', { name: '登录医废' }).waitFor();
  assert.equal((await stored(page)).filter((s) => s.status === 'pending').length, 1);
  await page.getByLabel(/用户名/).fill(driver);
  await page.getByLabel(/密码/).fill(PASSWORD);
  await page.getByRole('button', { name: /^登录$/ }).click();
  await waitPending(page, 0);
  const c = await apiGet(server.base, token, `/containers/${left[1].code}`);
  assert.equal(c.events.filter((e) => e.action === 'collect').length, 1);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the camera path: a QR code read by BarcodeDetector records the scan', async () => {
  // Desktop Chromium on Linux has no BarcodeDetector: the page offers the camera only where it
  // exists, so a stand-in detector (and a canvas for a camera) plays the phone's part here.
  const page = await openPage(browser, server.base, { viewport: { width: 1280, height: 900 } });
  await page.goto(`${server.base}/`);
  await signIn(page, server.base, driver);
  await page.getByRole('link', { name: '明天' }).click();
  await page.locator(`section.run[data-run="${run.id}"]`).waitFor();
  assert.equal(await page.getByRole('button', { name: '相机扫码' }).count(), 0, 'no camera button without BarcodeDetector');
  assert.ok(await noOverflow(page) <= 0, 'no horizontal overflow at desktop width');

  await page.context().addInitScript(() => {
    window.BarcodeDetector = class {
      static async getSupportedFormats() { return ['qr_code']; }
      async detect() { return window.__qr ? [{ rawValue: window.__qr, format: 'qr_code' }] : []; }
    };
    navigator.mediaDevices.getUserMedia = async () => {
      const c = document.createElement('canvas');
      c.width = 64; c.height = 48;
      const g = c.getContext('2d');
      setInterval(() => { g.fillStyle = `hsl(${Date.now() % 360} 50% 50%)`; g.fillRect(0, 0, 64, 48); }, 50);
      return c.captureStream(10);
    };
  });
  await page.reload();
  await page.locator(`section.run[data-run="${run.id}"]`).waitFor();
  const token = await apiToken(server.base, driver);
  const now = await apiGet(server.base, token, `/runs/${run.id}`);
  let target = null;
  for (const st of now.stops) {
    for (const c of st.containers) {
      if (!target && (await apiGet(server.base, token, `/containers/${c}`)).state !== 'collected') target = { seq: st.seq, code: c };
    }
  }
  assert.ok(target, 'a container still to collect');
  const stop = await openStop(page, target.seq);
  await stop.getByLabel(/重量/).fill('3.2');
  await stop.getByRole('button', { name: '相机扫码' }).click();
  await page.locator('dialog.camera-dialog video').waitFor();
  await page.evaluate((code) => { window.__qr = `YF1:${code}`; }, target.code);
  await stop.locator('.scan-msg').getByText(/已记录/).waitFor();
  assert.equal(await page.locator('dialog.camera-dialog').count(), 0, 'the camera closes after the read');
  await waitPending(page, 0);
  const rec = (await stored(page)).find((s) => s.code === target.code);
  assert.equal(rec.method, 'camera');
  assert.equal(rec.status, 'accepted');
  // English, switchable on the same page.
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { name: /^Runs/ }).waitFor();
  await page.getByText('Everything uploaded').waitFor();
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

// The phone's checks are the server's: the same codes, the same refusals.
test('codes are read on the phone as the server reads them', () => {
  for (const c of run.stops.flatMap((s) => s.containers)) {
    assert.deepEqual(parseCode(c), { code: c });
    assert.deepEqual(parseCode(`yf1:${displayCode(c).toLowerCase()}`), { code: c });
    assert.deepEqual(parseCode(c.replaceAll('0', 'O').replaceAll('1', 'l')), { code: c });
    const A = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    for (let i = 0; i < 12; i++) {
      for (const a of A) {
        if (a === c[i]) continue;
        assert.deepEqual(parseCode(c.slice(0, i) + a + c.slice(i + 1)), { error: 'mistyped' }, `${c} with ${a} at ${i}`);
      }
      const blind = (c[i] === '0' && c[i + 1] === 'Z') || (c[i] === 'Z' && c[i + 1] === '0');
      if (i < 11 && c[i] !== c[i + 1] && !blind) {
        assert.deepEqual(parseCode(c.slice(0, i) + c[i + 1] + c[i] + c.slice(i + 2)), { error: 'mistyped' });
      }
    }
  }
  assert.deepEqual(parseCode('ABC'), { error: 'malformed' });
  assert.deepEqual(parseCode('UUUUUUUUUUUU'), { error: 'malformed' });
  assert.deepEqual(parseCode('中文中文中文中文中文中文'), { error: 'malformed' });
  assert.deepEqual(parseCode(''), { error: 'malformed' });
});

test('event ids are UUID v7 in time order; device time carries its offset; backoff grows to 5 minutes', () => {
  const a = uuidv7(1_700_000_000_000);
  const b = uuidv7(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(a.slice(0, 13).replace('-', ''), (1_700_000_000_000).toString(16).padStart(12, '0'));
  assert.ok(a < b, 'later ids sort later');
  assert.notEqual(uuidv7(5), uuidv7(5), 'random part');
  const t = deviceTime(new Date('2026-03-02T01:41:07.250Z'));
  assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
  assert.equal(Date.parse(t), Date.parse('2026-03-02T01:41:07.250Z'));
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3, 8, 9, 20].map((n) => backoff(n, mid)), [2000, 4000, 8000, 16000, 300000, 300000, 300000]);
  assert.equal(backoff(0, () => 0), 1500);
  assert.equal(backoff(7, mid), 256000);
  assert.equal(backoff(20, () => 1), 375000);
});

test('a container refused at the door offline reaches the server with its reason; an estimated weight says so', async () => {
  const page = await openPage(browser, server.base, { viewport: PHONE });
  await signIn(page, server.base, driver);
  await page.getByRole('link', { name: '明天' }).click();
  await page.locator(`section.run[data-run="${run.id}"]`).waitFor();
  const token = await apiToken(server.base, driver);
  const now = await apiGet(server.base, token, `/runs/${run.id}`);
  const done = new Set((await stored(page)).map((s) => s.code));
  const target = now.stops.map((s) => ({ seq: s.seq, left: s.containers.filter((c) => !done.has(c)) }))
    .filter((s) => s.left.length >= 2).at(-1);
  assert.ok(target, 'a stop with two containers left');
  const [kept, refused] = target.left;
  await page.context().setOffline(true);
  // One taken with an estimated weight, one refused as wrongly packed, by keyboard.
  const stop = await openStop(page, target.seq);
  await stop.getByLabel(/估计值/).check();
  await scan(page, target.seq, kept, '3.4');
  await stop.locator('details.refuse-box > summary').click();
  await stop.getByLabel(/拒收哪个容器/).fill(refused);
  await stop.getByLabel(/^拒收原因/).selectOption({ label: '包装不符合要求' });
  await stop.getByRole('button', { name: '拒收此容器' }).click();
  await stop.getByText(/已记录拒收/).waitFor();
  await stop.getByText(/拒收：包装不符合要求/).waitFor();
  await waitPending(page, 2);
  await screenshot(page, 'driver-refuse');
  assert.ok(await noOverflow(page) <= 0, 'no sideways scroll at 360 px');
  await page.context().setOffline(false);
  await waitPending(page, 0);
  const c = await apiGet(server.base, token, `/containers/${refused}`);
  assert.equal(c.state, 'sealed', 'it stays with the institution');
  assert.deepEqual(c.flags, ['refused_at_pickup']);
  const ev = c.events.find((e) => e.action === 'refuse');
  assert.equal(ev.reason, 'wrong_packaging');
  assert.equal(ev.run_id, run.id);
  const k = await apiGet(server.base, token, `/containers/${kept}`);
  assert.equal(k.weights.sources.collect, 'estimated');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
