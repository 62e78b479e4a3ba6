// What every browser test needs: the real `yifei serve --demo` on a free port (SQLite in a
// fresh folder, or a fresh PostgreSQL database), Debian's Chromium driven by playwright-core,
// and a guard that fails the test if the page asks for anything off this machine.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../../..');
export const BIN = process.env.YIFEI_BIN ? resolve(process.env.YIFEI_BIN) : join(ROOT, 'target/debug/yifei');
export const BACKEND = process.env.YIFEI_BROWSER_DB || 'sqlite';
export const PASSWORD = 'yifei-demo-2026';
const PG_ADMIN = process.env.YIFEI_PG_ADMIN || 'postgresql://postgres@127.0.0.1:5432/postgres';
const CHROMIUM = process.env.YIFEI_CHROMIUM || '/usr/bin/chromium';

/** Starts the demo server; resolves to `{ base, stop() }`. */
export async function startServer(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'yifei-browser-'));
  let dbName = null;
  let url;
  if (BACKEND === 'postgres') {
    dbName = `yifei_browser_${randomBytes(6).toString('hex')}`;
    execFileSync('psql', ['-q', PG_ADMIN, '-c', `CREATE DATABASE "${dbName}"`]);
    url = PG_ADMIN.replace(/\/[^/]*$/, `/${dbName}`);
  } else {
    url = `sqlite://${join(dir, 'yifei.db')}`;
  }
  const child = spawn(BIN, ['serve', '--demo'], {
    env: {
      ...process.env,
      YIFEI_DATABASE_URL: url, YIFEI_BIND: '127.0.0.1:0', YIFEI_LOG: 'warn',
      YIFEI_JWT_SECRET: randomBytes(48).toString('base64url'),
      YIFEI_PLAN_TIME_LIMIT_MS: '1500',
      // Every login of a test comes from 127.0.0.1: the per-address limits are tested elsewhere.
      YIFEI_AUTH_RATE_LIMIT: '100000', YIFEI_SIGNUP_RATE_LIMIT: '100000',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the server did not start:\n${log}`)), 120000);
    const read = (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/[0-9.]+:[0-9]+)/.exec(log);
      if (m) { clearTimeout(timer); ok(m[1]); }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`the server exited (${code}):\n${log}`)); });
  });
  return {
    base,
    log: () => log,
    async stop() {
      child.removeAllListeners('exit');
      child.kill('SIGTERM');
      await new Promise((r) => { child.once('exit', r); setTimeout(r, 5000); });
      if (dbName) execFileSync('psql', ['-q', PG_ADMIN, '-c', `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium with the flags this machine needs; no browser download. */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A page (in a fresh context) on `base`: every request off 127.0.0.1 is aborted and recorded
 * in `page.offsite`, page errors in `page.errors`, CSP reports among them.
 */
export async function openPage(browser, base, { viewport = { width: 1280, height: 900 }, context: ctxOptions = {} } = {}) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...ctxOptions });
  const page = await context.newPage();
  page.offsite = [];
  page.errors = [];
  const origin = new URL(base).origin;
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.origin === origin || u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    page.offsite.push(u.href);
    return route.abort();
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  // Chromium logs every refused request (a 401 before sign-in, a test's own 403) as a console
  // error; those are answers, not faults of the page.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) page.errors.push(m.text()); });
  return page;
}

/** Signs in through the form, as a person would. */
export async function signIn(page, base, login, password = PASSWORD) {
  await page.goto(`${base}/`);
  await page.getByLabel(/用户名|Login/).fill(login);
  await page.getByLabel(/密码|Password/).fill(password);
  await page.getByRole('button', { name: /^(登录|Sign in)$/ }).click();
  await page.locator('#who').getByText(login).waitFor();
}

/** The API as the mobile app sees it, for comparing the page with the server's figures. */
export async function apiToken(base, login, password = PASSWORD) {
  const r = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password }),
  });
  if (!r.ok) throw new Error(`login ${login}: ${r.status} ${await r.text()}`);
  return (await r.json()).access_token;
}

export async function apiGet(base, token, path) {
  const r = await fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Saves a screenshot under docs/screenshots/ when YIFEI_SCREENSHOTS=1 (README shows them). */
export async function screenshot(page, name) {
  if (process.env.YIFEI_SCREENSHOTS !== '1') return;
  const dir = join(ROOT, 'docs/screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}
