// Clinic staff and hub keepers: what is waiting and its storage deadline, sealing a container
// with its weight, asking for a pickup; the history with the transfer manifests. Labels are
// in clinic-labels.js, the hub's big boxes in clinic-hub.js.
import { api, all } from '../api.js';
import { h, field, table, notice, dateTime, kg } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { cat, pack, stateName, printed, reasonText, showFieldErrors, clearFieldErrors, scanOne } from './clinic-words.js';
import * as labels from './clinic-labels.js';
import * as hub from './clinic-hub.js';

addStrings({
  zh: {
    'nav.clinic': '待收运', 'nav.clinic.history': '历史', 'clinic.title': '待收运的医疗废物',
    'clinic.def': '期限 = 封口时间 + {limit} 小时（《医疗废物管理条例》第十七条：暂时贮存不得超过 2 天）；封口后 {warn} 小时起提醒。',
    'clinic.epidemic': '疫情模式：期限缩短为 {limit} 小时。', 'clinic.asof': '截至 {at}',
    'clinic.count': '待收运 {n} 件', 'clinic.first': '最早期限', 'clinic.none': '没有待收运的容器。',
    'col.code': '编码', 'col.category': '类别', 'col.packaging': '包装', 'col.sealed': '封口时间', 'col.deadline': '期限',
    'col.left': '剩余', 'col.state': '状态', 'col.weight': '重量', 'col.institution': '机构', 'col.created': '创建',
    'clinic.ok': '正常', 'clinic.warn': '将到期', 'clinic.overdue': '已超期',
    'clinic.left': '还剩 {d}', 'clinic.late': '已超 {d}', 'clinic.h': '{h} 小时 {m} 分', 'clinic.m': '{m} 分',
    'clinic.seal': '封口称重', 'clinic.seal.code': '容器编码（扫码或输入）', 'clinic.seal.kg': '重量（kg）',
    'clinic.seal.submit': '封口', 'clinic.sealed': '已封口：{code}（{kg}）', 'clinic.seal.dup': '此次扫描已记录过：{code}',
    'clinic.seal.refused': '未记录 {code}：{why}',
    'clinic.pickup': '申请收运', 'clinic.pickup.kg': '预计重量（kg）', 'clinic.pickup.n': '容器数量',
    'clinic.pickup.earliest': '最早（可选）', 'clinic.pickup.latest': '最晚（可选）', 'clinic.pickup.note': '给调度员的备注（可选）',
    'clinic.pickup.submit': '提交申请', 'clinic.pickup.done': '已提交收运申请，调度员会安排。',
    'clinic.requests': '收运申请', 'col.status': '状态', 'col.est': '预计', 'col.note': '备注', 'col.window': '时间',
    'req.open': '待收运', 'req.done': '已收运',
    'clinic.history': '历史记录', 'clinic.containers': '全部容器', 'clinic.manifests': '转移联单',
    'col.number': '联单号', 'col.plate': '车牌', 'col.collected': '交接时间', 'col.count': '件数', 'col.kg.collected': '收运重量', 'col.kg.received': '入厂重量',
    'mf.open': '收运中', 'mf.in_transit': '运输中', 'mf.received': '已入厂', 'mf.closed': '已处置',
    'clinic.manifests.def': '联单按收运任务生成：取自本机构最近 {n} 件已收运容器的收运记录。',
    'clinic.csv': '下载 CSV',
  },
  en: {
    'nav.clinic': 'Waiting', 'nav.clinic.history': 'History', 'clinic.title': 'Waste waiting for pickup',
    'clinic.def': 'Deadline = seal time + {limit} h (Medical Waste Regulation Art. 17: temporary storage at most 2 days); reminder from {warn} h after the seal.',
    'clinic.epidemic': 'Epidemic mode: the limit is {limit} h.', 'clinic.asof': 'as of {at}',
    'clinic.count': '{n} waiting', 'clinic.first': 'Earliest deadline', 'clinic.none': 'Nothing is waiting.',
    'col.code': 'Code', 'col.category': 'Category', 'col.packaging': 'Packaging', 'col.sealed': 'Sealed', 'col.deadline': 'Deadline',
    'col.left': 'Left', 'col.state': 'State', 'col.weight': 'Weight', 'col.institution': 'Institution', 'col.created': 'Created',
    'clinic.ok': 'on time', 'clinic.warn': 'due soon', 'clinic.overdue': 'overdue',
    'clinic.left': '{d} left', 'clinic.late': '{d} late', 'clinic.h': '{h} h {m} min', 'clinic.m': '{m} min',
    'clinic.seal': 'Seal and weigh', 'clinic.seal.code': 'Container code (scan or type)', 'clinic.seal.kg': 'Weight (kg)',
    'clinic.seal.submit': 'Seal', 'clinic.sealed': 'Sealed: {code} ({kg})', 'clinic.seal.dup': 'This scan was recorded before: {code}',
    'clinic.seal.refused': 'Not recorded {code}: {why}',
    'clinic.pickup': 'Request a pickup', 'clinic.pickup.kg': 'Estimated weight (kg)', 'clinic.pickup.n': 'Containers',
    'clinic.pickup.earliest': 'Not before (optional)', 'clinic.pickup.latest': 'Not after (optional)', 'clinic.pickup.note': 'Note for the dispatcher (optional)',
    'clinic.pickup.submit': 'Send request', 'clinic.pickup.done': 'Pickup requested; the dispatcher will plan it.',
    'clinic.requests': 'Pickup requests', 'col.status': 'Status', 'col.est': 'Estimate', 'col.note': 'Note', 'col.window': 'When',
    'req.open': 'open', 'req.done': 'collected',
    'clinic.history': 'History', 'clinic.containers': 'All containers', 'clinic.manifests': 'Transfer manifests',
    'col.number': 'Manifest', 'col.plate': 'Plate', 'col.collected': 'Handed over', 'col.count': 'Containers', 'col.kg.collected': 'kg collected', 'col.kg.received': 'kg at plant',
    'mf.open': 'collecting', 'mf.in_transit': 'in transit', 'mf.received': 'received', 'mf.closed': 'disposed',
    'clinic.manifests.def': 'One manifest per run: found from the pickups of the institution\'s latest {n} collected containers.',
    'clinic.csv': 'Download CSV',
  },
});

