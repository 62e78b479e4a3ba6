// The watch list (重点监控名单) for bureau staff: entries put on by the rules, filtered by
// township and state, struck off (销号) with evidence, exported as CSV; and, on an
// institution's page, its rectifications (限期整改) and enforcement records (处罚、移送).
import { api, all, ApiError } from '../api.js';
import { h, field, select, table, notice, dateTime } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { townshipsOf, fill } from './bureau-common.js';

addStrings({
  zh: {
    'nav.bureau.watch': '重点监控', 'bur.watch.title': '重点监控名单', 'bur.watch.hint': '由规则列入；只有凭证据（复查合格，或问题已消除满规定时间）才能销号；逾期未销号逐级上报。',
    'bur.watch.status': '状态', 'bur.watch.s.': '全部', 'bur.watch.s.open': '监控中', 'bur.watch.s.escalated': '已逾期上报', 'bur.watch.s.struck_off': '已销号',
    'bur.watch.r.storage_breach': '贮存超期', 'bur.watch.r.missed_collection': '多次未按时收运', 'bur.watch.r.failed_inspection': '抽查不合格', 'bur.watch.r.discrepancy': '差异超期未结',
    'bur.watch.col.subject': '对象', 'bur.watch.col.reason': '原因', 'bur.watch.col.owner': '责任人', 'bur.watch.col.deadline': '整改期限', 'bur.watch.col.level': '上报级别',
    'bur.watch.level.0': '—', 'bur.watch.level.1': '乡镇', 'bur.watch.level.2': '县', 'bur.watch.company': '处置公司',
    'bur.watch.evidence': '销号证据', 'bur.watch.evidence.hint': '写明整改情况（必填）', 'bur.watch.inspection': '复查记录', 'bur.watch.inspection.none': '无（问题已消除满规定时间）',
    'bur.watch.strike': '销号', 'bur.watch.struck': '销号完成', 'bur.watch.csv': '导出 CSV', 'bur.watch.none': '名单为空。',
    'bur.rule.watch_overdue': '重点监控逾期未销号', 'bur.rule.rectification_overdue': '限期整改逾期',
    'bur.rect.title': '限期整改', 'bur.rect.deadline': '期限', 'bur.rect.status': '状态', 'bur.rect.s.open': '整改中', 'bur.rect.s.closed': '已复查合格', 'bur.rect.overdue': '逾期',
    'bur.rect.opened': '不合格抽查时间', 'bur.rect.closed': '复查合格时间', 'bur.rect.none': '没有整改记录。',
    'bur.enf.title': '处罚与移送', 'bur.enf.kind': '类别', 'bur.enf.k.penalty': '行政处罚', 'bur.enf.k.referral': '移送', 'bur.enf.to': '移送至', 'bur.enf.summary': '内容',
    'bur.enf.decided': '决定时间', 'bur.enf.docs': '文书', 'bur.enf.none': '没有处罚或移送记录。',
  },
  en: {
    'nav.bureau.watch': 'Watch list', 'bur.watch.title': 'Watch list (重点监控名单)', 'bur.watch.hint': 'Put on by the rules; struck off only with evidence (a passed re-inspection, or the condition cleared for the set time); overdue entries escalate.',
    'bur.watch.status': 'State', 'bur.watch.s.': 'all', 'bur.watch.s.open': 'watched', 'bur.watch.s.escalated': 'overdue, escalated', 'bur.watch.s.struck_off': 'struck off',
    'bur.watch.r.storage_breach': 'storage breach', 'bur.watch.r.missed_collection': 'collection missed repeatedly', 'bur.watch.r.failed_inspection': 'failed spot check', 'bur.watch.r.discrepancy': 'discrepancy left open',
    'bur.watch.col.subject': 'Subject', 'bur.watch.col.reason': 'Reason', 'bur.watch.col.owner': 'Owner', 'bur.watch.col.deadline': 'Deadline', 'bur.watch.col.level': 'Escalated to',
    'bur.watch.level.0': '—', 'bur.watch.level.1': 'township', 'bur.watch.level.2': 'county', 'bur.watch.company': 'disposal company',
    'bur.watch.evidence': 'Evidence', 'bur.watch.evidence.hint': 'What was done (required)', 'bur.watch.inspection': 'Re-inspection', 'bur.watch.inspection.none': 'none (cleared for the set time)',
    'bur.watch.strike': 'Strike off', 'bur.watch.struck': 'Struck off: done', 'bur.watch.csv': 'Export CSV', 'bur.watch.none': 'The list is empty.',
    'bur.rule.watch_overdue': 'watch-list entry overdue', 'bur.rule.rectification_overdue': 'rectification overdue',
    'bur.rect.title': 'Rectifications', 'bur.rect.deadline': 'Deadline', 'bur.rect.status': 'State', 'bur.rect.s.open': 'open', 'bur.rect.s.closed': 'closed by a passed re-inspection', 'bur.rect.overdue': 'overdue',
    'bur.rect.opened': 'Failed inspection', 'bur.rect.closed': 'Passed re-inspection', 'bur.rect.none': 'No rectifications.',
    'bur.enf.title': 'Penalties and referrals', 'bur.enf.kind': 'Kind', 'bur.enf.k.penalty': 'penalty', 'bur.enf.k.referral': 'referral', 'bur.enf.to': 'Referred to', 'bur.enf.summary': 'Summary',
    'bur.enf.decided': 'Decided', 'bur.enf.docs': 'Documents', 'bur.enf.none': 'No penalties or referrals.',
  },
});

