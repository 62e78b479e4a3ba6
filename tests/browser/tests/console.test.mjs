// The console's shell: sign-in through cookies no script can read, the page policy, the
// language switch, the denial of another role's page, and nothing fetched off the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, signIn } from '../lib/harness.mjs';

let server; let browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

test('sign-in keeps the tokens out of page scripts and forbids inline script', async () => {
  const page = await openPage(browser, server.base);
  const res = await page.goto(`${server.base}/`);
  const csp = res.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  await signIn(page, server.base, 'bureau');
  const cookies = await page.context().cookies();
  const access = cookies.find((c) => c.name === 'yifei_at');
  assert.ok(access, 'the access cookie is set');
  assert.equal(access.httpOnly, true);
  assert.equal(access.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie is readable by script');
  // An inline script injected into the page does not run.
  const ran = await page.evaluate(() => {
    window.__ran = false;
    const s = document.createElement('script');
    s.textContent = 'window.__ran = true';
    document.body.append(s);
    return new Promise((r) => setTimeout(() => r(window.__ran), 100));
  });
  assert.equal(ran, false, 'the CSP blocks inline script');
  assert.deepEqual(page.offsite, []);
  await page.context().close();
});

test('a cookie without the console header is refused, so another origin cannot forge calls', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'bureau');
  const status = await page.evaluate(async () => {
    const plain = await fetch('/api/v1/me', { credentials: 'same-origin' });
    const console_ = await fetch('/api/v1/me', { credentials: 'same-origin', headers: { 'X-Yifei-Console': '1' } });
    return [plain.status, console_.status];
  });
  assert.deepEqual(status, [403, 200]);
  await page.context().close();
});

test('a clinic opening a bureau page is refused, in Chinese and in English', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'clinic');
  await page.goto(`${server.base}/#/bureau`);
  await page.getByRole('heading', { name: '无权访问' }).waitFor();
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  // The API refuses too: the page is not the only guard.
  const status = await page.evaluate(async () => (await fetch('/api/v1/reports/coverage', { headers: { 'X-Yifei-Console': '1' } })).status);
  assert.equal(status, 403);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('signing out ends the session on the server', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'dispatch');
  await page.getByRole('button', { name: /退出|Sign out/ }).click();
  await page.getByRole('heading', { name: /登录医废|Sign in to Yifei/ }).waitFor();
  const cookies = await page.context().cookies();
  assert.equal(cookies.filter((c) => c.name.startsWith('yifei_')).length, 0);
  await page.context().close();
});

test('the sign-in page works at 360 px wide', async () => {
  const page = await openPage(browser, server.base, { viewport: { width: 360, height: 740 } });
  await page.goto(`${server.base}/`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
  await page.context().close();
});
