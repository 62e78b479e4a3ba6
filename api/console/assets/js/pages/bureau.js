// Health-bureau staff (their jurisdiction only): sign-ups waiting for approval.
import { api, all } from '../api.js';
import { h, table, notice, dateTime } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: { 'nav.bureau': '概况', 'bureau.title': '卫健局工作台', 'bureau.pending': '待审核的注册', 'bureau.approve': '批准', 'bureau.reject': '驳回',
    'bureau.approved': '已批准：{name}', 'col.name': '名称', 'col.kind': '类型', 'col.township': '乡镇', 'col.created': '注册时间', 'col.actions': '操作' },
  en: { 'nav.bureau': 'Overview', 'bureau.title': 'Bureau desk', 'bureau.pending': 'Sign-ups waiting for approval', 'bureau.approve': 'Approve', 'bureau.reject': 'Reject',
    'bureau.approved': 'Approved: {name}', 'col.name': 'Name', 'col.kind': 'Kind', 'col.township': 'Township', 'col.created': 'Signed up', 'col.actions': 'Actions' },
});

async function render(page, ctx) {
  const pending = await all('/institutions', { status: 'pending' });
  const msg = h('div', { 'aria-live': 'polite' });
  const approve = async (inst) => {
    await api.post(`/institutions/${encodeURIComponent(inst.id)}/approve`);
    msg.replaceChildren(notice('ok', t('bureau.approved', { name: inst.name })));
    await render(page.replaceChildren() && page, ctx);
  };
  page.append(
    h('h1', null, t('bureau.title')),
    msg,
    h('h2', null, t('bureau.pending')),
    table([
      { label: t('col.name'), value: (i) => i.name },
      { label: t('col.kind'), value: (i) => i.kind },
      { label: t('col.township'), value: (i) => i.township },
      { label: t('col.created'), value: (i) => dateTime(i.created_at) },
      { label: t('col.actions'), value: (i) => h('button', { type: 'button', onclick: () => approve(i) }, t('bureau.approve')) },
    ], pending),
  );
}

export const routes = [{ path: '/bureau', nav: 'nav.bureau', roles: ['bureau_staff'], render }];
