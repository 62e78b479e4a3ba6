// The bureau's desk work: sign-ups to approve or reject, alerts to acknowledge and resolve
// with a note, and spot checks (规范化管理抽查) with their pass rate against the target.
import { api, all, ApiError } from '../api.js';
import { h, field, select, table, notice, dateTime, pct, today } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { period, periodForm, townshipsOf, kindName, fill } from './bureau-common.js';

addStrings({
  zh: {
    'nav.bureau.signups': '注册审核', 'bur.signups.title': '待审核的注册', 'bur.signups.approve': '批准', 'bur.signups.reject': '驳回',
    'bur.signups.reason': '驳回理由', 'bur.signups.reason.hint': '机构会看到此理由（1–1000 字）', 'bur.signups.confirm': '确认驳回',
    'bur.signups.approved': '已批准：{name}', 'bur.signups.rejected': '已驳回：{name}', 'bur.signups.none': '没有待审核的注册。',
    'bur.col.licence': '执业许可证号', 'bur.col.contact': '联系人', 'bur.col.created': '注册时间', 'bur.col.actions': '操作', 'bur.col.address': '地址',
    'nav.bureau.alerts': '告警', 'bur.alerts.title': '告警', 'bur.alerts.status': '状态', 'bur.alerts.any': '全部',
    'bur.alerts.s.unresolved': '未解决（未处理和已确认）', 'bur.alerts.s.any': '全部', 'bur.alerts.s.open': '未处理', 'bur.alerts.s.acknowledged': '已确认', 'bur.alerts.s.resolved': '已解决',
    'bur.alerts.ack': '确认', 'bur.alerts.resolve': '解决', 'bur.alerts.note': '处理说明', 'bur.alerts.note.hint': '写明采取了什么措施（必填）',
    'bur.alerts.acked': '已确认告警', 'bur.alerts.resolved': '已解决告警', 'bur.alerts.evaluated': '规则最近评估于 {at}',
    'bur.col.rule': '规则', 'bur.col.severity': '级别', 'bur.col.detail': '详情', 'bur.col.opened': '发生时间', 'bur.col.status': '状态', 'bur.col.subject': '对象',
    'bur.sev.critical': '严重', 'bur.sev.warning': '警告',
    'bur.rule.storage_warning': '贮存将超期', 'bur.rule.storage_breach': '贮存超期', 'bur.rule.not_collected': '未按时收运', 'bur.rule.collected_not_received': '收运后未入厂',
    'bur.rule.received_not_disposed': '入厂后未处置', 'bur.rule.weight_discrepancy': '重量差异', 'bur.rule.count_discrepancy': '数量差异',
    'bur.rule.location_mismatch': '收运位置不符', 'bur.rule.inactive_institution': '机构长期无废物', 'bur.rule.discrepancy_unresolved': '差异未解决',
    'nav.bureau.inspections': '抽查', 'bur.insp.title': '规范化管理抽查', 'bur.insp.new': '记录一次抽查', 'bur.insp.institution': '被检查机构',
    'bur.insp.choose': '请选择机构', 'bur.insp.at': '检查时间', 'bur.insp.at.hint': '留空为现在', 'bur.insp.items': '检查项目（勾选为合格）',
    'bur.insp.packaging': '包装符合 HJ 421', 'bur.insp.labels': '标签完整', 'bur.insp.storage_time': '无超期贮存', 'bur.insp.register': '交接登记完整', 'bur.insp.signage': '贮存点警示标识',
    'bur.insp.deadline': '整改期限', 'bur.insp.deadline.hint': '不合格时必填', 'bur.insp.notes': '备注', 'bur.insp.submit': '保存抽查',
    'bur.insp.result.pass': '结果：合格', 'bur.insp.result.fail': '结果：不合格（需要整改期限）', 'bur.insp.saved': '已记录抽查（{result}）',
    'bur.insp.list': '期内抽查', 'bur.insp.rate': '合格率 {rate}（{passed} / {n}），目标 {target}', 'bur.insp.passed': '合格', 'bur.insp.failed': '不合格',
    'bur.col.when': '时间', 'bur.col.result': '结果', 'bur.col.failed_items': '不合格项', 'bur.col.deadline': '整改期限', 'bur.col.notes': '备注',
  },
  en: {
    'nav.bureau.signups': 'Sign-ups', 'bur.signups.title': 'Sign-ups waiting for approval', 'bur.signups.approve': 'Approve', 'bur.signups.reject': 'Reject',
    'bur.signups.reason': 'Reason for rejecting', 'bur.signups.reason.hint': 'The institution sees it (1–1000 characters)', 'bur.signups.confirm': 'Confirm rejection',
    'bur.signups.approved': 'Approved: {name}', 'bur.signups.rejected': 'Rejected: {name}', 'bur.signups.none': 'No sign-up is waiting.',
    'bur.col.licence': 'Licence no.', 'bur.col.contact': 'Contact', 'bur.col.created': 'Signed up', 'bur.col.actions': 'Actions', 'bur.col.address': 'Address',
    'nav.bureau.alerts': 'Alerts', 'bur.alerts.title': 'Alerts', 'bur.alerts.status': 'Status', 'bur.alerts.any': 'Any',
    'bur.alerts.s.unresolved': 'unresolved (open and acknowledged)', 'bur.alerts.s.any': 'any', 'bur.alerts.s.open': 'open', 'bur.alerts.s.acknowledged': 'acknowledged', 'bur.alerts.s.resolved': 'resolved',
    'bur.alerts.ack': 'Acknowledge', 'bur.alerts.resolve': 'Resolve', 'bur.alerts.note': 'What was done', 'bur.alerts.note.hint': 'Say what was done (required)',
    'bur.alerts.acked': 'Alert acknowledged', 'bur.alerts.resolved': 'Alert resolved', 'bur.alerts.evaluated': 'Rules last evaluated {at}',
    'bur.col.rule': 'Rule', 'bur.col.severity': 'Severity', 'bur.col.detail': 'Detail', 'bur.col.opened': 'Opened', 'bur.col.status': 'Status', 'bur.col.subject': 'Subject',
    'bur.sev.critical': 'critical', 'bur.sev.warning': 'warning',
    'bur.rule.storage_warning': 'Storage nearly overdue', 'bur.rule.storage_breach': 'Storage overdue', 'bur.rule.not_collected': 'Not collected in time', 'bur.rule.collected_not_received': 'Collected, not received',
    'bur.rule.received_not_disposed': 'Received, not disposed', 'bur.rule.weight_discrepancy': 'Weight discrepancy', 'bur.rule.count_discrepancy': 'Count discrepancy',
    'bur.rule.location_mismatch': 'Collected away from the institution', 'bur.rule.inactive_institution': 'Institution without waste', 'bur.rule.discrepancy_unresolved': 'Discrepancy unresolved',
    'nav.bureau.inspections': 'Spot checks', 'bur.insp.title': 'Spot checks', 'bur.insp.new': 'Record a spot check', 'bur.insp.institution': 'Institution checked',
    'bur.insp.choose': 'Choose an institution', 'bur.insp.at': 'Checked at', 'bur.insp.at.hint': 'Empty for now', 'bur.insp.items': 'Checklist (ticked = passed)',
    'bur.insp.packaging': 'Packaging as HJ 421 requires', 'bur.insp.labels': 'Labels complete', 'bur.insp.storage_time': 'Nothing stored past its limit', 'bur.insp.register': 'Hand-over register kept', 'bur.insp.signage': 'Warning signs at the storage point',
    'bur.insp.deadline': 'Rectification deadline', 'bur.insp.deadline.hint': 'Required when it fails', 'bur.insp.notes': 'Notes', 'bur.insp.submit': 'Save the spot check',
    'bur.insp.result.pass': 'Result: passed', 'bur.insp.result.fail': 'Result: failed (a rectification deadline is needed)', 'bur.insp.saved': 'Spot check recorded ({result})',
    'bur.insp.list': 'Spot checks of the period', 'bur.insp.rate': 'Pass rate {rate} ({passed} / {n}), target {target}', 'bur.insp.passed': 'passed', 'bur.insp.failed': 'failed',
    'bur.col.when': 'When', 'bur.col.result': 'Result', 'bur.col.failed_items': 'Failed items', 'bur.col.deadline': 'Deadline', 'bur.col.notes': 'Notes',
  },
});

