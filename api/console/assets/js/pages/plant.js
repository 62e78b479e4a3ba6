// Plant operator: the gate screen. Built for a USB barcode scanner, which types the code and
// Enter into the one focused input; the scale's weight goes in its own field. Each scan is one
// event of POST /scans (event id, device time), as the mobile app sends them; the answer shows
// in a large box announced to screen readers (no sound). Below: today's intake and what is
// still on the road.
import { api, all } from '../api.js';
import { h, field, table, notice, dateTime, kg, today } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { cat, stateName, printed, reasonText, scanOne } from './clinic-words.js';

addStrings({
  zh: {
    'nav.plant': '进厂', 'plant.title': '处置厂大门', 'plant.mode': '操作', 'plant.receive': '入厂称重', 'plant.reject': '拒收',
    'plant.dispose': '处置', 'plant.code': '容器编码（扫码枪扫描后自动回车）', 'plant.weight': '磅秤重量（kg）', 'plant.reason': '拒收原因',
    'plant.method': '处置方式', 'plant.ready': '请扫码', 'plant.need.weight': '先称重：填写磅秤重量后回车',
    'plant.need.reason': '先填写拒收原因', 'plant.ok.receive': '已入厂', 'plant.ok.reject': '已拒收', 'plant.ok.dispose': '已处置',
    'plant.dup': '已记录过（未重复计数）', 'plant.refused': '未记录', 'plant.state': '当前状态：{s}', 'plant.anomaly': '注意：顺序异常，已记录并标记',
    'plant.today': '今日入厂', 'plant.today.def': '今日（本地日历日）本厂记录的入厂与拒收；重量为磅秤重量。',
    'plant.received': '入厂 {n} 件', 'plant.rejected': '拒收 {n} 件', 'plant.transit': '在途（已收运未入厂）',
    'plant.waiting': '已入厂待处置', 'col.code': '编码', 'col.time': '时间', 'col.action': '操作', 'col.kg': '重量', 'col.reason': '原因',
    'plant.col.producer': '产生单位', 'col.category': '类别', 'col.state': '状态', 'col.collected.kg': '收运重量',
    'm.incineration': '焚烧', 'm.high_temperature_steam': '高温蒸汽', 'm.chemical_disinfection': '化学消毒', 'm.microwave': '微波消毒',
    'm.other': '其他', 'plant.scans': '本次扫描', 'plant.method.other': '写明其他方式', 'plant.need.other': '请写明处置方式',
    'r.leaking': '破损渗漏', 'r.unlabelled': '标签缺失或不清', 'r.unsealed': '未封口', 'r.wrong_category': '分类不符', 'r.not_ours': '非本厂接收范围',
  },
  en: {
    'nav.plant': 'Gate', 'plant.title': 'Plant gate', 'plant.mode': 'Action', 'plant.receive': 'Receive and weigh', 'plant.reject': 'Reject',
    'plant.dispose': 'Dispose', 'plant.code': 'Container code (the scanner types it and Enter)', 'plant.weight': 'Scale weight (kg)', 'plant.reason': 'Why refused',
    'plant.method': 'Disposal method', 'plant.ready': 'Scan a container', 'plant.need.weight': 'Weigh first: type the scale weight and Enter',
    'plant.need.reason': 'Give the reason first', 'plant.ok.receive': 'Received', 'plant.ok.reject': 'Rejected', 'plant.ok.dispose': 'Disposed',
    'plant.dup': 'Recorded before (not counted again)', 'plant.refused': 'Not recorded', 'plant.state': 'State now: {s}', 'plant.anomaly': 'Note: out of sequence, stored and flagged',
    'plant.today': "Today's intake", 'plant.today.def': "Receipts and refusals recorded at this company's gate today (local calendar day); weights from the scale.",
    'plant.received': '{n} received', 'plant.rejected': '{n} rejected', 'plant.transit': 'In transit (collected, not received)',
    'plant.waiting': 'Received, waiting for disposal', 'col.code': 'Code', 'col.time': 'Time', 'col.action': 'Action', 'col.kg': 'Weight', 'col.reason': 'Reason',
    'plant.col.producer': 'Producer', 'col.category': 'Category', 'col.state': 'State', 'col.collected.kg': 'kg collected',
    'm.incineration': 'Incineration', 'm.high_temperature_steam': 'High-temperature steam', 'm.chemical_disinfection': 'Chemical disinfection', 'm.microwave': 'Microwave',
    'm.other': 'Other', 'plant.scans': 'Scans at this screen', 'plant.method.other': 'Which other method', 'plant.need.other': 'Say which method',
    'r.leaking': 'Leaking or torn', 'r.unlabelled': 'Label missing or unreadable', 'r.unsealed': 'Not sealed', 'r.wrong_category': 'Wrong category', 'r.not_ours': 'Not accepted at this plant',
  },
});

