// The console's service worker: keeps the pages and scripts on the device so the driver's
// screen opens without network. API answers are never cached here (the driver's page keeps
// its run and its scan queue in IndexedDB itself).
const CACHE = 'yifei-shell-v2';
// Every file the shell and its pages load (app.js imports every role's page module, so the
// page needs all of them to start offline). A file added later is kept too: the page sends
// the list of what it loaded (`keep` below), and every file fetched through here is stored.
const SHELL = ['/', '/assets/app.css', '/assets/js/app.js', '/assets/js/api.js', '/assets/js/dom.js',
  '/assets/js/i18n.js', '/assets/icon.svg', '/manifest.webmanifest',
  '/assets/icon-192.png', '/assets/icon-512.png',
  '/assets/js/pages/login.js', '/assets/js/pages/bureau.js', '/assets/js/pages/dispatch.js',
  '/assets/js/pages/clinic.js', '/assets/js/pages/plant.js', '/assets/js/pages/admin.js',
  '/assets/js/pages/driver.js', '/assets/js/pages/driver-queue.js',
  '/assets/css/bureau.css', '/assets/css/dispatch.css', '/assets/css/clinic.css',
  '/assets/css/plant.css', '/assets/css/admin.css', '/assets/css/driver.css'];
/** A network slower than this (a bar of signal that carries nothing) gets the stored copy. */
const PATIENCE_MS = 4000;

const keyOf = (url) => (url.pathname === '/' || url.pathname === '/index.html' ? '/' : url.pathname);
const mine = (url) => url.origin === location.origin && !url.pathname.startsWith('/api/');

// One file missing must not stop the others being kept (nor the worker installing).
const keep = (c, paths) => Promise.all(paths.map((p) => c.add(p).catch(() => {})));

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => keep(c, SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// `{ type: 'keep', urls: [...] }` from a page: the files it loaded before this worker
// controlled it (the first visit), so they are on the device for the next, offline, start.
self.addEventListener('message', (e) => {
  if (e.data?.type !== 'keep' || !Array.isArray(e.data.urls)) return;
  const paths = e.data.urls.map((u) => { try { return new URL(u, location.origin); } catch { return null; } })
    .filter((u) => u && mine(u)).map(keyOf);
  e.waitUntil(caches.open(CACHE).then(async (c) => {
    const missing = [];
    for (const p of new Set(paths)) if (!(await c.match(p))) missing.push(p);
    return keep(c, missing);
  }));
});

// Network first (a new release shows at once), the stored copy when the network fails or
// dawdles; every page file fetched is stored, so modules the shell imports are kept too.
self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || !mine(url)) return;
  const key = keyOf(url);
  const network = fetch(req).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(key, copy));
    }
    return res;
  });
  const stored = () => caches.match(key);
  e.respondWith(new Promise((resolve) => {
    let done = false;
    const give = (r) => { if (!done && r) { done = true; resolve(r); } };
    const timer = setTimeout(() => stored().then(give), PATIENCE_MS);
    network.then((res) => { clearTimeout(timer); give(res); })
      .catch(() => { clearTimeout(timer); stored().then((hit) => { give(hit || Response.error()); }); });
  }));
});
