// Driver: the day's runs and stops, scanning (camera where the browser detects QR codes,
// otherwise typed or from a Bluetooth scanner that types the code and Enter), weights, skips.
// Everything works offline: the day is kept in IndexedDB, scans queue there with their event
// ids and upload when the network returns (driver-queue.js).
import { api, ApiError } from '../api.js';
import { h, put, field, notice, dateTime, kg, today } from '../dom.js';
import { t, addStrings, lang } from '../i18n.js';
import * as q from './driver-queue.js';

addStrings({
  zh: {
    'nav.driver': '今日任务', 'driver.title': '收运任务', 'driver.today': '今天', 'driver.tomorrow': '明天',
    'driver.pending': '待上传 {n} 条', 'driver.pending.none': '全部已上传',
    'driver.phase.offline': '离线：记录保存在本机，恢复网络后自动上传',
    'driver.phase.sending': '正在上传…', 'driver.phase.retrying': '上传失败，{at} 自动重试',
    'driver.phase.signedOut': '登录已过期：请重新登录，记录保存在本机，登录后上传',
    'driver.phase.idle': '上次上传 {at}', 'driver.upload': '立即上传',
    'driver.others': '本设备还有其他司机的 {n} 条记录，待其登录后上传。',
    'driver.stored': '离线数据：{at} 从服务器读取。', 'driver.nostore': '本机没有这一天的任务：请在有网络时打开一次此页面。',
    'driver.noruns': '这一天没有分配给您的任务。',
    'driver.run': '{plate} · {n} 站', 'driver.run.meta': '出发 {start} · 返回 {end} · {km} km · 计划 {load}',
    'driver.depot': '处置厂',
    'drv.run.planned': '已计划', 'drv.run.in_progress': '进行中', 'drv.run.done': '已完成', 'drv.run.cancelled': '已取消',
    'drv.stop.pending': '待收运', 'drv.stop.completed': '已收运', 'drv.stop.skipped': '已跳过', 'drv.stop.scanned': '已扫描（待上传）', 'drv.stop.skipQueued': '已跳过（待上传）',
    'drv.stop.eta': '预计 {t}', 'drv.stop.deadline': '最迟 {t}', 'drv.stop.expected': '预计 {n} 件 · {kg}',
    'drv.stop.call': '拨打 {phone}', 'drv.stop.map': '地图导航', 'drv.stop.coords': '坐标 {lat}, {lng}',
    'drv.stop.containers': '待收容器', 'drv.stop.nocontainers': '取数据时此站没有已封装的容器（新到的容器照常扫描）。',
    'drv.reason.storage_deadline': '贮存时限', 'drv.reason.interval_lapses': '收运间隔', 'drv.reason.requested': '机构申请', 'drv.reason.via_hub': '经收集点',
    'drv.reason.skipped': '曾跳过', 'drv.reason.urgent': '紧急',
    'scan.weight': '重量（kg）', 'scan.code': '容器编码', 'scan.code.hint': '扫码枪扫描或手动输入，回车记录',
    'scan.record': '记录', 'scan.camera': '相机扫码', 'scan.camera.title': '对准标签上的二维码', 'scan.camera.fail': '无法打开相机：{e}',
    'scan.ok': '已记录 {code}，{kg}', 'scan.malformed': '不是医废标签编码', 'scan.mistyped': '编码有误（校验位不符），请重新输入',
    'scan.weight.bad': '请填写重量（大于 0，不超过 2000 kg）', 'scan.again': '{code} 已于 {t} 扫描过',
    'scan.elsewhere': '此容器在第 {seq} 站（{name}）的清单上，已记在该站', 'scan.unlisted': '不在本站清单上，上传时由服务器核对',
    'scan.here': '本站已扫描', 'scan.status.pending': '待上传', 'scan.status.accepted': '已上传', 'scan.status.duplicate': '已上传',
    'scan.status.rejected': '被拒收',
    'skip.title': '无法收运？', 'skip.reason': '原因', 'skip.other': '其他原因', 'skip.submit': '跳过此站', 'skip.need': '请填写原因',
    'skip.closed': '机构关门', 'skip.noone': '联系不上', 'skip.road': '道路不通', 'skip.nowaste': '没有医废', 'skip.otherOpt': '其他…',
    'skip.done': '已记录跳过', 'skip.queued': '已跳过：{reason}',
    'refused.title': '服务器拒收的记录', 'refused.dismiss': '知道了，删除',
    'refused.scan': '{code}（{t}）：{why}', 'refused.skip': '跳过第 {seq} 站 {name}：{why}',
    'why.unknown_code': '没有此容器，或您无权收运', 'why.mistyped_code': '编码有误', 'why.action_not_allowed': '您的角色不能收运',
    'why.future_timestamp': '手机时间比服务器快：请校准时间', 'why.stale_timestamp': '记录太旧（超过 30 天）或手机时间有误',
    'why.before_container_created': '早于容器贴标时间：手机时间有误', 'why.weight_required': '缺少重量', 'why.weight_out_of_range': '重量超出范围',
    'why.invalid_location': '位置无效', 'why.text_too_long': '文字过长', 'why.invalid_text': '文字含非法字符',
    'why.not_your_run': '不是您的任务', 'why.event_id_reused': '记录编号已被其他容器使用', 'why.invalid': '请求无效',
    'why.completed': '此站已收运，不能跳过', 'why.no_stop': '任务中已没有此站',
    'scan.estimated': '估计值（未过秤）',
    'refuse.title': '拒收容器？', 'refuse.code': '拒收哪个容器（编码）', 'refuse.reason': '拒收原因', 'refuse.other': '说明原因',
    'refuse.broken': '容器破损', 'refuse.unlabelled': '无标签或标签不清', 'refuse.wrong_packaging': '包装不符合要求', 'refuse.otherOpt': '其他…',
    'refuse.submit': '拒收此容器', 'refuse.need': '请说明原因', 'refuse.done': '已记录拒收 {code}：{reason}，容器留在机构',
    'scan.refused': '拒收：{reason}',
    'why.unknown_reason': '拒收原因不在列表中', 'why.run_required': '拒收须在任务中进行', 'why.not_on_run': '此容器的机构不在您的任务上',
    'why.reason_required': '缺少拒收原因', 'why.weight_source_without_weight': '无重量却标了称重方式',
  },
  en: {
    'nav.driver': 'Today', 'driver.title': 'Runs', 'driver.today': 'Today', 'driver.tomorrow': 'Tomorrow',
    'driver.pending': '{n} to upload', 'driver.pending.none': 'Everything uploaded',
    'driver.phase.offline': 'Offline: records are kept on this device and upload when the network returns',
    'driver.phase.sending': 'Uploading…', 'driver.phase.retrying': 'Upload failed; retrying at {at}',
    'driver.phase.signedOut': 'Session expired: sign in again; records stay on this device and upload after sign-in',
    'driver.phase.idle': 'Last upload {at}', 'driver.upload': 'Upload now',
    'driver.others': 'This device also holds {n} records of another driver; they upload when that driver signs in.',
    'driver.stored': 'Offline data, read from the server {at}.', 'driver.nostore': 'No run of this day on this device: open this page once while online.',
    'driver.noruns': 'No run assigned to you on this day.',
    'driver.run': '{plate} · {n} stops', 'driver.run.meta': 'Leaves {start} · back {end} · {km} km · planned {load}',
    'driver.depot': 'Plant',
    'drv.run.planned': 'Planned', 'drv.run.in_progress': 'Under way', 'drv.run.done': 'Done', 'drv.run.cancelled': 'Cancelled',
    'drv.stop.pending': 'To collect', 'drv.stop.completed': 'Collected', 'drv.stop.skipped': 'Skipped', 'drv.stop.scanned': 'Scanned (to upload)', 'drv.stop.skipQueued': 'Skipped (to upload)',
    'drv.stop.eta': 'ETA {t}', 'drv.stop.deadline': 'by {t}', 'drv.stop.expected': 'expected {n} items · {kg}',
    'drv.stop.call': 'Call {phone}', 'drv.stop.map': 'Map', 'drv.stop.coords': 'Coordinates {lat}, {lng}',
    'drv.stop.containers': 'Containers waiting', 'drv.stop.nocontainers': 'No sealed container here when the run was read (new ones scan as usual).',
    'drv.reason.storage_deadline': 'Storage deadline', 'drv.reason.interval_lapses': 'Interval', 'drv.reason.requested': 'Requested', 'drv.reason.via_hub': 'Via hub',
    'drv.reason.skipped': 'Skipped before', 'drv.reason.urgent': 'Urgent',
    'scan.weight': 'Weight (kg)', 'scan.code': 'Container code', 'scan.code.hint': 'Scanner or typed; Enter records',
    'scan.record': 'Record', 'scan.camera': 'Scan with camera', 'scan.camera.title': 'Point at the QR code of the label', 'scan.camera.fail': 'Cannot open the camera: {e}',
    'scan.ok': 'Recorded {code}, {kg}', 'scan.malformed': 'Not a Yifei label code', 'scan.mistyped': 'Mistyped code (check character does not match); type it again',
    'scan.weight.bad': 'Enter the weight (above 0, at most 2000 kg)', 'scan.again': '{code} was scanned at {t}',
    'scan.elsewhere': 'This container is listed at stop {seq} ({name}); recorded there', 'scan.unlisted': 'Not on this stop\'s list; the server checks it on upload',
    'scan.here': 'Scanned here', 'scan.status.pending': 'to upload', 'scan.status.accepted': 'uploaded', 'scan.status.duplicate': 'uploaded',
    'scan.status.rejected': 'refused',
    'skip.title': 'Cannot collect?', 'skip.reason': 'Reason', 'skip.other': 'Other reason', 'skip.submit': 'Skip this stop', 'skip.need': 'Give a reason',
    'skip.closed': 'Closed', 'skip.noone': 'Nobody reachable', 'skip.road': 'Road blocked', 'skip.nowaste': 'No waste', 'skip.otherOpt': 'Other…',
    'skip.done': 'Skip recorded', 'skip.queued': 'Skipped: {reason}',
    'refused.title': 'Refused by the server', 'refused.dismiss': 'Understood, remove',
    'refused.scan': '{code} ({t}): {why}', 'refused.skip': 'Skip of stop {seq} {name}: {why}',
    'why.unknown_code': 'No such container, or not yours to collect', 'why.mistyped_code': 'Mistyped code', 'why.action_not_allowed': 'Your role may not collect',
    'why.future_timestamp': 'The phone\'s clock is ahead of the server: set it right', 'why.stale_timestamp': 'Too old (over 30 days) or the phone\'s clock is wrong',
    'why.before_container_created': 'Before the container was labelled: the phone\'s clock is wrong', 'why.weight_required': 'Weight missing', 'why.weight_out_of_range': 'Weight out of range',
    'why.invalid_location': 'Invalid position', 'why.text_too_long': 'Text too long', 'why.invalid_text': 'Text with invalid characters',
    'why.not_your_run': 'Not your run', 'why.event_id_reused': 'Event id used for another container', 'why.invalid': 'Invalid request',
    'why.completed': 'The stop was collected; it cannot be skipped', 'why.no_stop': 'The run no longer has this stop',
    'scan.estimated': 'Estimated (no scale)',
    'refuse.title': 'Refuse a container?', 'refuse.code': 'Which container (code)', 'refuse.reason': 'Why refused', 'refuse.other': 'Say why',
    'refuse.broken': 'Broken container', 'refuse.unlabelled': 'No or unreadable label', 'refuse.wrong_packaging': 'Wrong packaging', 'refuse.otherOpt': 'Other…',
    'refuse.submit': 'Refuse this container', 'refuse.need': 'Say why', 'refuse.done': 'Refusal of {code} recorded: {reason}; it stays with the institution',
    'scan.refused': 'refused: {reason}',
    'why.unknown_reason': 'Refusal reason not in the list', 'why.run_required': 'A refusal is made on a run', 'why.not_on_run': 'The container\'s institution is not on your run',
    'why.reason_required': 'Refusal reason missing', 'why.weight_source_without_weight': 'Weight source without a weight',
  },
});

