// Admin: the organisations of the deployment (created at the server, `yifei org create`) and
// epidemic mode, which tightens the deadlines every role works to.
import { api, all } from '../api.js';
import { h, table, notice, dateTime } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: {
    'nav.orgs': '组织', 'orgs.title': '组织', 'orgs.hint': '组织（处置公司、卫健局、生态环境分局）在服务器上用 yifei org create 创建；这里列出现有的组织。',
    'orgs.col.name': '名称', 'orgs.col.kind': '类型', 'orgs.col.area': '辖区', 'orgs.col.site': '位置', 'orgs.col.users': '启用账号', 'orgs.col.created': '创建',
    'orgs.county': '全县', 'org.disposal_company': '处置公司', 'org.health_bureau': '卫健局', 'org.eco_environment_bureau': '生态环境分局',
    'nav.epidemic': '疫情模式', 'epi.title': '疫情模式', 'epi.on': '疫情模式已开启', 'epi.off': '疫情模式未开启',
    'epi.what': '开启后，收集间隔和贮存期限由 48 小时缩短为 24 小时，接收后未处置的告警由 72 小时缩短为 12 小时（山东省 2020 年要求）。新期限立即用于告警和待收列表。',
    'epi.turn.on': '开启疫情模式', 'epi.turn.off': '关闭疫情模式', 'epi.done.on': '疫情模式已开启。', 'epi.done.off': '疫情模式已关闭。',
  },
  en: {
    'nav.orgs': 'Organisations', 'orgs.title': 'Organisations', 'orgs.hint': 'Organisations (the disposal company, the health bureau, the environment bureau) are created at the server with yifei org create; these are the existing ones.',
    'orgs.col.name': 'Name', 'orgs.col.kind': 'Kind', 'orgs.col.area': 'Jurisdiction', 'orgs.col.site': 'Site', 'orgs.col.users': 'Active accounts', 'orgs.col.created': 'Created',
    'orgs.county': 'whole county', 'org.disposal_company': 'disposal company', 'org.health_bureau': 'health bureau', 'org.eco_environment_bureau': 'environment bureau',
    'nav.epidemic': 'Epidemic mode', 'epi.title': 'Epidemic mode', 'epi.on': 'Epidemic mode is on', 'epi.off': 'Epidemic mode is off',
    'epi.what': 'When on, the collection interval and the storage limit shorten from 48 h to 24 h, and received waste must be disposed of within 12 h instead of 72 h (Shandong, 2020). The new limits apply at once to alerts and to the due list.',
    'epi.turn.on': 'Turn epidemic mode on', 'epi.turn.off': 'Turn epidemic mode off', 'epi.done.on': 'Epidemic mode is on.', 'epi.done.off': 'Epidemic mode is off.',
  },
});

/** An organisation kind in words. */
export function orgKind(kind) {
  return t(`org.${kind}`);
}

async function renderOrgs(page, ctx) {
  const orgs = await all('/organisations');
  if (ctx.stale()) return;
  page.append(
    h('h1', null, t('orgs.title')),
    h('p', { class: 'hint' }, t('orgs.hint')),
    table([
      { label: t('orgs.col.name'), value: (o) => h('strong', null, o.name) },
      { label: t('orgs.col.kind'), value: (o) => orgKind(o.kind) },
      { label: t('orgs.col.area'), value: (o) => (o.kind === 'disposal_company' ? '—' : o.townships.join('、') || t('orgs.county')) },
      { label: t('orgs.col.site'), value: (o) => (o.location ? `${o.location.lat.toFixed(4)}, ${o.location.lng.toFixed(4)}` : '—') },
      { label: t('orgs.col.users'), num: true, value: (o) => String(o.active_users) },
      { label: t('orgs.col.created'), value: (o) => dateTime(o.created_at) },
    ], orgs),
  );
}

async function renderEpidemic(page, ctx, root = page) {
  const { enabled } = await api.get('/settings/epidemic-mode');
  if (ctx.stale()) return;
  const msg = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: enabled ? 'secondary' : 'danger', onclick: async () => {
    button.disabled = true;
    try {
      const now = await api.put('/settings/epidemic-mode', { enabled: !enabled });
      const fresh = h('div');
      await renderEpidemic(fresh, ctx, root);
      root.replaceChildren(...fresh.childNodes);
      root.querySelector('[aria-live]')?.append(notice('ok', t(now.enabled ? 'epi.done.on' : 'epi.done.off')));
    } catch (e) {
      button.disabled = false;
      msg.replaceChildren(notice('error', e.message));
    }
  } }, enabled ? t('epi.turn.off') : t('epi.turn.on'));
  page.append(
    h('h1', null, t('epi.title')),
    msg,
    h('section', { class: `card epidemic ${enabled ? 'on' : 'off'}` },
      h('p', { class: 'epidemic-state' }, h('span', { class: `badge ${enabled ? 'bad' : 'ok'}` }, enabled ? t('epi.on') : t('epi.off'))),
      h('p', null, t('epi.what')),
      h('div', { class: 'actions' }, button)),
  );
}

export const orgsRoute = { path: '/admin/orgs', nav: 'nav.orgs', roles: ['admin'], render: renderOrgs };
export const epidemicRoute = { path: '/admin/epidemic', nav: 'nav.epidemic', roles: ['admin'], render: renderEpidemic };
