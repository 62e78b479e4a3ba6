// The console's service worker: keeps the pages and scripts on the device so the driver's
// screen opens without network. API answers are never cached here (the driver's page keeps
// its run and its scan queue in IndexedDB itself).
const CACHE = 'yifei-shell-v1';
const SHELL = ['/', '/assets/app.css', '/assets/js/app.js', '/assets/js/api.js', '/assets/js/dom.js',
  '/assets/js/i18n.js', '/assets/icon.svg', '/manifest.webmanifest'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// Network first (a new release shows at once), the stored copy when the network fails; every
// page file fetched is stored, so modules the shell imports are kept too.
self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  const key = url.pathname === '/' || url.pathname === '/index.html' ? '/' : url.pathname;
  e.respondWith(fetch(req).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(key, copy));
    }
    return res;
  }).catch(() => caches.match(key).then((hit) => hit || Response.error())));
});
