// The driver's device store and its upload. The day's runs, the scan queue and the queued skips
// live in IndexedDB (not in memory), so closing or reloading the page loses nothing; scans are
// uploaded to POST /api/v1/scans when the network returns, with the rules of
// mobile-contract/README.md: an event id made on the device, device time, replays answered
// `duplicate`, `rejected` events kept and shown (never re-sent), retry with backoff.
import { api, ApiError } from '../api.js';

const DB_NAME = 'yifei-driver';
const DB_VERSION = 2;
/** Events per upload: well under the server's 500 and its 1 MiB body. */
const BATCH = 200;
/** Accepted scans and finished skips are kept this long, to show the day's work. */
const KEEP_MS = 3 * 24 * 3600 * 1000;

// ---------------------------------------------------------------- codes (as the server reads them)

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function checkChar(payload) {
  let factor = 2;
  let sum = 0;
  for (let i = payload.length - 1; i >= 0; i--) {
    const addend = factor * ALPHABET.indexOf(payload[i]);
    factor = factor === 2 ? 1 : 2;
    sum += Math.floor(addend / 32) + (addend % 32);
  }
  return ALPHABET[(32 - (sum % 32)) % 32];
}

/**
 * The canonical code of what was scanned or typed, as api/src/custody/codes.rs reads it (the
 * `YF1:` prefix of the QR code in any case, dashes, spaces, case ignored, I/L for 1, O for 0):
 * `{ code }`, or `{ error: 'malformed' | 'mistyped' }`. Checking the check character here
 * catches a typo while the driver still holds the box, not hours later at the upload.
 */
export function parseCode(input) {
  let s = String(input ?? '').trim();
  if (s.slice(0, 4).toUpperCase() === 'YF1:') s = s.slice(4);
  let code = '';
  for (const ch of s) {
    let c = ch.toUpperCase();
    if (c === '-' || c === ' ') continue;
    if (c === 'I' || c === 'L') c = '1';
    if (c === 'O') c = '0';
    if (!ALPHABET.includes(c) || c.length !== 1 || code.length === 12) return { error: 'malformed' };
    code += c;
  }
  if (code.length !== 12) return { error: 'malformed' };
  if (checkChar(code.slice(0, 11)) !== code[11]) return { error: 'mistyped' };
  return { code };
}

/** `XXXX-XXXX-XXXX`, as printed on the label. */
export function displayCode(code) {
  return String(code).match(/.{1,4}/g)?.join('-') ?? code;
}

/**
 * A UUID v7 (time-ordered, as the contract recommends) from `crypto.getRandomValues`, which,
 * unlike `crypto.randomUUID`, also exists on a plain-HTTP intranet address.
 */
export function uuidv7(now = Date.now()) {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let ms = BigInt(now);
  for (let i = 5; i >= 0; i--) { b[i] = Number(ms & 0xffn); ms >>= 8n; }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The device's time as RFC 3339 with its offset (what the driver's watch said). */
export function deviceTime(d = new Date()) {
  const p = (n) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
    + `.${String(d.getMilliseconds()).padStart(3, '0')}${sign}${p(off / 60)}:${p(off % 60)}`;
}

/** This browser's device id, sent with every scan (`web-` and random). */
export function deviceId() {
  const KEY = 'yifei.driver.device';
  let id = localStorage.getItem(KEY);
  if (!id) {
    id = `web-${uuidv7().slice(-12)}`;
    localStorage.setItem(KEY, id);
  }
  return id;
}

// ---------------------------------------------------------------- IndexedDB

let opening = null;
function db() {
  opening ??= new Promise((ok, fail) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = (e) => {
      const d = req.result;
      if (e.oldVersion < 1) {
        // A day of a driver: key `${user_id}|${date}`, the /me/runs answer and when it was read.
        d.createObjectStore('days', { keyPath: 'key' });
        // One record per scan, keyed by its event id; `status` pending | accepted | duplicate | rejected.
        d.createObjectStore('scans', { keyPath: 'event_id' }).createIndex('user', 'user_id');
        // Skips recorded offline; `status` pending | done | refused.
        d.createObjectStore('skips', { keyPath: 'id' }).createIndex('user', 'user_id');
      }
      if (e.oldVersion < 2) {
        // GPS fixes of a run under way, until uploaded (then deleted).
        d.createObjectStore('fixes', { autoIncrement: true }).createIndex('user', 'user_id');
      }
    };
    req.onsuccess = () => {
      req.result.onversionchange = () => { req.result.close(); opening = null; };
      ok(req.result);
    };
    req.onerror = () => { opening = null; fail(req.error); };
  });
  return opening;
}