const BUREAU = ['bureau_staff'];

/** An error as a notice, with its field errors. */
const problem = (e) => notice('error', e.message, ...(e instanceof ApiError ? e.fields : []).map((f) => h('div', null, f)));

async function signups(page) {
  const msg = h('div', { 'aria-live': 'polite' });
  const body = h('div');
  const load = async () => {
    const pending = await all('/institutions', { status: 'pending' });
    const actions = (inst) => {
      const cell = h('div', { class: 'actions' });
      const approve = h('button', { type: 'button', onclick: async () => {
        approve.disabled = true;
        try {
          await api.post(`/institutions/${encodeURIComponent(inst.id)}/approve`);
          await load();
          msg.replaceChildren(notice('ok', t('bur.signups.approved', { name: inst.name })));
        } catch (e) { msg.replaceChildren(problem(e)); approve.disabled = false; }
      } }, t('bur.signups.approve'));
      const reject = h('button', { type: 'button', class: 'danger', onclick: () => {
        const reason = h('input', { name: 'reason', required: true, maxlength: 1000 });
        const form = h('form', { class: 'stack reject-form', onsubmit: async (e) => {
          e.preventDefault();
          try {
            await api.post(`/institutions/${encodeURIComponent(inst.id)}/reject`, { reason: reason.value });
            await load();
            msg.replaceChildren(notice('ok', t('bur.signups.rejected', { name: inst.name })));
          } catch (err) { msg.replaceChildren(problem(err)); }
        } }, field(t('bur.signups.reason'), reason, t('bur.signups.reason.hint')),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, t('bur.signups.confirm')),
          h('button', { type: 'button', class: 'secondary', onclick: () => { form.replaceWith(cell); reject.focus(); } }, t('app.cancel'))));
        cell.replaceWith(form);
        reason.focus();
      } }, t('bur.signups.reject'));
      cell.append(approve, reject);
      return cell;
    };
    body.replaceChildren(table([
      { label: t('bur.col.name'), value: (i) => h('a', { href: `#/bureau/institutions/${encodeURIComponent(i.id)}` }, i.name) },
      { label: t('bur.col.kind'), value: (i) => kindName(i.kind) },
      { label: t('bur.col.township'), value: (i) => [i.township, i.village ? ` ${i.village}` : ''] },
      { label: t('bur.col.licence'), value: (i) => i.licence_no },
      { label: t('bur.col.contact'), value: (i) => `${i.contact?.name || ''} ${i.contact?.phone || ''}` },
      { label: t('bur.col.created'), value: (i) => dateTime(i.created_at) },
      { label: t('bur.col.actions'), value: actions },
    ], pending, { empty: t('bur.signups.none') }));
  };
  await load();
  fill(page, h('h1', null, t('bur.signups.title')), msg, body);
}