const ME_KEY = 'yifei.driver.me';

/** Who was signed in when the device was last online, for the offline start. */
export function offlineIdentity() {
  try { return JSON.parse(localStorage.getItem(ME_KEY)); } catch { return null; }
}

/** Signing out on purpose: the next offline start shows the sign-in form, not this driver's
 * day (the queue stays in IndexedDB and uploads at this driver's next sign-in). */
export function forgetIdentity() {
  localStorage.removeItem(ME_KEY);
}

/** The last GPS fix (scans carry it when it is under two minutes old). */
let lastFix = null;
function watchPosition() {
  if (watchPosition.started || !navigator.geolocation) return;
  watchPosition.started = true;
  navigator.geolocation.watchPosition(
    (p) => { lastFix = { lat: p.coords.latitude, lng: p.coords.longitude, at: p.timestamp || Date.now() }; keepFix(lastFix); },
    () => {}, { enableHighAccuracy: true, maximumAge: 30000 });
}

/** The run under way (`{ user_id, run_id }`), whose GPS track is kept; null when none. */
let track = null;
let lastKept = null;
const metres = (a, b) => {
  const k = Math.PI / 180;
  const x = (b.lng - a.lng) * k * Math.cos(((a.lat + b.lat) / 2) * k);
  return Math.hypot(x, (b.lat - a.lat) * k) * 6371000;
};
/** Keeps a fix for the track: the first of the run, then one every 30 s or 50 m moved. */
function keepFix(fix) {
  if (!track || !fix) return;
  if (lastKept && lastKept.run_id === track.run_id && fix.at - lastKept.at < 30000 && metres(lastKept, fix) < 50) return;
  if (lastKept && lastKept.run_id === track.run_id && fix.at === lastKept.at) return;
  lastKept = { ...fix, run_id: track.run_id };
  q.queueFix({ user_id: track.user_id, run_id: track.run_id, lat: fix.lat, lng: fix.lng, at: new Date(fix.at).toISOString() }).catch(() => {});
}
function freshFix() {
  return lastFix && Date.now() - lastFix.at < 120000 ? { lat: lastFix.lat, lng: lastFix.lng } : null;
}