/** Runs `fn(stores)` in one transaction; resolves with its result once committed. */
async function inTx(names, mode, fn) {
  const d = await db();
  return new Promise((ok, fail) => {
    const tx = d.transaction(names, mode);
    const stores = Object.fromEntries(names.map((n) => [n, tx.objectStore(n)]));
    let result;
    tx.oncomplete = () => ok(result);
    tx.onerror = () => fail(tx.error);
    tx.onabort = () => fail(tx.error || new Error('transaction aborted'));
    Promise.resolve(fn(stores)).then((r) => { result = r; }, (e) => { tx.abort(); fail(e); });
  });
}

const req = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });

export async function saveDay(userId, date, items) {
  const rec = { key: `${userId}|${date}`, user_id: userId, date, items, fetched_at: new Date().toISOString() };
  await inTx(['days'], 'readwrite', (s) => { s.days.put(rec); });
  return rec;
}

export async function loadDay(userId, date) {
  return inTx(['days'], 'readonly', (s) => req(s.days.get(`${userId}|${date}`)));
}

export async function scansOf(userId) {
  const all = await inTx(['scans'], 'readonly', (s) => req(s.scans.index('user').getAll(userId)));
  return all.sort((a, b) => a.recorded_at.localeCompare(b.recorded_at));
}

export async function skipsOf(userId) {
  const all = await inTx(['skips'], 'readonly', (s) => req(s.skips.index('user').getAll(userId)));
  return all.sort((a, b) => a.recorded_at.localeCompare(b.recorded_at));
}

/** Scans of every user on this device still to upload (another driver's wait for their sign-in). */
export async function pendingOfOthers(userId) {
  const all = await inTx(['scans', 'skips'], 'readonly', async (s) => [
    ...(await req(s.scans.getAll())), ...(await req(s.skips.getAll()))]);
  return all.filter((r) => r.user_id !== userId && r.status === 'pending').length;
}

/**
 * Queues a collect scan, or a refusal at the door. `scan`: `{ user_id, run_id, stop_seq,
 * institution_id, code, weight_kg, weight_source?, location?, method }`, or with
 * `action: 'refuse', reason` and no weight; the event id and the device time are made here, once, so a resend is
 * recognised by the server.
 */
export async function queueScan(scan) {
  const now = new Date();
  const rec = {
    ...scan,
    event_id: uuidv7(now.getTime()),
    occurred_at: deviceTime(now),
    recorded_at: now.toISOString(),
    device_id: deviceId(),
    status: 'pending',
    tries: 0,
  };
  await inTx(['scans'], 'readwrite', (s) => { s.scans.add(rec); });
  changed();
  return rec;
}

/** Queues a skip of a stop (`{ user_id, run_id, seq, institution_id, name, reason }`). */
export async function queueSkip(skip) {
  const rec = { ...skip, id: uuidv7(), recorded_at: new Date().toISOString(), status: 'pending' };
  await inTx(['skips'], 'readwrite', (s) => { s.skips.add(rec); });
  changed();
  return rec;
}

/** Keeps a GPS fix of a run under way (`{ user_id, run_id, lat, lng, at }`) for the track upload. */
export async function queueFix(fix) {
  await inTx(['fixes'], 'readwrite', (s) => { s.fixes.add(fix); });
}

/** GPS fixes waiting for the upload, with their keys. */
export async function fixesOf(userId) {
  return inTx(['fixes'], 'readonly', async (s) => {
    const idx = s.fixes.index('user');
    const [keys, values] = await Promise.all([req(idx.getAllKeys(userId)), req(idx.getAll(userId))]);
    return values.map((v, i) => ({ ...v, key: keys[i] }));
  });
}

/** Drops a refused scan or skip the driver has read (only those: a pending one must upload). */
export async function dismiss(kind, id) {
  await inTx([kind], 'readwrite', async (s) => {
    const rec = await req(s[kind].get(id));
    if (rec && (rec.status === 'rejected' || rec.status === 'refused')) s[kind].delete(id);
  });
  changed();
}

/** Forgets uploaded scans, finished skips and stored days more than a few days old (a refused
 * scan stays until the driver has read it, a pending one until it is uploaded). */
