// Admin: the deployment's accounts (create, deactivate, reactivate, reset a password), its
// organisations, and epidemic mode (admin-settings.js).
import { api, all } from '../api.js';
import { h, table, notice, field, select, dateTime } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { orgsRoute, epidemicRoute, orgKind } from './admin-settings.js';

addStrings({
  zh: {
    'nav.admin': '用户', 'admin.title': '用户账号', 'admin.users': '账号（{n}）', 'admin.filter': '筛选', 'admin.filter.hint': '按用户名、姓名或单位',
    'admin.filter.role': '角色', 'admin.allroles': '全部角色',
    'admin.col.login': '用户名', 'admin.col.name': '姓名', 'admin.col.role': '角色', 'admin.col.org': '单位', 'admin.col.status': '状态', 'admin.col.created': '创建', 'admin.col.actions': '操作',
    'admin.active': '启用', 'admin.inactive': '已停用', 'admin.deactivate': '停用', 'admin.reactivate': '启用',
    'admin.deactivated': '已停用 {login}：不能登录，所有会话已结束。', 'admin.reactivated': '已重新启用 {login}：用原密码登录。',
    'admin.reset': '重置密码', 'admin.reset.new': '{login} 的新密码', 'admin.reset.go': '设置密码', 'admin.reset.done': '已为 {login} 设置新密码，其所有会话已结束。请告知本人并提醒其修改。',
    'admin.pw.hint': '10 到 256 个字符；长的短语比复杂的短密码好记也更安全。', 'admin.pw.gen': '生成密码', 'admin.you': '（您）',
    'admin.create': '新建账号', 'admin.create.go': '创建账号', 'admin.created': '已创建 {login}（{role}）。',
    'admin.f.login': '用户名', 'admin.f.login.hint': '字母、数字和 . _ - @，3 到 64 个字符，不区分大小写', 'admin.f.name': '姓名（可选）', 'admin.f.email': '邮箱（可选，用于告警通知）',
    'admin.f.role': '角色', 'admin.f.tenant': '所属单位', 'admin.f.password': '初始密码', 'admin.f.notenant': '管理员不属于任何单位',
    'admin.tenant.org': '单位', 'admin.tenant.inst': '医疗机构', 'admin.tenant.hub': '乡镇卫生院（收集点）',
  },
  en: {
    'nav.admin': 'Users', 'admin.title': 'User accounts', 'admin.users': 'Accounts ({n})', 'admin.filter': 'Filter', 'admin.filter.hint': 'By login, name or organisation',
    'admin.filter.role': 'Role', 'admin.allroles': 'Every role',
    'admin.col.login': 'Login', 'admin.col.name': 'Name', 'admin.col.role': 'Role', 'admin.col.org': 'Belongs to', 'admin.col.status': 'Status', 'admin.col.created': 'Created', 'admin.col.actions': 'Actions',
    'admin.active': 'active', 'admin.inactive': 'deactivated', 'admin.deactivate': 'Deactivate', 'admin.reactivate': 'Reactivate',
    'admin.deactivated': 'Deactivated {login}: cannot sign in, every session ended.', 'admin.reactivated': 'Reactivated {login}: signs in with the old password.',
    'admin.reset': 'Reset password', 'admin.reset.new': 'New password for {login}', 'admin.reset.go': 'Set the password', 'admin.reset.done': 'New password set for {login}; their sessions ended. Tell them, and ask them to change it.',
    'admin.pw.hint': '10 to 256 characters; a long phrase is easier to remember and safer than a short complex one.', 'admin.pw.gen': 'Generate', 'admin.you': '(you)',
    'admin.create': 'New account', 'admin.create.go': 'Create the account', 'admin.created': 'Created {login} ({role}).',
    'admin.f.login': 'Login', 'admin.f.login.hint': 'Letters, digits and . _ - @, 3 to 64 characters, case-insensitive', 'admin.f.name': 'Name (optional)', 'admin.f.email': 'Email (optional, for alert notifications)',
    'admin.f.role': 'Role', 'admin.f.tenant': 'Belongs to', 'admin.f.password': 'First password', 'admin.f.notenant': 'An admin belongs to no organisation',
    'admin.tenant.org': 'Organisation', 'admin.tenant.inst': 'Institution', 'admin.tenant.hub': 'Township health centre (hub)',
  },
});