/** Disposal methods offered at the gate, sent as the dispose event's `method`. When the API
 * publishes its list of method codes, replace this constant with it (the select is built from it). */
export const DISPOSAL_METHODS = ['incineration', 'high_temperature_steam', 'chemical_disinfection', 'microwave', 'other'];
const REASONS = ['leaking', 'unlabelled', 'unsealed', 'wrong_category', 'not_ours'];
const MODES = ['receive', 'reject', 'dispose'];
const MODE_KEY = 'yifei.plant.mode';

async function lists(box, ctx) {
  const [intake, transit, waiting] = await Promise.all([
    api.get('/plant/intake', { date: today() }),
    all('/containers', { state: 'collected' }),
    all('/containers', { state: 'received' }),
  ]);
  if (ctx.stale()) return;
  box.replaceChildren(
    h('h2', null, t('plant.today')),
    h('p', { class: 'def' }, t('plant.today.def')),
    h('div', { class: 'plant-totals' },
      h('span', { class: 'badge ok', id: 'intake-received' }, t('plant.received', { n: intake.received }), ' · ', kg(intake.received_kg)),
      h('span', { class: `badge ${intake.rejected ? 'bad' : ''}`, id: 'intake-rejected' }, t('plant.rejected', { n: intake.rejected }))),
    table([
      { label: t('col.time'), value: (l) => dateTime(l.occurred_at) },
      { label: t('col.code'), value: (l) => h('span', { class: 'code' }, printed(l.code)) },
      { label: t('col.action'), value: (l) => t(`plant.ok.${l.action}`) },
      { label: t('col.kg'), value: (l) => kg(l.weight_kg), num: true },
      { label: t('col.reason'), value: (l) => (l.reason ? (t(`r.${l.reason}`).startsWith('r.') ? l.reason : t(`r.${l.reason}`)) : '') },
      { label: t('plant.col.producer'), value: (l) => l.institution_name },
      { label: t('col.state'), value: (l) => stateName(l.state) },
    ], [...intake.items].reverse()),
    h('h2', null, t('plant.transit')),
    table([
      { label: t('col.code'), value: (c) => h('span', { class: 'code' }, printed(c.code)) },
      { label: t('plant.col.producer'), value: (c) => c.label?.producer || '' },
      { label: t('col.category'), value: (c) => cat(c.category) },
      { label: t('col.collected.kg'), value: (c) => kg(c.weights?.collect_kg), num: true },
    ], transit),
    h('h2', null, t('plant.waiting')),
    table([
      { label: t('col.code'), value: (c) => h('span', { class: 'code' }, printed(c.code)) },
      { label: t('plant.col.producer'), value: (c) => c.label?.producer || '' },
      { label: t('col.category'), value: (c) => cat(c.category) },
      { label: t('col.kg'), value: (c) => kg(c.weights?.receive_kg), num: true },
    ], waiting),
  );
}