async function alertsPage(page, ctx) {
  // The default view is what still needs someone: open and acknowledged alerts together.
  const STATUSES = ['unresolved', 'open', 'acknowledged', 'resolved', 'any'];
  const status = STATUSES.includes(ctx.query.status) ? ctx.query.status : 'unresolved';
  const township = ctx.query.township || '';
  const asked = status === 'unresolved' ? ['open', 'acknowledged'] : [status === 'any' ? '' : status];
  const [pages, institutions] = await Promise.all([
    Promise.all(asked.map(async (st) => {
      const first = await api.get('/alerts', { status: st, township, limit: 200 });
      const rest = first.next_cursor ? await all('/alerts', { status: st, township, cursor: first.next_cursor }) : [];
      return { evaluated_at: first.evaluated_at, items: first.items.concat(rest) };
    })),
    all('/institutions', { status: 'active' }),
  ]);
  const items = pages.flatMap((x) => x.items).sort((a, b) => b.opened_at.localeCompare(a.opened_at));
  const pageOne = { evaluated_at: pages[0].evaluated_at };
  const names = Object.fromEntries(institutions.map((i) => [i.id, i.name]));
  const msg = h('div', { 'aria-live': 'polite' });
  const statusSel = select('status', STATUSES.map((x) => [x, t(`bur.alerts.s.${x}`)]), status);
  const townSel = select('township', [['', t('bureau.all')], ...(await townshipsOf(institutions)).map((x) => [x, x])], township);
  const act = (a) => {
    if (a.status === 'resolved') return a.note ? h('span', { class: 'muted' }, a.note) : '—';
    const note = h('input', { name: 'note', required: true, maxlength: 1000 });
    const done = async (fn, text) => {
      try { await fn(); ctx.navigate('/bureau/alerts', { status, township, done: `${text}:${a.id}` }); } catch (e) { msg.replaceChildren(problem(e)); }
    };
    return h('div', { class: 'alert-actions', dataset: { alert: a.id } },
      a.status === 'open' ? h('button', { type: 'button', class: 'secondary', onclick: () => done(() => api.post(`/alerts/${encodeURIComponent(a.id)}/ack`), 'acked') }, t('bur.alerts.ack')) : null,
      h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); done(() => api.post(`/alerts/${encodeURIComponent(a.id)}/resolve`, { note: note.value }), 'resolved'); } },
        field(t('bur.alerts.note'), note), h('button', { type: 'submit' }, t('bur.alerts.resolve'))));
  };
  const justDone = (ctx.query.done || '').split(':')[0];
  if (justDone === 'acked' || justDone === 'resolved') msg.append(notice('ok', t(`bur.alerts.${justDone}`)));
  fill(page,
    h('h1', null, t('bur.alerts.title')),
    h('form', { class: 'inline card', role: 'search', onsubmit: (e) => { e.preventDefault(); ctx.navigate('/bureau/alerts', { status: statusSel.value, township: townSel.value }); } },
      field(t('bur.alerts.status'), statusSel), field(t('bureau.township'), townSel), h('button', { type: 'submit' }, t('app.search'))),
    pageOne.evaluated_at ? h('p', { class: 'muted' }, t('bur.alerts.evaluated', { at: dateTime(pageOne.evaluated_at) })) : null,
    msg,
    table([
      { label: t('bur.col.opened'), value: (a) => dateTime(a.opened_at) },
      { label: t('bur.col.rule'), value: (a) => [h('span', { class: `badge ${a.severity === 'critical' ? 'bad' : 'warn'}` }, t(`bur.sev.${a.severity}`)), ' ', t(`bur.rule.${a.rule}`)] },
      { label: t('bur.col.subject'), value: (a) => [
        a.institution_id ? h('a', { href: `#/bureau/institutions/${encodeURIComponent(a.institution_id)}` }, names[a.institution_id] || a.institution_id) : null,
        a.subject_type === 'container' ? [' ', h('a', { href: `#/bureau/containers/${encodeURIComponent(a.subject_id)}` }, a.subject_id)] : null] },
      { label: t('bur.col.detail'), value: (a) => a.detail },
      { label: t('bur.col.status'), value: (a) => t(`bur.alerts.s.${a.status}`) },
      { label: t('bur.col.actions'), value: act },
    ], items),
  );
}