function duration(ms) {
  const min = Math.round(Math.abs(ms) / 60000);
  const hh = Math.floor(min / 60);
  return hh ? t('clinic.h', { h: hh, m: min % 60 }) : t('clinic.m', { m: min });
}

function badge(status) {
  const cls = { ok: 'ok', warn: 'warn', overdue: 'bad' }[status] || '';
  return h('span', { class: `badge ${cls}` }, t(`clinic.${status}`));
}

function sealForm(done) {
  const code = h('input', { name: 'code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', required: true });
  const weight = h('input', { name: 'weight_kg', type: 'number', inputmode: 'decimal', step: '0.01', min: '0.01', required: true });
  const msg = h('div', { 'aria-live': 'polite' });
  const controls = { code, weight_kg: weight };
  const form = h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault();
    clearFieldErrors(controls);
    msg.replaceChildren();
    try {
      const { result } = await scanOne({ code: code.value.trim(), action: 'seal', weight_kg: Number(weight.value) });
      if (result.status === 'rejected') {
        const field = result.reason?.startsWith('weight') ? 'weight_kg' : 'code';
        showFieldErrors({ problem: { errors: [{ field, message: reasonText(result.reason) }] } }, controls);
        return;
      }
      const ok = notice('ok', t(result.status === 'duplicate' ? 'clinic.seal.dup' : 'clinic.sealed', { code: printed(code.value.trim().toUpperCase()), kg: kg(weight.value) }));
      msg.append(ok);
      code.value = ''; weight.value = '';
      await done(ok.cloneNode(true));
      document.querySelector('.clinic-seal input[name=code]')?.focus();
    } catch (err) {
      msg.append(notice('error', err.message, ...showFieldErrors(err, controls).map((l) => h('div', null, l))));
    }
  } }, field(t('clinic.seal.code'), code), field(t('clinic.seal.kg'), weight), h('button', { type: 'submit' }, t('clinic.seal.submit')));
  return h('section', { class: 'card clinic-seal' }, h('h2', null, t('clinic.seal')), form, msg);
}

function localInput(name) { return h('input', { name, type: 'datetime-local' }); }

