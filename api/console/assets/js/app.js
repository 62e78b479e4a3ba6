// The console's shell: who is signed in, the navigation of their role, and the page of the
// address (hash routes such as #/bureau or #/institutions/ID, so the server serves one file).
import { api, onSignedOut, ApiError } from './api.js';
import { h, put, notice } from './dom.js';
import { t, lang, setLang } from './i18n.js';
import { loginPage } from './pages/login.js';
import * as bureau from './pages/bureau.js';
import * as dispatch from './pages/dispatch.js';
import * as clinic from './pages/clinic.js';
import * as plant from './pages/plant.js';
import * as admin from './pages/admin.js';
import * as driver from './pages/driver.js';

/** Every page: `{ path: '/a/:id', nav?: 'string key', roles: [...], render(main, ctx) }`. */
const ROUTES = [bureau, dispatch, clinic, plant, admin, driver].flatMap((m) => m.routes);

const state = { me: null };
const main = document.getElementById('main');

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const r of ROUTES) {
    const want = r.path.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    if (want.every((w, i) => (w.startsWith(':') ? ((params[w.slice(1)] = decodeURIComponent(parts[i])), true) : w === parts[i]))) {
      return { route: r, params };
    }
  }
  return null;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { path: path || '/', query: Object.fromEntries(new URLSearchParams(qs || '')) };
}

/** Goes to a page: `navigate('/bureau', { township: 'x' })`. */
export function navigate(path, query) {
  const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString() : '';
  location.hash = `#${path}${qs ? `?${qs}` : ''}`;
}

/** The first page of a role's navigation: where it lands after signing in. */
function home(role) {
  return ROUTES.find((r) => r.nav && r.roles.includes(role))?.path || '/';
}

function renderHeader() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  const langButton = h('button', { type: 'button', class: 'link', lang: lang() === 'zh' ? 'en' : 'zh-CN', onclick: () => { setLang(lang() === 'zh' ? 'en' : 'zh'); renderHeader(); route(); } }, t('app.lang'));
  if (!state.me) {
    put(nav);
    put(who, langButton);
    return;
  }
  const { path } = parseHash();
  put(nav, ROUTES.filter((r) => r.nav && r.roles.includes(state.me.role)).map((r) =>
    h('a', { href: `#${r.path}`, 'aria-current': path === r.path ? 'page' : null }, t(r.nav))));
  put(who,
    h('span', null, `${state.me.login} · ${t(`role.${state.me.role}`)}${state.me.org_name ? ` · ${state.me.org_name}` : ''}`),
    langButton,
    h('button', { type: 'button', class: 'link', onclick: signOut }, t('app.signout')));
}

async function signOut() {
  try { await api.signOut(); } catch { /* signed out locally anyway */ }
  driver.forgetIdentity();
  state.me = null;
  navigate('/');
  renderHeader();
  route();
}

async function loadMe() {
  try {
    state.me = await api.get('/me');
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) throw e;
    state.me = null;
  }
}

let generation = 0;
async function route() {
  const mine = ++generation;
  const { path, query } = parseHash();
  document.documentElement.lang = lang() === 'en' ? 'en' : 'zh-CN';
  renderHeader();
  if (!state.me) {
    put(main, loginPage(async () => { await loadMe(); navigate(home(state.me?.role)); renderHeader(); route(); }));
    document.title = `${t('login.title')} · ${t('app.name')}`;
    return;
  }
  if (path === '/') return navigate(home(state.me.role));
  const found = match(path);
  if (!found) {
    put(main, h('h1', null, t('app.notfound')));
    return;
  }
  if (!found.route.roles.includes(state.me.role)) {
    put(main, h('h1', null, t('app.refused')), notice('error', t('app.refused.body', { role: t(`role.${state.me.role}`) })));
    document.title = `${t('app.refused')} · ${t('app.name')}`;
    return;
  }
  put(main, h('p', { class: 'loading' }, t('app.loading')));
  const ctx = { me: state.me, params: found.params, query, navigate, stale: () => mine !== generation };
  try {
    const page = h('div', { class: 'page' });
    await found.route.render(page, ctx);
    if (mine !== generation) return;
    put(main, page);
    const title = page.querySelector('h1')?.textContent;
    document.title = `${title ? `${title} · ` : ''}${t('app.name')}`;
  } catch (e) {
    if (mine !== generation) return;
    put(main, h('h1', null, t('app.error')), notice('error', e.message, ...(e.fields || []).map((f) => h('div', null, f))),
      h('button', { type: 'button', onclick: route }, t('app.retry')));
  }
}

function showNetwork() {
  const el = document.getElementById('net');
  el.hidden = navigator.onLine;
  el.className = 'net offline';
  el.textContent = t('app.offline');
}

onSignedOut(() => { state.me = null; route(); });
window.addEventListener('hashchange', route);
window.addEventListener('online', showNetwork);
window.addEventListener('offline', showNetwork);
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});

(async () => {
  showNetwork();
  try {
    await loadMe();
  } catch (e) {
    // Offline at start: the driver's page works from what it stored; others show the error.
    state.me = e instanceof ApiError && e.offline ? driver.offlineIdentity() : null;
  }
  route();
})();