const ITEMS = ['packaging', 'labels', 'storage_time', 'register', 'signage'];

/** `datetime-local` (the browser's zone, the county's) as RFC 3339, or null when empty. */
const instant = (v) => (v ? new Date(v).toISOString() : null);

async function inspectionsPage(page, ctx) {
  const p = period(ctx.query);
  const [list, institutions] = await Promise.all([
    api.get('/inspections', { from: p.from, to: p.to, township: p.township }),
    all('/institutions', { status: 'active' }),
  ]);
  const names = Object.fromEntries(institutions.map((i) => [i.id, `${i.name}（${i.township}）`]));
  const sorted = [...institutions].sort((a, b) => a.township.localeCompare(b.township, 'zh-CN') || a.name.localeCompare(b.name, 'zh-CN'));
  const who = select('institution_id', [['', t('bur.insp.choose')], ...sorted.map((i) => [i.id, names[i.id]])], ctx.query.institution || '');
  who.required = true;
  const at = h('input', { type: 'datetime-local', name: 'inspected_at', max: `${today()}T23:59` });
  const boxes = Object.fromEntries(ITEMS.map((k) => [k, h('input', { type: 'checkbox', name: k })]));
  const deadline = h('input', { type: 'datetime-local', name: 'rectification_deadline' });
  const notes = h('textarea', { name: 'notes', rows: 3, maxlength: 2000 });
  const result = h('p', { class: 'result', 'aria-live': 'polite' });
  const passed = () => ITEMS.every((k) => boxes[k].checked);
  const showResult = () => {
    result.textContent = t(passed() ? 'bur.insp.result.pass' : 'bur.insp.result.fail');
    result.className = `result badge ${passed() ? 'ok' : 'bad'}`;
    deadline.required = !passed();
  };
  ITEMS.forEach((k) => boxes[k].addEventListener('change', showResult));
  showResult();
  const msg = h('div', { 'aria-live': 'polite' });
  if (ctx.query.saved) msg.append(notice('ok', t('bur.insp.saved', { result: t(ctx.query.saved === 'pass' ? 'bur.insp.passed' : 'bur.insp.failed') })));
  const form = h('form', { class: 'stack card', onsubmit: async (e) => {
    e.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const body = { institution_id: who.value, checklist: Object.fromEntries(ITEMS.map((k) => [k, boxes[k].checked])) };
      if (at.value) body.inspected_at = instant(at.value);
      if (deadline.value) body.rectification_deadline = instant(deadline.value);
      if (notes.value.trim()) body.notes = notes.value.trim();
      const saved = await api.post('/inspections', body);
      ctx.navigate('/bureau/inspections', { from: p.from, to: p.to, township: p.township, saved: saved.passed ? 'pass' : 'fail', n: saved.id });
    } catch (err) {
      msg.replaceChildren(problem(err));
      button.disabled = false;
    }
  } },
  h('h2', null, t('bur.insp.new')),
  field(t('bur.insp.institution'), who),
  field(t('bur.insp.at'), at, t('bur.insp.at.hint')),
  h('fieldset', null, h('legend', null, t('bur.insp.items')), ITEMS.map((k) => h('label', { class: 'check' }, boxes[k], t(`bur.insp.${k}`)))),
  result,
  field(t('bur.insp.deadline'), deadline, t('bur.insp.deadline.hint')),
  field(t('bur.insp.notes'), notes),
  h('button', { type: 'submit' }, t('bur.insp.submit')));
  fill(page,
    h('h1', null, t('bur.insp.title')),
    msg,
    form,
    h('h2', null, t('bur.insp.list')),
    periodForm(p, await townshipsOf(institutions), (np) => ctx.navigate('/bureau/inspections', np)),
    h('p', { class: 'insp-rate', dataset: { rate: list.pass_rate ?? '' } }, t('bur.insp.rate', {
      rate: pct(list.pass_rate), passed: list.items.filter((i) => i.passed).length, n: list.items.length, target: pct(list.target) })),
    inspectionTable(list.items, names),
  );
}