const ROLES = ['admin', 'bureau_staff', 'dispatcher', 'driver', 'plant_operator', 'clinic_staff', 'hub_keeper'];
/** Which tenant a role belongs to, as `yifei user create` checks it. */
const ORG_KINDS = {
  bureau_staff: ['health_bureau', 'eco_environment_bureau'],
  dispatcher: ['disposal_company'], driver: ['disposal_company'], plant_operator: ['disposal_company'],
};

/** A random passphrase of 4 groups of 4 letters and digits (≈ 80 bits), for a first password. */
export function generatePassword() {
  const abc = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const chars = [...bytes].map((b) => abc[b % abc.length]);
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join('')).join('-');
}

/** A password input with its policy hint and a generate button. */
function passwordField(label, name) {
  const input = h('input', { name, type: 'text', required: true, minlength: 10, maxlength: 256, autocomplete: 'new-password', spellcheck: 'false', autocapitalize: 'none' });
  const gen = h('button', { type: 'button', class: 'secondary', onclick: () => { input.value = generatePassword(); input.focus(); } }, t('admin.pw.gen'));
  return { input, node: h('div', { class: 'pw-row' }, field(label, input, t('admin.pw.hint')), gen) };
}

function createForm(orgs, institutions, onCreate) {
  const login = h('input', { name: 'login', required: true, minlength: 3, maxlength: 64, autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off' });
  const name = h('input', { name: 'display_name', maxlength: 100 });
  const email = h('input', { name: 'email', type: 'email', maxlength: 254 });
  const role = select('role', ROLES.map((r) => [r, t(`role.${r}`)]), 'driver');
  const tenant = h('select', { name: 'tenant' });
  const tenantField = field(t('admin.f.tenant'), tenant);
  const pw = passwordField(t('admin.f.password'), 'password');
  const fillTenants = () => {
    const r = role.value;
    let options = [];
    if (ORG_KINDS[r]) options = orgs.filter((o) => ORG_KINDS[r].includes(o.kind)).map((o) => [o.id, `${o.name}（${orgKind(o.kind)}）`]);
    else if (r === 'clinic_staff') options = institutions.map((i) => [i.id, `${i.name} · ${i.township}`]);
    else if (r === 'hub_keeper') options = institutions.filter((i) => i.kind === 'township_health_centre').map((i) => [i.id, `${i.name} · ${i.township}`]);
    tenant.replaceChildren(...options.map(([v, text]) => h('option', { value: v }, text)));
    tenant.disabled = r === 'admin';
    if (r === 'admin') tenant.replaceChildren(h('option', { value: '' }, t('admin.f.notenant')));
  };
  role.addEventListener('change', fillTenants);
  fillTenants();
  const form = h('form', { class: 'stack card admin-create', onsubmit: (e) => {
    e.preventDefault();
    const r = role.value;
    const body = { login: login.value.trim(), role: r, password: pw.input.value };
    if (name.value.trim()) body.display_name = name.value.trim();
    if (email.value.trim()) body.email = email.value.trim();
    if (ORG_KINDS[r]) body.org_id = tenant.value;
    else if (r !== 'admin') body.institution_id = tenant.value;
    onCreate(body, form);
  } },
  h('h2', null, t('admin.create')),
  field(t('admin.f.login'), login, t('admin.f.login.hint')),
  field(t('admin.f.name'), name),
  field(t('admin.f.role'), role),
  tenantField,
  field(t('admin.f.email'), email),
  pw.node,
  h('button', { type: 'submit' }, t('admin.create.go')));
  return form;
}

async function render(page, ctx, root = page) {
  const [users, orgs, institutions] = await Promise.all([all('/users'), all('/organisations'), all('/institutions')]);
  if (ctx.stale()) return;
  // By role (office roles first), then login: the API's order is creation order.
  users.sort((a, b) => ROLES.indexOf(a.role) - ROLES.indexOf(b.role) || a.login.localeCompare(b.login));
  const names = new Map([...orgs.map((o) => [o.id, o.name]), ...institutions.map((i) => [i.id, i.name])]);
  const msg = h('div', { class: 'admin-msg', 'aria-live': 'polite' });
  const reload = async (note) => {
    const fresh = h('div');
    await render(fresh, { ...ctx, query: { ...ctx.query, q: filter.value, role: roleFilter.value } }, root);
    root.replaceChildren(...fresh.childNodes);
    root.querySelector('.admin-msg')?.append(note);
  };
  const fail = (where, e) => { where.querySelector(':scope > .notice')?.remove(); where.append(notice('error', e.message, ...e.fields.map((f) => h('div', null, f)))); };
  const setActive = async (u, active, button) => {
    button.disabled = true;
    try {
      await api.post(`/users/${encodeURIComponent(u.id)}/${active ? 'reactivate' : 'deactivate'}`);
      await reload(notice('ok', t(active ? 'admin.reactivated' : 'admin.deactivated', { login: u.login })));
    } catch (e) { button.disabled = false; fail(button.parentElement, e); }
  };
  const actions = (u) => {
    if (u.id === ctx.me.id) return h('span', { class: 'muted' }, t('admin.you'));
    const pw = passwordField(t('admin.reset.new', { login: u.login }), 'new_password');
    const reset = h('form', { class: 'stack reset-form', hidden: true, onsubmit: async (e) => {
      e.preventDefault();
      const button = reset.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        await api.post(`/users/${encodeURIComponent(u.id)}/password`, { new_password: pw.input.value });
        await reload(notice('ok', t('admin.reset.done', { login: u.login })));
      } catch (err) { button.disabled = false; fail(reset, err); }
    } }, pw.node, h('button', { type: 'submit' }, t('admin.reset.go')));
    const openReset = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-label': `${t('admin.reset')} ${u.login}`, onclick: () => {
      reset.hidden = !reset.hidden; openReset.setAttribute('aria-expanded', String(!reset.hidden)); if (!reset.hidden) pw.input.focus();
    } }, t('admin.reset'));
    const toggle = u.active
      ? h('button', { type: 'button', class: 'secondary deactivate', 'aria-label': `${t('admin.deactivate')} ${u.login}`, onclick: (e) => setActive(u, false, e.currentTarget) }, t('admin.deactivate'))
      : h('button', { type: 'button', 'aria-label': `${t('admin.reactivate')} ${u.login}`, onclick: (e) => setActive(u, true, e.currentTarget) }, t('admin.reactivate'));
    return h('div', null, h('div', { class: 'actions' }, toggle, openReset), reset);
  };
  const filter = h('input', { name: 'q', type: 'search', value: ctx.query.q || '', autocomplete: 'off' });
  const roleFilter = select('role', [['', t('admin.allroles')], ...ROLES.map((r) => [r, t(`role.${r}`)])], ctx.query.role || '');
  const tableBox = h('div');
  const count = h('h2');
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = users.filter((u) => (!roleFilter.value || u.role === roleFilter.value)
      && (!q || [u.login, u.display_name, names.get(u.org_id)].some((x) => x && x.toLowerCase().includes(q))));
    count.textContent = t('admin.users', { n: shown.length });
    tableBox.replaceChildren(table([
      { label: t('admin.col.login'), value: (u) => h('strong', null, u.login) },
      { label: t('admin.col.name'), value: (u) => u.display_name || '—' },
      { label: t('admin.col.role'), value: (u) => t(`role.${u.role}`) },
      { label: t('admin.col.org'), value: (u) => (u.org_id ? names.get(u.org_id) || u.org_id : '—') },
      { label: t('admin.col.status'), value: (u) => h('span', { class: `badge ${u.active ? 'ok' : 'bad'}` }, u.active ? t('admin.active') : t('admin.inactive')) },
      { label: t('admin.col.created'), value: (u) => dateTime(u.created_at) },
      { label: t('admin.col.actions'), value: actions },
    ], shown));
  };
  filter.addEventListener('input', draw);
  roleFilter.addEventListener('change', draw);
  draw();
  const create = async (body, form) => {
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const u = await api.post('/users', body);
      await reload(notice('ok', t('admin.created', { login: u.login, role: t(`role.${u.role}`) })));
    } catch (e) { button.disabled = false; fail(form, e); }
  };
  page.append(
    h('h1', null, t('admin.title')),
    msg,
    h('form', { class: 'inline admin-filter', role: 'search', onsubmit: (e) => e.preventDefault() },
      field(t('admin.filter'), filter, t('admin.filter.hint')), field(t('admin.filter.role'), roleFilter)),
    count,
    tableBox,
    createForm(orgs, institutions.filter((i) => i.status === 'active'), create),
  );
}

export const routes = [
  { path: '/admin', nav: 'nav.admin', roles: ['admin'], render },
  orgsRoute,
  epidemicRoute,
];