let detectorFormats = null;
/** Whether the browser can read QR codes from the camera (BarcodeDetector with qr_code). */
async function cameraScanning() {
  if (!('BarcodeDetector' in window) || !navigator.mediaDevices?.getUserMedia) return false;
  try {
    detectorFormats ??= await window.BarcodeDetector.getSupportedFormats();
    return detectorFormats.includes('qr_code');
  } catch { return false; }
}

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString(lang() === 'en' ? 'en-GB' : 'zh-CN', { hour: '2-digit', minute: '2-digit' }) : '—');
const why = (reason, detail) => (reason && t(`why.${reason}`) !== `why.${reason}` ? t(`why.${reason}`) : detail || reason || '');

async function render(page, ctx) {
  const me = ctx.me;
  localStorage.setItem(ME_KEY, JSON.stringify(me));
  const date = /^\d{4}-\d{2}-\d{2}$/.test(ctx.query.date || '') ? ctx.query.date : today();
  q.watch(me.id);
  watchPosition();
  // The first visit loads its files before the service worker controls the page: hand it the
  // list so the next start, offline, finds every module.
  navigator.serviceWorker?.ready.then((reg) => reg.active?.postMessage({ type: 'keep',
    urls: ['/', ...performance.getEntriesByType('resource').map((r) => r.name)] })).catch(() => {});

  // The day: from the server when it answers (and stored), from the device when offline.
  let day = null;
  let fromDevice = false;
  try {
    day = await q.saveDay(me.id, date, (await api.get('/me/runs', { date })).items || []);
  } catch (e) {
    // Offline, or the server failing: the stored day serves (a refusal is shown as such).
    if (!(e instanceof ApiError) || !(e.offline || e.status >= 500)) throw e;
    day = await q.loadDay(me.id, date);
    fromDevice = true;
  }
  q.prune().catch(() => {});
  const camera = await cameraScanning();
  if (ctx.stale()) return;

  const st = { me, date, day, scans: await q.scansOf(me.id), skips: await q.skipsOf(me.id), others: await q.pendingOfOthers(me.id) };
  const updaters = [];
  const sections = new Map();
  let prevPhase = q.status.phase;
  let every = null;
  const refresh = async () => {
    if (!page.isConnected && page.dataset.shown) { unsubscribe(); clearInterval(every); return; }
    st.scans = await q.scansOf(me.id);
    st.skips = await q.skipsOf(me.id);
    st.others = await q.pendingOfOthers(me.id);
    updaters.forEach((u) => u());
  };
  const unsubscribe = q.onChange(() => {
    // An upload just finished: the server's word on the stops follows.
    if (prevPhase === 'sending' && q.status.phase === 'idle') reread();
    prevPhase = q.status.phase;
    refresh();
  });
  setTimeout(() => { page.dataset.shown = '1'; }, 0);

  /** Re-reads the day (the dispatcher may have inserted an urgent stop, renumbering the others);
   * a run whose stops changed is redrawn unless the driver is typing in it. */
  async function reread() {
    if (ctx.stale() || !navigator.onLine || !page.isConnected) return;
    let fresh;
    try { fresh = (await api.get('/me/runs', { date })).items || []; } catch { return; }
    st.day = await q.saveDay(me.id, date, fresh);
    const shape = (r) => r.stops.map((x) => `${x.seq}:${x.institution_id}`).join(',');
    for (const n of fresh) {
      const cur = sections.get(n.id);
      if (!cur) {
        const el = runSection(n, st, updaters, camera);
        page.append(el);
        sections.set(n.id, { el, run: n });
      } else if (shape(cur.run) !== shape(n) && !cur.el.contains(document.activeElement)) {
        const el = runSection(n, st, updaters, camera);
        cur.el.replaceWith(el);
        sections.set(n.id, { el, run: n });
      } else {
        cur.run.status = n.status;
        for (const x of cur.run.stops) {
          const m = n.stops.find((y) => y.institution_id === x.institution_id);
          if (m) Object.assign(x, { status: m.status, skip_reason: m.skip_reason });
        }
      }
    }
    updaters.forEach((u) => u());
  }

  const dayLink = (d, key) => h('a', { href: `#/driver${d === today() ? '' : `?date=${d}`}`, class: 'badge', 'aria-current': d === date ? 'page' : null }, t(key));
  page.append(
    h('div', { class: 'driver-head' }, h('h1', null, `${t('driver.title')} · ${date}`),
      h('nav', { class: 'driver-days', 'aria-label': t('driver.title') }, dayLink(today(), 'driver.today'), dayLink(today(1), 'driver.tomorrow'))),
    syncBar(st, updaters),
    refusedList(st, updaters));
  if (fromDevice) page.append(notice(day ? 'warn' : 'error', day ? t('driver.stored', { at: dateTime(day.fetched_at) }) : t('driver.nostore')));
  const runs = day?.items || [];
  if (day && !runs.length) page.append(notice('ok', t('driver.noruns')));
  for (const run of runs) {
    const el = runSection(run, st, updaters, camera);
    sections.set(run.id, { el, run });
    page.append(el);
  }
  // The track follows the run under way: in progress on the server, or scanned on this device.
  updaters.push(() => {
    const shown = [...sections.values()].map((x) => x.run);
    const under = shown.find((r) => r.status === 'in_progress')
      || shown.find((r) => r.status === 'planned' && st.scans.some((x) => x.run_id === r.id && x.status !== 'rejected'));
    if (under) track = { user_id: me.id, run_id: under.id };
    else if (track && shown.some((r) => r.id === track.run_id)) track = null;
    keepFix(lastFix);
  });
  updaters.forEach((u) => u());

  // Upload what is waiting now, and every five minutes while the page is open (an upload
  // that ends re-reads the day, above).
  q.sync(me.id).catch(() => {});
  every = setInterval(() => {
    if (!page.isConnected) { clearInterval(every); unsubscribe(); return; }
    if (navigator.onLine) q.sync(me.id).then(reread).catch(() => {});
  }, 5 * 60 * 1000);
}