const problem = (e) => notice('error', e.message, ...(e instanceof ApiError ? e.fields : []).map((f) => h('div', null, f)));
const STATES = ['', 'open', 'escalated', 'struck_off'];

async function watchPage(page, ctx) {
  const status = STATES.includes(ctx.query.status) ? ctx.query.status : '';
  const township = ctx.query.township || '';
  const query = { status, township };
  const [entries, institutions, inspections] = await Promise.all([
    all('/watch-list', query),
    all('/institutions', { status: 'active' }),
    // `to` is a county-local date, up to a day ahead of UTC's: tomorrow's UTC date covers today.
    api.get('/inspections', { from: '2000-01-01', to: new Date(Date.now() + 86400e3).toISOString().slice(0, 10) }).catch(() => ({ items: [] })),
  ]);
  const names = Object.fromEntries(institutions.map((i) => [i.id, i.name]));
  const passed = inspections.items.filter((i) => i.passed);
  const msg = h('div', { 'aria-live': 'polite' });
  if (ctx.query.done) msg.append(notice('ok', t('bur.watch.struck')));
  const statusSel = select('status', STATES.map((x) => [x, t(`bur.watch.s.${x}`)]), status);
  const townSel = select('township', [['', t('bureau.all')], ...(await townshipsOf(institutions)).map((x) => [x, x])], township);
  const act = (e) => {
    if (e.status === 'struck_off') return h('span', { class: 'muted' }, e.evidence || '');
    const evidence = h('input', { name: 'evidence', required: true, maxlength: 2000 });
    const mine = passed.filter((i) => (e.institution_id ? i.institution_id === e.institution_id : i.org_id === e.org_id) && i.inspected_at >= e.opened_at);
    const insp = select('inspection_id', [['', t('bur.watch.inspection.none')], ...mine.map((i) => [i.id, dateTime(i.inspected_at)])], mine[0]?.id || '');
    return h('form', { class: 'inline', dataset: { entry: e.id }, onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api.post(`/watch-list/${encodeURIComponent(e.id)}/strike-off`, { evidence: evidence.value, inspection_id: insp.value || null });
        ctx.navigate('/bureau/watch-list', { ...query, done: e.id });
      } catch (err) { msg.replaceChildren(problem(err)); }
    } }, field(t('bur.watch.evidence'), evidence, t('bur.watch.evidence.hint')), field(t('bur.watch.inspection'), insp), h('button', { type: 'submit' }, t('bur.watch.strike')));
  };
  fill(page,
    h('h1', null, t('bur.watch.title')),
    h('p', { class: 'muted' }, t('bur.watch.hint')),
    h('form', { class: 'inline card', role: 'search', onsubmit: (e) => { e.preventDefault(); ctx.navigate('/bureau/watch-list', { status: statusSel.value, township: townSel.value }); } },
      field(t('bur.watch.status'), statusSel), field(t('bureau.township'), townSel), h('button', { type: 'submit' }, t('app.search'))),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: async () => {
      try { await api.download('/watch-list', { ...query, format: 'csv' }, 'watch-list.csv', 'text/csv'); } catch (e) { msg.replaceChildren(problem(e)); }
    } }, t('bur.watch.csv'))),
    msg,
    table([
      { label: t('bur.col.opened'), value: (e) => dateTime(e.opened_at) },
      { label: t('bur.col.rule'), value: (e) => t(`bur.watch.r.${e.rule}`) },
      { label: t('bur.watch.col.subject'), value: (e) => (e.institution_id
        ? h('a', { href: `#/bureau/institutions/${encodeURIComponent(e.institution_id)}` }, names[e.institution_id] || e.institution_id)
        : t('bur.watch.company')) },
      { label: t('bureau.township'), value: (e) => e.township || '—' },
      { label: t('bur.watch.col.reason'), value: (e) => e.reason },
      { label: t('bur.watch.col.owner'), value: (e) => e.owner },
      { label: t('bur.watch.col.deadline'), value: (e) => dateTime(e.deadline) },
      { label: t('bur.watch.col.level'), value: (e) => (e.level ? h('span', { class: 'badge bad' }, t(`bur.watch.level.${e.level}`)) : '—') },
      { label: t('bur.watch.status'), value: (e) => t(`bur.watch.s.${e.status}`) },
      { label: t('bur.col.actions'), value: act },
    ], entries, { empty: t('bur.watch.none') }),
  );
}