export async function prune(now = Date.now()) {
  const old = (iso) => now - Date.parse(iso) > KEEP_MS;
  await inTx(['scans', 'skips', 'days'], 'readwrite', async (s) => {
    for (const r of await req(s.scans.getAll())) if (r.status !== 'pending' && r.status !== 'rejected' && old(r.recorded_at)) s.scans.delete(r.event_id);
    for (const r of await req(s.skips.getAll())) if (r.status === 'done' && old(r.recorded_at)) s.skips.delete(r.id);
    // A day goes by its date, not by when it was read: a phone offline for days keeps today's.
    for (const r of await req(s.days.getAll())) if (old(`${r.date}T23:59:59Z`)) s.days.delete(r.key);
  });
}

// ---------------------------------------------------------------- upload

const listeners = new Set();
/** `fn()` runs whenever the queue or the upload's status changes. */
export function onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }
function changed() { listeners.forEach((fn) => { try { fn(); } catch { /* a gone page */ } }); }

/** The upload's state for the page: `idle`, `sending`, `offline`, `retrying` (with `retryAt`), `signedOut`. */
export const status = { phase: 'idle', retryAt: null, lastSync: null, error: null, user: null };

let running = null;
let timer = null;
let failures = 0;

/** Retry delay after `n` failed rounds: 2 s doubling to 5 minutes, with jitter so that a
 * fleet coming back into coverage does not upload in lockstep. */
export function backoff(n, rand = Math.random) {
  const base = Math.min(300, 2 ** Math.min(n + 1, 9)) * 1000;
  return Math.round(base * (0.75 + rand() * 0.5));
}

function setPhase(phase, extra = {}) { Object.assign(status, { phase, error: null, retryAt: null }, extra); changed(); }

/** Starts uploading the user's queue now (one round at a time; calls while one runs share it). */
export function sync(userId) {
  status.user = userId;
  clearTimeout(timer);
  running ??= (async () => {
    try {
      const lock = navigator.locks?.request
        ? (fn) => navigator.locks.request('yifei-driver-upload', fn) // one tab uploads at a time
        : (fn) => fn();
      await lock(() => round(userId));
    } finally {
      running = null;
    }
  })();
  return running;
}

async function round(userId) {
  const pending = (await scansOf(userId)).filter((s) => s.status === 'pending');
  const skips = (await skipsOf(userId)).filter((s) => s.status === 'pending');
  if (!pending.length && !skips.length) {
    failures = 0;
    if (navigator.onLine) await sendTrack(userId).catch(() => {});
    setPhase('idle');
    return;
  }
  if (!navigator.onLine) { setPhase('offline'); return; }
  setPhase('sending');
  try {
    for (let i = 0; i < pending.length; i += BATCH) await upload(pending.slice(i, i + BATCH));
    for (const k of skips) await sendSkip(k);
    await sendTrack(userId);
    failures = 0;
    setPhase('idle', { lastSync: new Date().toISOString() });
    // Scans recorded during the upload go in the next round.
    if ((await scansOf(userId)).some((s) => s.status === 'pending')) setTimeout(() => sync(userId), 0);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      // The refresh cookie is spent or revoked too: keep everything, upload after sign-in.
      setPhase('signedOut');
      return;
    }
    if (e instanceof ApiError && e.offline && !navigator.onLine) { setPhase('offline'); return; }
    // A 429 says how long to wait (Retry-After; its detail says "retry in N s"): never sooner.
    const after = e instanceof ApiError && e.status === 429
      ? 1000 * Number(/retry in (\d+) s/.exec(e.problem?.detail || '')?.[1] || 60) : 0;
    const wait = Math.max(after, backoff(failures++));
    setPhase('retrying', { retryAt: new Date(Date.now() + wait).toISOString(), error: e.message });
    timer = setTimeout(() => sync(userId), wait);
  }
}

/** Is this failure worth retrying later (network, server fault, overload), as opposed to a
 * refusal of the request itself? */
function transient(e) {
  return !(e instanceof ApiError) || e.offline || e.status >= 500 || e.status === 408 || e.status === 429 || e.status === 401;
}