/** Inspections as a table: when, whom, the result and what failed. */
export function inspectionTable(items, names = {}) {
  return table([
    { label: t('bur.col.when'), value: (i) => dateTime(i.inspected_at) },
    { label: t('bur.col.name'), value: (i) => (i.institution_id ? h('a', { href: `#/bureau/institutions/${encodeURIComponent(i.institution_id)}` }, names[i.institution_id] || i.institution_id) : i.org_id) },
    { label: t('bur.col.result'), value: (i) => h('span', { class: `badge ${i.passed ? 'ok' : 'bad'}` }, t(i.passed ? 'bur.insp.passed' : 'bur.insp.failed')) },
    { label: t('bur.col.failed_items'), value: (i) => ITEMS.filter((k) => !i.checklist[k]).map((k) => t(`bur.insp.${k}`)).join('、') || '—' },
    { label: t('bur.col.deadline'), value: (i) => dateTime(i.rectification_deadline) },
    { label: t('bur.col.notes'), value: (i) => i.notes || '' },
  ], items);
}

export const routes = [
  { path: '/bureau/signups', nav: 'nav.bureau.signups', roles: BUREAU, render: signups },
  { path: '/bureau/alerts', nav: 'nav.bureau.alerts', roles: BUREAU, render: alertsPage },
  { path: '/bureau/inspections', nav: 'nav.bureau.inspections', roles: BUREAU, render: inspectionsPage },
];