/** The rectifications and enforcement records of one institution (its bureau page). */
export async function institutionRecords(id) {
  const [rects, enf] = await Promise.all([
    api.get('/rectifications', { institution_id: id }),
    api.get('/enforcement', { institution_id: id }),
  ]);
  const msg = h('div', { 'aria-live': 'polite' });
  const docLink = (d) => h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try { await api.download(`/enforcement/documents/${encodeURIComponent(d.id)}`, null, d.filename, d.content_type); } catch (e) { msg.replaceChildren(problem(e)); }
  } }, d.filename);
  return [
    h('h2', null, t('bur.rect.title')),
    table([
      { label: t('bur.rect.opened'), value: (r) => dateTime(r.opened_at) },
      { label: t('bur.rect.deadline'), value: (r) => dateTime(r.deadline) },
      { label: t('bur.rect.status'), value: (r) => [t(`bur.rect.s.${r.status}`), r.overdue ? [' ', h('span', { class: 'badge bad' }, t('bur.rect.overdue'))] : null] },
      { label: t('bur.rect.closed'), value: (r) => (r.closed_at ? dateTime(r.closed_at) : '—') },
    ], rects.items, { empty: t('bur.rect.none') }),
    h('h2', null, t('bur.enf.title')),
    msg,
    table([
      { label: t('bur.enf.decided'), value: (a) => dateTime(a.decided_at) },
      { label: t('bur.enf.kind'), value: (a) => t(`bur.enf.k.${a.kind}`) },
      { label: t('bur.enf.to'), value: (a) => a.referred_to || '—' },
      { label: t('bur.enf.summary'), value: (a) => a.summary },
      { label: t('bur.enf.docs'), value: (a) => a.documents.map(docLink) },
    ], enf.items, { empty: t('bur.enf.none') }),
  ];
}

export const routes = [
  { path: '/bureau/watch-list', nav: 'nav.bureau.watch', roles: ['bureau_staff'], render: watchPage },
];