/** The sticky bar: how many records wait for the upload, and the upload's state. */
function syncBar(st, updaters) {
  const count = h('strong', { id: 'driver-pending' });
  const phase = h('span', { class: 'phase' });
  const others = h('div', { class: 'hint' });
  const button = h('button', { type: 'button', class: 'secondary', onclick: () => q.sync(st.me.id) }, t('driver.upload'));
  updaters.push(() => {
    const n = st.scans.filter((s) => s.status === 'pending').length + st.skips.filter((s) => s.status === 'pending').length;
    count.dataset.count = String(n);
    count.textContent = n ? t('driver.pending', { n }) : t('driver.pending.none');
    const s = q.status;
    const offline = !navigator.onLine;
    const p = offline ? 'offline' : s.phase;
    phase.textContent = p === 'retrying' ? t('driver.phase.retrying', { at: time(s.retryAt) })
      : p === 'idle' ? (s.lastSync ? t('driver.phase.idle', { at: time(s.lastSync) }) : '')
        : t(`driver.phase.${p}`);
    bar.className = `driver-sync ${n ? 'waiting' : 'clear'} ${p}`;
    button.disabled = !n || offline || p === 'sending';
    others.textContent = st.others ? t('driver.others', { n: st.others }) : '';
    others.hidden = !st.others;
  });
  const bar = h('div', { class: 'driver-sync', role: 'status', 'aria-live': 'polite' }, h('div', { class: 'line' }, count, button), phase, others);
  return bar;
}