async function render(page, ctx) {
  let mode = MODES.includes(localStorage.getItem(MODE_KEY)) ? localStorage.getItem(MODE_KEY) : 'receive';
  const code = h('input', { name: 'code', class: 'scan-input', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters', enterkeyhint: 'done' });
  const weight = h('input', { name: 'weight_kg', type: 'number', inputmode: 'decimal', step: '0.01', min: '0.01' });
  const reasonList = h('datalist', { id: 'plant-reasons' }, REASONS.map((r) => h('option', { value: t(`r.${r}`) })));
  const reason = h('input', { name: 'reason', list: 'plant-reasons', maxlength: '200', autocomplete: 'off' });
  const method = h('select', { name: 'method' }, DISPOSAL_METHODS.map((m) => h('option', { value: m }, t(`m.${m}`))));
  // "Other" is accepted only with what it was (the server takes `other: <text>`).
  const otherText = h('input', { name: 'method_other', maxlength: '100', autocomplete: 'off' });
  const feedback = h('div', { class: 'gate-feedback idle', id: 'gate-feedback', role: 'status', 'aria-live': 'assertive', 'aria-atomic': 'true' },
    h('div', { class: 'big' }, t('plant.ready')));
  const log = h('ol', { class: 'gate-log', 'aria-label': t('plant.scans') });
  const listBox = h('div', { 'aria-busy': 'false' });
  const weightField = field(t('plant.weight'), weight);
  const reasonField = field(t('plant.reason'), reason);
  const methodField = field(t('plant.method'), method);
  const otherField = field(t('plant.method.other'), otherText);
  const showOther = () => { otherField.hidden = mode !== 'dispose' || method.value !== 'other'; };
  method.addEventListener('change', () => { showOther(); if (method.value === 'other') otherText.focus(); });
  let pending = null; // a code waiting for its weight or reason
  let busy = false;

  const show = (kind, big, ...lines) => {
    feedback.className = `gate-feedback ${kind}`;
    feedback.replaceChildren(h('div', { class: 'big' }, big), ...lines.filter(Boolean).map((l) => h('div', null, l)));
  };
  const modeButtons = MODES.map((m) => h('button', { type: 'button', class: 'mode', 'aria-pressed': String(m === mode), dataset: { mode: m }, onclick: () => setMode(m) }, t(`plant.${m}`)));
  function setMode(m) {
    mode = m;
    localStorage.setItem(MODE_KEY, m);
    modeButtons.forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.mode === m)));
    weightField.hidden = m !== 'receive';
    reasonField.hidden = m !== 'reject';
    methodField.hidden = m !== 'dispose';
    showOther();
    pending = null;
    code.focus();
  }

  let refreshTimer = null;
  const refresh = () => { clearTimeout(refreshTimer); refreshTimer = setTimeout(() => lists(listBox, ctx).catch(() => {}), 300); };

  async function submit(raw) {
    const typed = raw.trim();
    if (!typed || busy) return;
    const ev = { code: typed, action: mode, device_id: 'plant-gate' };
    if (mode === 'receive') {
      const w = Number(weight.value);
      if (!weight.value || !(w > 0)) { pending = typed; show('warn', t('plant.need.weight'), printed(typed.toUpperCase())); weight.focus(); return; }
      ev.weight_kg = w;
    } else if (mode === 'reject') {
      if (!reason.value.trim()) { pending = typed; show('warn', t('plant.need.reason'), printed(typed.toUpperCase())); reason.focus(); return; }
      const known = REASONS.find((r) => t(`r.${r}`) === reason.value.trim());
      ev.reason = known || reason.value.trim();
    } else if (method.value === 'other') {
      if (!otherText.value.trim()) { pending = typed; show('warn', t('plant.need.other'), printed(typed.toUpperCase())); otherText.focus(); return; }
      ev.method = `other: ${otherText.value.trim()}`;
    } else {
      ev.method = method.value;
    }
    busy = true;
    pending = null;
    try {
      const { result } = await scanOne(ev);
      const shown = printed(typed.toUpperCase().replace(/^YF1:/, '').replace(/[-\s]/g, ''));
      if (result.status === 'accepted') {
        show('ok', `✓ ${t(`plant.ok.${mode}`)}`, shown, ev.weight_kg ? kg(ev.weight_kg) : null, t('plant.state', { s: stateName(result.state) }));
        if (mode === 'receive') weight.value = '';
      } else if (result.status === 'duplicate') {
        show('warn', t('plant.dup'), shown, t('plant.state', { s: stateName(result.state) }));
      } else {
        show('bad', `✗ ${t('plant.refused')}`, shown, reasonText(result.reason));
      }
      log.prepend(h('li', { class: result.status }, `${new Date().toLocaleTimeString()} ${shown} · ${t(`plant.${mode}`)} · ${result.status === 'rejected' ? reasonText(result.reason) : stateName(result.state)}`));
      while (log.children.length > 20) log.lastChild.remove();
      if (result.status === 'accepted') refresh();
    } catch (err) {
      show('bad', `✗ ${t('plant.refused')}`, err.offline ? t('app.offline') : err.message);
    } finally {
      busy = false;
      code.value = '';
      code.focus();
    }
  }

  code.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); submit(code.value); } });
  // Enter in the weight or reason field sends the code that waited for it, else goes back to
  // the scanner's field.
  for (const f of [weight, reason, otherText]) {
    f.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      if (pending) submit(pending); else code.focus();
    });
  }
  // A scanner types wherever the focus is: when nothing is focused, the code field takes it.
  const refocus = (e) => {
    if (ctx.stale() || !code.isConnected) { document.removeEventListener('keydown', refocus, true); return; }
    const a = document.activeElement;
    if ((!a || a === document.body || a.id === 'main') && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) code.focus();
  };
  document.addEventListener('keydown', refocus, true);

  page.append(
    h('h1', null, t('plant.title')),
    h('section', { class: 'card gate' },
      h('div', { class: 'modes', role: 'group', 'aria-label': t('plant.mode') }, modeButtons),
      h('div', { class: 'gate-fields' }, weightField, reasonField, reasonList, methodField, otherField),
      field(t('plant.code'), code),
      feedback,
      h('details', { class: 'gate-log-box' }, h('summary', null, t('plant.scans')), log)),
    listBox,
  );
  setMode(mode);
  await lists(listBox, ctx);
  setTimeout(() => code.focus(), 0);
}

export const routes = [{ path: '/plant', nav: 'nav.plant', roles: ['plant_operator'], render }];
