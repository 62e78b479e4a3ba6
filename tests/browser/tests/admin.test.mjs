// The admin's day in the browser: accounts (create one, deactivate and reactivate one, reset a
// password the user then signs in with), the organisations, epidemic mode on and off; the
// pages fit a phone; a dispatcher opening them is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, signIn, apiToken, apiGet, screenshot } from '../lib/harness.mjs';

let server; let browser; let token;
before(async () => { server = await startServer(); browser = await launch(); token = await apiToken(server.base, 'admin'); });
after(async () => { await browser?.close(); await server?.stop(); });

async function canSignIn(login, password) {
  const r = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password }),
  });
  return r.status;
}

async function users() {
  const items = [];
  let cursor = '';
  do {
    const page = await apiGet(server.base, token, `/users?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

test('the admin deactivates, reactivates and resets the password of an account', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'admin');
  await page.getByRole('heading', { name: '用户账号' }).waitFor();
  const all = await users();
  await page.getByRole('heading', { name: `账号（${all.length}）` }).waitFor();
  assert.equal(await page.locator('main table tbody tr').count(), all.length);
  await screenshot(page, 'admin-users');

  // Deactivate driver2: it cannot sign in; reactivate: it can again, with its password.
  assert.equal(await canSignIn('driver2', 'yifei-demo-2026'), 200);
  await page.getByRole('button', { name: '停用 driver2' }).click();
  await page.getByText(/^已停用 driver2/).waitFor();
  assert.equal(await canSignIn('driver2', 'yifei-demo-2026'), 401);
  assert.equal((await users()).find((u) => u.login === 'driver2').active, false);
  const row = page.locator('main table tbody tr').filter({ hasText: 'driver2' });
  assert.match(await row.textContent(), /已停用/);
  await page.getByRole('button', { name: '启用 driver2' }).click();
  await page.getByText(/^已重新启用 driver2/).waitFor();
  assert.equal(await canSignIn('driver2', 'yifei-demo-2026'), 200);

  // Reset driver3's password: the old one stops working, the new one signs in in a browser.
  await page.getByRole('button', { name: '重置密码 driver3' }).click();
  const reset = page.locator('form.reset-form:not([hidden])');
  // A password against the policy is refused with the reason, nothing changed.
  await reset.getByLabel('driver3 的新密码').fill('short');
  await reset.getByLabel('driver3 的新密码').evaluate((el) => el.removeAttribute('minlength'));
  await reset.getByRole('button', { name: '设置密码' }).click();
  await reset.locator('.notice.error').getByText(/new_password/).waitFor();
  assert.equal(await canSignIn('driver3', 'yifei-demo-2026'), 200);
  await reset.getByLabel('driver3 的新密码').fill('a new pass phrase 42');
  await reset.getByRole('button', { name: '设置密码' }).click();
  await page.getByText(/^已为 driver3 设置新密码/).waitFor();
  assert.equal(await canSignIn('driver3', 'yifei-demo-2026'), 401);
  const driverPage = await openPage(browser, server.base);
  await signIn(driverPage, server.base, 'driver3', 'a new pass phrase 42');
  await driverPage.context().close();

  // The admin's own row offers no action (no self-lockout).
  const own = page.locator('main table tbody tr').filter({ has: page.getByText('admin', { exact: true }) });
  assert.match(await own.textContent(), /（您）/);
  assert.equal(await own.getByRole('button').count(), 0);
  assert.deepEqual(page.offsite, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the admin creates a driver account in the company, who then signs in', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'admin');
  const form = page.locator('form.admin-create');
  await form.getByLabel('用户名').fill('Driver9');
  await form.getByLabel('姓名（可选）').fill('赵师傅');
  await form.getByLabel('角色').selectOption('driver');
  const company = (await apiGet(server.base, token, '/organisations')).items.find((o) => o.kind === 'disposal_company');
  const tenants = await form.getByLabel('所属单位').locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(tenants, [company.id], 'a driver can only belong to the disposal company');
  await form.getByRole('button', { name: '生成密码' }).click();
  const password = await form.getByLabel('初始密码').inputValue();
  assert.match(password, /^[a-z0-9]{4}(-[a-z0-9]{4}){3}$/);
  await form.getByRole('button', { name: '创建账号' }).click();
  await page.getByText('已创建 driver9（司机）。').waitFor();
  const created = (await users()).find((u) => u.login === 'driver9');
  assert.equal(created.role, 'driver');
  assert.equal(created.org_id, company.id);
  assert.equal(created.display_name, '赵师傅');
  assert.equal(await canSignIn('driver9', password), 200);
  // The dispatcher sees the new driver to assign to a vehicle.
  const dispatcher = await apiToken(server.base, 'dispatch');
  assert.ok((await apiGet(server.base, dispatcher, '/drivers')).items.some((d) => d.login === 'driver9'));
  // A taken login is refused, with the reason on the form.
  const again = page.locator('form.admin-create');
  await again.getByLabel('用户名').fill('driver9');
  await again.getByLabel('初始密码').fill('another long pass');
  await again.getByRole('button', { name: '创建账号' }).click();
  await again.locator('.notice.error').getByText(/already taken/).waitFor();
  // The filter narrows the table to the role.
  await page.locator('form.admin-filter').getByLabel('角色').selectOption('driver');
  const drivers = (await users()).filter((u) => u.role === 'driver').length;
  await page.getByRole('heading', { name: `账号（${drivers}）` }).waitFor();
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.offsite, []);
  await page.context().close();
});

test('the admin sees the organisations and switches epidemic mode on and off', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'admin');
  await page.getByRole('link', { name: '组织' }).click();
  await page.getByRole('heading', { name: '组织' }).waitFor();
  const orgs = (await apiGet(server.base, token, '/organisations')).items;
  assert.equal(await page.locator('main table tbody tr').count(), orgs.length);
  for (const o of orgs) await page.locator('main table').getByText(o.name, { exact: true }).waitFor();
  assert.match(await page.locator('main table').textContent(), /处置公司/);

  await page.getByRole('link', { name: '疫情模式' }).click();
  assert.equal((await apiGet(server.base, token, '/settings/epidemic-mode')).enabled, false);
  await page.getByText('疫情模式未开启').waitFor();
  await page.getByRole('button', { name: '开启疫情模式' }).click();
  await page.getByText('疫情模式已开启。').waitFor();
  assert.equal((await apiGet(server.base, token, '/settings/epidemic-mode')).enabled, true);
  await page.getByRole('button', { name: '关闭疫情模式' }).click();
  await page.getByText('疫情模式已关闭。').waitFor();
  assert.equal((await apiGet(server.base, token, '/settings/epidemic-mode')).enabled, false);
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.offsite, []);
  await page.context().close();
});

test('the admin pages fit 360 px and 1280 px, in English too', async () => {
  for (const width of [360, 1280]) {
    const page = await openPage(browser, server.base, { viewport: { width, height: 800 } });
    await signIn(page, server.base, 'admin');
    for (const path of ['/admin', '/admin/orgs', '/admin/epidemic']) {
      await page.goto(`${server.base}/#${path}`);
      await page.locator('main h1').waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${path} is ${overflow} px wider than ${width} px`);
    }
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Epidemic mode' }).waitFor();
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('a dispatcher opening the admin pages is refused, and so is the API', async () => {
  const page = await openPage(browser, server.base);
  await signIn(page, server.base, 'dispatch');
  for (const path of ['/admin', '/admin/orgs', '/admin/epidemic']) {
    await page.goto(`${server.base}/#${path}`);
    await page.getByRole('heading', { name: '无权访问' }).waitFor();
  }
  const status = await page.evaluate(async () => (await fetch('/api/v1/users', {
    method: 'POST', headers: { 'X-Yifei-Console': '1', 'Content-Type': 'application/json' },
    body: JSON.stringify({ login: 'sneaky', role: 'admin', password: 'a long password here' }),
  })).status);
  assert.equal(status, 403);
  assert.deepEqual(page.offsite, []);
  await page.context().close();
});