function wire(s) {
  // A refusal at the door (`action: 'refuse'`, with its reason code) carries no weight.
  const ev = s.action === 'refuse'
    ? { event_id: s.event_id, code: s.code, action: 'refuse', occurred_at: s.occurred_at, reason: s.reason, device_id: s.device_id, method: s.method }
    : { event_id: s.event_id, code: s.code, action: 'collect', occurred_at: s.occurred_at, weight_kg: s.weight_kg, device_id: s.device_id, method: s.method };
  if (s.weight_source && ev.weight_kg !== undefined) ev.weight_source = s.weight_source;
  if (s.run_id) ev.run_id = s.run_id;
  if (s.location) ev.location = s.location;
  return ev;
}

/** One batch; each event's outcome is stored from the answer. */
async function upload(batch) {
  let answer;
  try {
    answer = await api.post('/scans', { events: batch.map(wire) });
  } catch (e) {
    if (transient(e) || batch.length === 1) {
      if (!transient(e)) return settle([{ event_id: batch[0].event_id, status: 'rejected', reason: 'invalid', detail: e.message }]);
      throw e;
    }
    // The batch was refused whole (400/413/422): judge the events one by one, so one bad
    // record cannot hold the others back for ever.
    for (const one of batch) await upload([one]);
    return undefined;
  }
  return settle(answer.results || []);
}

async function settle(results) {
  await inTx(['scans'], 'readwrite', async (s) => {
    for (const r of results) {
      const rec = await req(s.scans.get(r.event_id));
      if (!rec) continue;
      rec.tries = (rec.tries || 0) + 1;
      rec.status = r.status; // accepted | duplicate | rejected
      rec.state = r.state ?? rec.state ?? null;
      rec.reason = r.reason ?? null;
      rec.field = r.field ?? null;
      rec.detail = r.detail ?? null;
      rec.answered_at = new Date().toISOString();
      s.scans.put(rec);
    }
  });
  changed();
}

/**
 * A queued skip. Stops are renumbered when the dispatcher inserts an urgent one, so the stop is
 * found again by its institution in the run as it is now before the skip is sent; the server
 * answers a stop already skipped with the run (a resend is harmless) and a completed one with 409.
 */
async function sendSkip(k) {
  let outcome;
  try {
    const run = await api.get(`/runs/${encodeURIComponent(k.run_id)}`);
    const stop = (run.stops || []).find((x) => x.institution_id === k.institution_id && x.status !== 'completed')
      || (run.stops || []).find((x) => x.institution_id === k.institution_id);
    if (!stop) outcome = { status: 'refused', detail: 'no_stop' };
    else if (stop.status === 'completed') outcome = { status: 'refused', detail: 'completed' };
    else {
      await api.post(`/runs/${encodeURIComponent(k.run_id)}/stops/${stop.seq}/skip`, { reason: k.reason });
      outcome = { status: 'done' };
    }
  } catch (e) {
    if (transient(e)) throw e;
    outcome = { status: 'refused', detail: e.message };
  }
  await inTx(['skips'], 'readwrite', (s) => { s.skips.put({ ...k, ...outcome, answered_at: new Date().toISOString() }); });
  changed();
}

let watching = false;
/**
 * The GPS track, run by run, in batches of up to 1000 fixes. The server stores each fix once
 * (a resend is harmless) and refuses too old or future ones alone; either way they leave the
 * device. A run the server refuses outright (403/404/422) drops its fixes too: they cannot
 * become valid by waiting.
 */
async function sendTrack(userId) {
  const fixes = await fixesOf(userId);
  const byRun = new Map();
  for (const f of fixes) byRun.set(f.run_id, [...(byRun.get(f.run_id) || []), f]);
  for (const [run, list] of byRun) {
    for (let i = 0; i < list.length; i += 1000) {
      const part = list.slice(i, i + 1000);
      try {
        await api.post(`/runs/${encodeURIComponent(run)}/positions`, { positions: part.map((f) => ({ lat: f.lat, lng: f.lng, at: f.at })) });
      } catch (e) {
        if (transient(e)) throw e;
      }
      await inTx(['fixes'], 'readwrite', (s) => { part.forEach((f) => s.fixes.delete(f.key)); });
    }
  }
}

/** Uploads when the network returns, the page comes back to the front, or a retry is due
 * (listeners installed once; they upload for whoever is signed in now). */
export function watch(userId) {
  status.user = userId;
  if (watching) return;
  watching = true;
  const kick = () => { failures = 0; if (status.user) sync(status.user); };
  window.addEventListener('online', kick);
  window.addEventListener('offline', () => { if (status.phase !== 'sending') setPhase('offline'); });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') kick(); });
}