/** Records the server refused: shown until the driver has read them (never re-sent). */
function refusedList(st, updaters) {
  const box = h('section', { class: 'driver-refused', 'aria-live': 'polite' });
  updaters.push(() => {
    const scans = st.scans.filter((s) => s.status === 'rejected');
    const skips = st.skips.filter((s) => s.status === 'refused');
    box.hidden = !scans.length && !skips.length;
    put(box, h('h2', null, t('refused.title')), h('ul', null,
      scans.map((s) => h('li', null, t('refused.scan', { code: q.displayCode(s.code), t: time(s.recorded_at), why: why(s.reason, s.detail) }), ' ',
        h('button', { type: 'button', class: 'link', onclick: () => q.dismiss('scans', s.event_id) }, t('refused.dismiss')))),
      skips.map((s) => h('li', null, t('refused.skip', { seq: s.seq, name: s.name, why: why(s.detail, s.detail) }), ' ',
        h('button', { type: 'button', class: 'link', onclick: () => q.dismiss('skips', s.id) }, t('refused.dismiss'))))));
  });
  return box;
}

function geoLink(loc, label) {
  // geo: opens the phone's own map app (no tiles from here); the coordinates are written out too.
  const ll = `${loc.lat.toFixed(6)},${loc.lng.toFixed(6)}`;
  return h('a', { href: `geo:${ll}?q=${ll}(${encodeURIComponent(label)})`, class: 'map-link' }, t('drv.stop.map'));
}

