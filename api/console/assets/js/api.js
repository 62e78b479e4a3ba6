// The console's one way to the server: the same /api/v1 as the mobile app. The session lives
// in HttpOnly cookies this script cannot read; every request carries `X-Yifei-Console: 1`,
// which a page of another origin cannot send (the server refuses cookie-borne calls without it).
const BASE = '/api/v1';
const HEADERS = { 'X-Yifei-Console': '1', Accept: 'application/json' };

/** A refused or failed call: `status` 0 means the network, not the server, failed. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || (status ? `HTTP ${status}` : 'network error'));
    this.status = status;
    this.problem = problem || null;
  }
  get offline() { return this.status === 0; }
  /** The field errors of a 422, as "field: message" lines. */
  get fields() { return (this.problem?.errors || []).map((e) => `${e.field}: ${e.message}`); }
}

const listeners = new Set();
/** Called with no argument when the session is gone (sign in again). */
export function onSignedOut(fn) { listeners.add(fn); }

let renewing = null;
/** One renewal at a time: parallel 401s share it (the refresh cookie is single use). */
function renew() {
  renewing ??= fetch(`${BASE}/console/session/refresh`, { method: 'POST', headers: HEADERS, credentials: 'same-origin' })
    .then((r) => r.ok)
    .catch(() => false)
    .finally(() => { setTimeout(() => { renewing = null; }, 0); });
  return renewing;
}

function url(path, query) {
  const u = new URL(BASE + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) u.searchParams.append(k, one);
  }
  return u.pathname + u.search;
}

async function send(method, path, { body, query, accept } = {}, retried = false) {
  const headers = { ...HEADERS };
  if (accept) headers.Accept = accept;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url(path, query), {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (res.status === 401 && !retried && !path.startsWith('/console/session')) {
    if (await renew()) return send(method, path, { body, query, accept }, true);
    listeners.forEach((fn) => fn());
  }
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch { /* not a problem body */ }
    throw new ApiError(res.status, problem);
  }
  return res;
}

async function json(res) { return res.status === 204 ? null : res.json(); }

export const api = {
  get: (path, query) => send('GET', path, { query }).then(json),
  post: (path, body, query) => send('POST', path, { body, query }).then(json),
  patch: (path, body) => send('PATCH', path, { body }).then(json),
  put: (path, body) => send('PUT', path, { body }).then(json),
  delete: (path) => send('DELETE', path).then(json),
  /** A non-JSON answer (CSV, SVG, PDF) as a Blob. */
  blob: (path, query, accept) => send('GET', path, { query, accept }).then((r) => r.blob()),
  /** Saves a download under `name` (the session cookie cannot ride on a plain link, as the
   * console header must be sent). */
  async download(path, query, name, accept) {
    const blob = await api.blob(path, query, accept);
    const href = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = href; a.download = name;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 30000);
  },
  signIn: (login, password) => send('POST', '/console/session', { body: { login, password } }).then(json),
  signOut: () => send('DELETE', '/console/session').then(json),
};

/** Every page of a keyset-paginated list (`items`, `next_cursor`), up to `max` items. */
export async function all(path, query = {}, max = 2000) {
  const items = [];
  let cursor;
  do {
    const page = await api.get(path, { ...query, limit: 200, cursor });
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
