// Admin: the accounts of the deployment.
import { all } from '../api.js';
import { h, table } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: { 'nav.admin': '账号', 'admin.title': '用户', 'col.login': '用户名', 'col.role': '角色', 'col.active': '状态', 'admin.active': '启用', 'admin.inactive': '停用' },
  en: { 'nav.admin': 'Accounts', 'admin.title': 'Users', 'col.login': 'Login', 'col.role': 'Role', 'col.active': 'Status', 'admin.active': 'active', 'admin.inactive': 'deactivated' },
});

async function render(page) {
  const users = await all('/users');
  page.append(h('h1', null, t('admin.title')), table([
    { label: t('col.login'), value: (u) => u.login },
    { label: t('col.role'), value: (u) => t(`role.${u.role}`) },
    { label: t('col.active'), value: (u) => (u.active ? t('admin.active') : t('admin.inactive')) },
  ], users));
}

export const routes = [{ path: '/admin', nav: 'nav.admin', roles: ['admin'], render }];