function runSection(run, st, updaters, camera) {
  const list = h('ol', { class: 'stops' });
  let opened = false;
  for (const stop of run.stops) {
    const el = stopItem(run, stop, st, updaters, camera);
    if (!opened && stop.status === 'pending') { el.querySelector('details.stop').open = true; opened = true; }
    list.append(el);
  }
  return h('section', { class: 'run card', dataset: { run: run.id } },
    h('h2', null, t('driver.run', { plate: run.plate, n: run.stops.length }), ' ', h('span', { class: 'badge' }, t(`drv.run.${run.status}`))),
    h('p', { class: 'muted' }, t('driver.run.meta', { start: time(run.start_time), end: time(run.end_time), km: run.distance_km.toFixed(1), load: kg(run.load_kg) }),
      ' · ', t('driver.depot'), ' ', geoLink(run.depot, t('driver.depot'))),
    list);
}

function stopItem(run, stop, st, updaters, camera) {
  const here = () => st.scans.filter((s) => s.run_id === run.id && s.institution_id === stop.institution_id);
  const skipOf = () => st.skips.find((s) => s.run_id === run.id && s.institution_id === stop.institution_id && s.status !== 'refused');
  const chip = h('span', { class: 'badge' });
  const summary = h('summary', null, h('span', { class: 'seq' }, String(stop.seq)), ' ', h('span', { class: 'name' }, stop.name), ' ', chip,
    h('span', { class: 'eta muted' }, t('drv.stop.eta', { t: time(stop.eta) })));

  const weight = h('input', { name: 'weight', inputmode: 'decimal', autocomplete: 'off', enterkeyhint: 'next' });
  const estimated = h('input', { type: 'checkbox', name: 'estimated' });
  const code = h('input', { name: 'code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', enterkeyhint: 'done' });
  const msg = h('div', { class: 'scan-msg', 'aria-live': 'assertive' });
  const say = (kind, text) => put(msg, notice(kind, text));

  let busy = false;
  async function record(method) {
    if (busy) return;
    busy = true;
    try { await recordOnce(method); } finally { busy = false; }
  }
  async function recordOnce(method) {
    const parsed = q.parseCode(code.value);
    if (parsed.error) { say('error', t(`scan.${parsed.error}`)); code.select(); return; }
    const w = Number(weight.value.replace(',', '.').trim());
    if (!weight.value.trim() || !Number.isFinite(w) || w <= 0 || w > 2000) { say('error', t('scan.weight.bad')); weight.focus(); return; }
    const again = st.scans.find((s) => s.run_id === run.id && s.code === parsed.code && s.status !== 'rejected' && s.action !== 'refuse');
    if (again) { say('warn', t('scan.again', { code: q.displayCode(parsed.code), t: time(again.recorded_at) })); code.select(); return; }
    // A code listed at another stop of the run is recorded there (the server completes the
    // stop of the container's institution anyway).
    const owner = run.stops.find((s) => s.containers.includes(parsed.code)) || stop;
    const rec = await q.queueScan({ user_id: st.me.id, run_id: run.id, stop_seq: owner.seq, institution_id: owner.institution_id,
      code: parsed.code, weight_kg: Math.round(w * 1000) / 1000, weight_source: estimated.checked ? 'estimated' : 'weighed', location: freshFix(), method });
    if (!st.scans.some((s) => s.event_id === rec.event_id)) st.scans.push(rec);
    const notes = [t('scan.ok', { code: q.displayCode(parsed.code), kg: kg(w) })];
    if (owner !== stop) notes.push(t('scan.elsewhere', { seq: owner.seq, name: owner.name }));
    else if (!stop.containers.includes(parsed.code)) notes.push(t('scan.unlisted'));
    say(owner !== stop || !stop.containers.includes(parsed.code) ? 'warn' : 'ok', notes.join('；'));
    code.value = '';
    weight.value = '';
    weight.focus();
    if (navigator.onLine) q.sync(st.me.id);
  }
  // Enter in the code (a scanner types the code and Enter): record if the weight is there,
  // otherwise go to the weight; Enter in the weight records once a code is there.
  code.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); if (weight.value.trim()) record('typed'); else weight.focus(); } });
  weight.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); if (code.value.trim()) record('typed'); else code.focus(); } });

  const scanForm = h('form', { class: 'scan', onsubmit: (e) => { e.preventDefault(); record('typed'); } },
    field(t('scan.code'), code, t('scan.code.hint')),
    field(t('scan.weight'), weight),
    h('label', { class: 'check' }, estimated, ' ', t('scan.estimated')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('scan.record')),
      camera ? h('button', { type: 'button', class: 'secondary', onclick: () => scanByCamera((c) => { code.value = c; if (weight.value.trim()) record('camera'); else weight.focus(); }, say) }, t('scan.camera')) : null),
    msg);

  const waiting = h('ul', { class: 'codes' });
  const scanned = h('ul', { class: 'codes' });
  const scannedBox = h('div', null, h('h3', null, t('scan.here')), scanned);

  const reasonSel = h('select', { name: 'reason' }, ['closed', 'noone', 'road', 'nowaste', 'otherOpt'].map((k) => h('option', { value: k }, t(`skip.${k}`))));
  const other = h('input', { name: 'other', maxlength: 500 });
  const otherField = field(t('skip.other'), other);
  otherField.hidden = true;
  reasonSel.addEventListener('change', () => { otherField.hidden = reasonSel.value !== 'otherOpt'; });
  const skipMsg = h('div', { 'aria-live': 'polite' });
  const skipForm = h('details', { class: 'skip-box' }, h('summary', null, t('skip.title')),
    h('form', { class: 'stack', onsubmit: async (e) => {
      e.preventDefault();
      const reason = reasonSel.value === 'otherOpt' ? other.value.trim() : t(`skip.${reasonSel.value}`);
      if (!reason) { put(skipMsg, notice('error', t('skip.need'))); other.focus(); return; }
      await q.queueSkip({ user_id: st.me.id, run_id: run.id, seq: stop.seq, institution_id: stop.institution_id, name: stop.name, reason });
      put(skipMsg, notice('ok', t('skip.done')));
      if (navigator.onLine) q.sync(st.me.id);
    } }, field(t('skip.reason'), reasonSel), otherField, h('button', { type: 'submit', class: 'danger' }, t('skip.submit'))));
  const skipNote = h('p', { class: 'muted' });

  // Refusing one container at the door (broken, unlabelled, wrongly packed): queued like a
  // scan, it leaves the container with the institution and puts it on the manifest as refused.
  const refuseCode = h('input', { name: 'refuse-code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' });
  const refuseSel = h('select', { name: 'refuse-reason' }, ['broken', 'unlabelled', 'wrong_packaging', 'otherOpt'].map((k) => h('option', { value: k }, t(`refuse.${k}`))));
  const refuseOther = h('input', { name: 'refuse-other', maxlength: 190 });
  const refuseOtherField = field(t('refuse.other'), refuseOther);
  refuseOtherField.hidden = true;
  refuseSel.addEventListener('change', () => { refuseOtherField.hidden = refuseSel.value !== 'otherOpt'; });
  const refuseMsg = h('div', { 'aria-live': 'polite' });
  const refuseBox = h('details', { class: 'refuse-box' }, h('summary', null, t('refuse.title')),
    h('form', { class: 'stack', onsubmit: async (e) => {
      e.preventDefault();
      const parsed = q.parseCode(refuseCode.value);
      if (parsed.error) { put(refuseMsg, notice('error', t(`scan.${parsed.error}`))); refuseCode.select(); return; }
      const text = refuseOther.value.trim();
      if (refuseSel.value === 'otherOpt' && !text) { put(refuseMsg, notice('error', t('refuse.need'))); refuseOther.focus(); return; }
      const reason = refuseSel.value === 'otherOpt' ? `other: ${text}` : refuseSel.value;
      const words = refuseSel.value === 'otherOpt' ? text : t(`refuse.${refuseSel.value}`);
      const rec = await q.queueScan({ user_id: st.me.id, run_id: run.id, stop_seq: stop.seq, institution_id: stop.institution_id,
        code: parsed.code, action: 'refuse', reason, reason_words: words, location: freshFix(), method: 'typed' });
      if (!st.scans.some((s) => s.event_id === rec.event_id)) st.scans.push(rec);
      put(refuseMsg, notice('ok', t('refuse.done', { code: q.displayCode(parsed.code), reason: words })));
      refuseCode.value = '';
      refuseOther.value = '';
      if (navigator.onLine) q.sync(st.me.id);
    } }, field(t('refuse.code'), refuseCode), field(t('refuse.reason'), refuseSel), refuseOtherField,
    h('button', { type: 'submit', class: 'danger' }, t('refuse.submit'))));

  updaters.push(() => {
    const all = here();
    // A refusal at the door collects nothing: it neither completes the stop nor ticks a code.
    const mine = all.filter((s) => s.action !== 'refuse');
    const skip = skipOf();
    const status = stop.status !== 'pending' ? stop.status
      : mine.some((s) => s.status === 'pending') ? 'scanned'
        : mine.some((s) => s.status !== 'rejected') ? 'completed'
          : skip ? 'skipQueued' : 'pending';
    chip.textContent = t(`drv.stop.${status}`);
    chip.className = `badge ${status === 'pending' ? '' : status === 'skipped' || status === 'skipQueued' ? 'warn' : 'ok'}`;
    const done = new Set(st.scans.filter((s) => s.run_id === run.id && s.status !== 'rejected' && s.action !== 'refuse').map((s) => s.code));
    put(waiting, stop.containers.map((c) => h('li', { class: done.has(c) ? 'done' : null }, h('span', { class: 'tick', 'aria-hidden': 'true' }, done.has(c) ? '✓' : '○'), ' ', h('code', null, q.displayCode(c)))));
    scannedBox.hidden = !all.length;
    put(scanned, all.map((s) => h('li', null, h('code', null, q.displayCode(s.code)),
      ` ${s.action === 'refuse' ? t('scan.refused', { reason: s.reason_words || s.reason }) : kg(s.weight_kg)} · ${time(s.recorded_at)} `,
      h('span', { class: `badge ${s.status === 'rejected' ? 'bad' : s.status === 'pending' ? 'warn' : 'ok'}` }, t(`scan.status.${s.status}`)))));
    const skippable = stop.status === 'pending' && !mine.some((s) => s.status !== 'rejected') && !skip;
    skipForm.hidden = !skippable;
    const reasonText = stop.skip_reason || skip?.reason;
    skipNote.hidden = !reasonText || !(stop.status === 'skipped' || skip);
    skipNote.textContent = reasonText ? t('skip.queued', { reason: reasonText }) : '';
  });

  const p = stop.location;
  return h('li', { class: 'stop-item' }, h('details', { class: 'stop', dataset: { seq: String(stop.seq), institution: stop.institution_id } }, summary,
    h('div', { class: 'stop-body' },
      h('p', { class: 'addr' }, stop.address),
      h('p', { class: 'contact' },
        stop.phone ? h('a', { href: `tel:${stop.phone.replace(/[^0-9+]/g, '')}`, class: 'tel' }, t('drv.stop.call', { phone: stop.phone })) : null, ' ',
        geoLink(p, stop.name), ' ', h('span', { class: 'muted coords' }, t('drv.stop.coords', { lat: p.lat.toFixed(5), lng: p.lng.toFixed(5) }))),
      h('p', { class: 'muted' },
        stop.deadline ? `${t('drv.stop.deadline', { t: dateTime(stop.deadline) })} · ` : '',
        t('drv.stop.expected', { n: stop.expected_containers, kg: kg(stop.expected_kg) }), ' ',
        stop.reasons.map((r) => h('span', { class: 'badge' }, t(`drv.reason.${r}`) === `drv.reason.${r}` ? r : t(`drv.reason.${r}`)))),
      skipNote,
      h('h3', null, t('drv.stop.containers')),
      stop.containers.length ? waiting : h('p', { class: 'muted' }, t('drv.stop.nocontainers')),
      scanForm, scannedBox, refuseBox, refuseMsg, skipForm, skipMsg)));
}