function pickupForm(clocks, done) {
  const sum = clocks.items.reduce((a, c) => a + (c.seal_kg || 0), 0);
  const est = h('input', { name: 'est_weight_kg', type: 'number', inputmode: 'decimal', step: '0.1', min: '0.1', required: true, value: sum ? String(Math.round(sum * 10) / 10) : '' });
  const n = h('input', { name: 'containers', type: 'number', inputmode: 'numeric', min: '1', step: '1', value: clocks.items.length ? String(clocks.items.length) : '' });
  const earliest = localInput('earliest');
  const latest = localInput('latest');
  const note = h('textarea', { name: 'note', rows: '2', maxlength: '500' });
  const controls = { est_weight_kg: est, containers: n, earliest, latest, note };
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    msg.replaceChildren();
    clearFieldErrors(controls);
    const body = { est_weight_kg: Number(est.value) };
    if (n.value) body.containers = Number(n.value);
    if (earliest.value) body.earliest = new Date(earliest.value).toISOString();
    if (latest.value) body.latest = new Date(latest.value).toISOString();
    if (note.value.trim()) body.note = note.value.trim();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await api.post('/pickup-requests', body);
      msg.append(notice('ok', t('clinic.pickup.done')));
      note.value = '';
      await done(notice('ok', t('clinic.pickup.done')));
    } catch (err) {
      msg.append(notice('error', err.message, ...showFieldErrors(err, controls).map((l) => h('div', null, l))));
    } finally { button.disabled = false; }
  } },
  h('div', { class: 'grid two' }, field(t('clinic.pickup.kg'), est), field(t('clinic.pickup.n'), n)),
  h('div', { class: 'grid two' }, field(t('clinic.pickup.earliest'), earliest), field(t('clinic.pickup.latest'), latest)),
  field(t('clinic.pickup.note'), note),
  h('div', null, h('button', { type: 'submit' }, t('clinic.pickup.submit'))));
  return h('section', { class: 'card' }, h('h2', null, t('clinic.pickup')), form, msg);
}

function requestsTable(requests) {
  return table([
    { label: t('col.created'), value: (r) => dateTime(r.created_at) },
    { label: t('col.est'), value: (r) => `${kg(r.est_weight_kg)}${r.containers ? ` · ${r.containers}` : ''}`, num: true },
    { label: t('col.window'), value: (r) => (r.earliest || r.latest ? `${dateTime(r.earliest)} – ${dateTime(r.latest)}` : '—') },
    { label: t('col.note'), value: (r) => r.note || '' },
    { label: t('col.status'), value: (r) => h('span', { class: `badge ${r.status === 'open' ? 'warn' : 'ok'}` }, t(`req.${r.status}`)) },
  ], requests);
}

async function waiting(page, ctx, root = page) {
  const [clocks, requests] = await Promise.all([api.get('/storage-clocks'), api.get('/pickup-requests')]);
  if (ctx.stale()) return;
  // Redraws the page in place (the forms of the new drawing redraw the same page).
  const refresh = async (note) => {
    const next = h('div');
    await waiting(next, ctx, root);
    root.replaceChildren(...next.childNodes);
    if (note) root.querySelector('.clinic-flash')?.append(note);
  };
  const now = Date.parse(clocks.as_of);
  const first = clocks.items.reduce((m, c) => (!m || c.deadline < m.deadline ? c : m), null);
  const showInst = ctx.me.role === 'hub_keeper';
  page.append(
    h('h1', null, t('clinic.title')),
    h('div', { class: 'clinic-flash', 'aria-live': 'polite' }),
    h('div', { class: 'grid two clinic-summary' },
      h('div', { class: 'card figure' },
        h('div', { class: 'value' }, t('clinic.count', { n: clocks.items.length })),
        h('div', { class: 'name' }, t('clinic.first')),
        h('div', { class: `value small ${first?.status === 'overdue' ? 'bad' : ''}` }, first ? dateTime(first.deadline) : '—'),
        h('div', { class: 'def' }, t('clinic.asof', { at: dateTime(clocks.as_of) }))),
      h('div', { class: 'card def-card' },
        h('p', { class: 'def' }, t('clinic.def', { limit: clocks.limit_h, warn: clocks.warn_h })),
        clocks.epidemic ? notice('warn', t('clinic.epidemic', { limit: clocks.limit_h })) : null)),
    table([
      { label: t('col.code'), value: (c) => h('span', { class: 'code' }, printed(c.code)) },
      ...(showInst ? [{ label: t('col.institution'), value: (c) => c.institution_name }] : []),
      { label: t('col.category'), value: (c) => cat(c.category) },
      { label: t('col.weight'), value: (c) => kg(c.seal_kg), num: true },
      { label: t('col.sealed'), value: (c) => dateTime(c.sealed_at) },
      { label: t('col.deadline'), value: (c) => dateTime(c.deadline) },
      { label: t('col.left'), value: (c) => { const d = Date.parse(c.deadline) - now; return d >= 0 ? t('clinic.left', { d: duration(d) }) : t('clinic.late', { d: duration(d) }); } },
      { label: t('col.state'), value: (c) => badge(c.status) },
    ], clocks.items, { empty: t('clinic.none') }),
    h('div', { class: 'grid two clinic-forms' }, sealForm(refresh), pickupForm(clocks, refresh)),
    h('h2', null, t('clinic.requests')),
    requestsTable(requests),
  );
}