/** Reads a label's QR code with the camera (only offered where BarcodeDetector reads QR). */
async function scanByCamera(done, say) {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (e) {
    say('error', t('scan.camera.fail', { e: e.message || e.name }));
    return;
  }
  const video = h('video', { autoplay: true, muted: true, playsinline: true, class: 'camera' });
  video.srcObject = stream;
  const hint = h('p', { class: 'hint' });
  let stopped = false;
  const close = () => { stopped = true; stream.getTracks().forEach((tr) => tr.stop()); dialog.close(); dialog.remove(); };
  const dialog = h('dialog', { class: 'camera-dialog', 'aria-label': t('scan.camera.title'), oncancel: close },
    h('p', null, t('scan.camera.title')), video, hint, h('button', { type: 'button', class: 'secondary', onclick: close }, t('app.close')));
  document.body.append(dialog);
  dialog.showModal();
  const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
  const tick = async () => {
    if (stopped) return;
    try {
      if (video.readyState >= 2) {
        for (const b of await detector.detect(video)) {
          const parsed = q.parseCode(b.rawValue);
          if (parsed.code) { close(); done(parsed.code); return; }
          hint.textContent = t(`scan.${parsed.error}`);
        }
      }
    } catch { /* a frame that could not be read */ }
    setTimeout(tick, 200);
  };
  tick();
}

export const routes = [{ path: '/driver', nav: 'nav.driver', roles: ['driver'], render }];