/** The manifests of the institution: the runs of its latest collected containers' pickups,
 * each run's manifests (the API answers an institution with its own only). */
async function manifestsOf(containers, limit = 40) {
  const moved = containers.filter((c) => ['collected', 'received', 'disposed', 'rejected'].includes(c.state)).slice(-limit);
  const details = await Promise.all(moved.map((c) => api.get(`/containers/${encodeURIComponent(c.code)}`).catch(() => null)));
  const runs = new Set();
  for (const d of details) for (const e of d?.events || []) if (e.action === 'collect' && e.run_id) runs.add(e.run_id);
  const lists = await Promise.all([...runs].map((r) => api.get(`/runs/${encodeURIComponent(r)}/manifests`).then((x) => x.items).catch(() => [])));
  const byNumber = new Map();
  for (const m of lists.flat()) byNumber.set(m.number, m);
  return { items: [...byNumber.values()].sort((a, b) => b.created_at.localeCompare(a.created_at)), limit };
}

async function history(page, ctx) {
  const containers = await all('/containers');
  if (ctx.stale()) return;
  const newest = [...containers].reverse();
  const mfBox = h('div', { 'aria-live': 'polite' }, h('p', { class: 'loading' }, t('app.loading')));
  page.append(
    h('h1', null, t('clinic.history')),
    h('h2', null, t('clinic.manifests')),
    mfBox,
    h('h2', null, t('clinic.containers')),
    table([
      { label: t('col.code'), value: (c) => h('span', { class: 'code' }, printed(c.code)) },
      { label: t('col.category'), value: (c) => cat(c.category) },
      { label: t('col.packaging'), value: (c) => pack(c.packaging) },
      { label: t('col.state'), value: (c) => stateName(c.state) },
      { label: t('col.sealed'), value: (c) => dateTime(c.sealed_at) },
      { label: t('col.weight'), value: (c) => kg(c.weights?.seal_kg), num: true },
      { label: t('col.kg.received'), value: (c) => kg(c.weights?.receive_kg), num: true },
    ], newest),
  );
  manifestsOf(containers).then(({ items, limit }) => {
    if (ctx.stale()) return;
    mfBox.replaceChildren(
      h('p', { class: 'def' }, t('clinic.manifests.def', { n: limit })),
      table([
        { label: t('col.number'), value: (m) => h('span', { class: 'code' }, m.number) },
        { label: t('col.collected'), value: (m) => dateTime(m.collected?.at) },
        { label: t('col.plate'), value: (m) => m.plate },
        { label: t('col.count'), value: (m) => `${m.count_collected} / ${m.count_received}`, num: true },
        { label: t('col.kg.collected'), value: (m) => kg(m.weight_collected_kg), num: true },
        { label: t('col.kg.received'), value: (m) => kg(m.weight_received_kg), num: true },
        { label: t('col.status'), value: (m) => t(`mf.${m.status}`) },
        { label: '', value: (m) => h('button', { type: 'button', class: 'link', onclick: () => api.download(`/manifests/${encodeURIComponent(m.number)}.csv`, null, `${m.number}.csv`, 'text/csv') }, t('clinic.csv')) },
      ], items),
    );
  }).catch((e) => mfBox.replaceChildren(notice('error', e.message)));
}

export const routes = [
  { path: '/clinic', nav: 'nav.clinic', roles: ['clinic_staff', 'hub_keeper'], render: waiting },
  ...labels.routes,
  ...hub.routes,
  { path: '/clinic/history', nav: 'nav.clinic.history', roles: ['clinic_staff', 'hub_keeper'], render: history },
];
