// Dispatcher of the disposal company: a day's due stops and why, planning it (the solver
// takes seconds), the runs on a map and stop by stop, urgent insertion, skips; the fleet is
// on its own page (dispatch-fleet.js).
import { api, all } from '../api.js';
import { h, table, notice, field, select, dateTime, kg, today, put } from '../dom.js';
import { t, addStrings, lang } from '../i18n.js';
import { runMap, colourClass } from './dispatch-map.js';
import { fleetRoute } from './dispatch-fleet.js';

addStrings({
  zh: {
    'nav.dispatch': '调度', 'dispatch.title': '调度：{date}', 'dispatch.day': '日期', 'dispatch.today': '今天', 'dispatch.tomorrow': '明天',
    'dispatch.show': '查看', 'dispatch.plan': '规划这一天', 'dispatch.replan': '重新规划', 'dispatch.planning': '正在规划… 已用 {s} 秒',
    'dispatch.planning.hint': '求解器在计算路线，期间不锁定数据库；扫码照常进行。',
    'dispatch.planned': '已规划：{runs} 条路线，{stops} 个站点，{unassigned} 个未能安排；用时 {s} 秒。',
    'dispatch.replan.hint': '重新规划会替换本日尚未出发的路线；已出发的路线保持不变。',
    'dispatch.unassigned': '未能安排的站点（{n}）：仍在待收列表中，可插单或增派车辆后重新规划', 'dispatch.notes': '规划期间的变化',
    'dispatch.due': '待收站点（{n}）', 'dispatch.due.hint': '按紧迫程度排列：已逾期的在前，其次期限最近的。',
    'dispatch.runs': '路线（{n}）', 'dispatch.noruns': '这一天还没有路线。', 'dispatch.map': '路线图', 'dispatch.map.label': '{n} 条路线的地图：处置厂和按顺序编号的站点',
    'dispatch.plant': '处置厂', 'dispatch.run.head': '{plate}', 'dispatch.run.meta': '{start}–{end} · {km} km · {min} 分钟 · 装载 {load}',
    'dispatch.run.count': '{n} 站（已收 {done}，跳过 {skipped}）', 'dispatch.driver': '司机：{name}', 'dispatch.nodriver': '未指派司机',
    'dispatch.skipped': '已跳过的站点（{n}）', 'dispatch.skipped.hint': '跳过的站点会回到待收列表，重新规划或插单时可再安排。',
    'dispatch.insert': '紧急插单', 'dispatch.insert.inst': '机构', 'dispatch.insert.run': '插入路线', 'dispatch.insert.go': '插入',
    'dispatch.insert.hint': '以最小的额外里程插入一条尚未结束的路线。',
    'dispatch.inserted': '已插入 {plate}：{name} 为第 {seq} 站，预计 {eta} 到达。', 'dispatch.insert.none': '没有可插单的路线（需要本日已规划或进行中的路线）。',
    'dispatch.skip': '跳过', 'dispatch.skip.reason': '跳过原因', 'dispatch.skip.go': '确认跳过', 'dispatch.skip.done': '已跳过第 {seq} 站：{name}',
    'col.seq': '序', 'col.inst': '机构', 'col.address': '地址', 'col.eta': '预计到达', 'col.deadline': '期限', 'col.status': '状态', 'col.why': '原因',
    'col.when': '时间要求', 'col.expected': '预计', 'col.phone': '电话', 'col.township': '乡镇', 'col.action': '操作',
    'reason.overdue': '已逾期', 'reason.storage_deadline': '贮存期限将至', 'reason.interval_lapses': '收集间隔将满', 'reason.requested': '机构申请收运',
    'reason.skipped': '曾被跳过', 'reason.via_hub': '代收村卫生室',
    'due.deadline': '期限 {at}', 'due.nodeadline': '无贮存期限（无待收废物）', 'due.earliest': '当天最早可到 {at}', 'due.next': '下次机会 {at}',
    'due.nonext': '之后没有可收运的工作日', 'due.late': '到达时已超期 {min} 分钟', 'due.expected': '{kg}，{n} 件',
    'stop.pending': '待收', 'stop.completed': '已收', 'stop.skipped': '已跳过', 'run.planned': '已规划', 'run.in_progress': '进行中', 'run.done': '已完成', 'run.cancelled': '已取消',
  },
  en: {
    'nav.dispatch': 'Dispatch', 'dispatch.title': 'Dispatch: {date}', 'dispatch.day': 'Day', 'dispatch.today': 'Today', 'dispatch.tomorrow': 'Tomorrow',
    'dispatch.show': 'Show', 'dispatch.plan': 'Plan this day', 'dispatch.replan': 'Plan again', 'dispatch.planning': 'Planning… {s} s so far',
    'dispatch.planning.hint': 'The solver is routing; it holds no database lock, scans go on meanwhile.',
    'dispatch.planned': 'Planned: {runs} runs, {stops} stops, {unassigned} not placed; took {s} s.',
    'dispatch.replan.hint': 'Planning again replaces the runs of the day that have not started; runs under way stay.',
    'dispatch.unassigned': 'Stops the plan could not place ({n}): still due; insert them or add a vehicle and plan again', 'dispatch.notes': 'What changed while planning',
    'dispatch.due': 'Due stops ({n})', 'dispatch.due.hint': 'Most urgent first: overdue, then the nearest deadline.',
    'dispatch.runs': 'Runs ({n})', 'dispatch.noruns': 'No runs on this day yet.', 'dispatch.map': 'Map of the runs', 'dispatch.map.label': 'Map of {n} runs: the plant and the stops numbered in order',
    'dispatch.plant': 'Plant', 'dispatch.run.head': '{plate}', 'dispatch.run.meta': '{start}–{end} · {km} km · {min} min · load {load}',
    'dispatch.run.count': '{n} stops ({done} collected, {skipped} skipped)', 'dispatch.driver': 'Driver: {name}', 'dispatch.nodriver': 'No driver assigned',
    'dispatch.skipped': 'Skipped stops ({n})', 'dispatch.skipped.hint': 'A skipped stop is due again: planning again or an insertion can place it.',
    'dispatch.insert': 'Urgent insertion', 'dispatch.insert.inst': 'Institution', 'dispatch.insert.run': 'Into run', 'dispatch.insert.go': 'Insert',
    'dispatch.insert.hint': 'Inserted into a run not yet done, where it adds the least distance.',
    'dispatch.inserted': 'Inserted into {plate}: {name} as stop {seq}, expected at {eta}.', 'dispatch.insert.none': 'No run to insert into (a planned or running run of the day is needed).',
    'dispatch.skip': 'Skip', 'dispatch.skip.reason': 'Reason for skipping', 'dispatch.skip.go': 'Skip the stop', 'dispatch.skip.done': 'Skipped stop {seq}: {name}',
    'col.seq': '#', 'col.inst': 'Institution', 'col.address': 'Address', 'col.eta': 'ETA', 'col.deadline': 'Deadline', 'col.status': 'Status', 'col.why': 'Why',
    'col.when': 'Timing', 'col.expected': 'Expected', 'col.phone': 'Phone', 'col.township': 'Township', 'col.action': 'Action',
    'reason.overdue': 'overdue', 'reason.storage_deadline': 'storage deadline', 'reason.interval_lapses': 'collection interval lapses', 'reason.requested': 'requested',
    'reason.skipped': 'skipped earlier', 'reason.via_hub': 'collects its villages (hub)',
    'due.deadline': 'deadline {at}', 'due.nodeadline': 'no storage deadline (nothing sealed waiting)', 'due.earliest': 'earliest visit on the day {at}', 'due.next': 'next chance {at}',
    'due.nonext': 'no working day after it to collect', 'due.late': 'already {min} min past the deadline on arrival', 'due.expected': '{kg}, {n} containers',
    'stop.pending': 'to collect', 'stop.completed': 'collected', 'stop.skipped': 'skipped', 'run.planned': 'planned', 'run.in_progress': 'under way', 'run.done': 'done', 'run.cancelled': 'cancelled',
  },
});

/** The reasons of a due or planned stop, in words. */
function reasons(list) {
  return (list || []).map((r) => h('span', { class: `badge${r === 'overdue' ? ' bad' : r === 'storage_deadline' ? ' warn' : ''}` }, t(`reason.${r}`))).flatMap((b, i) => (i ? [' ', b] : [b]));
}

/** When a due stop must be visited, in words, from the fields (the server's `explanation`
 * is English; it is shown as well in the English console). */
function timing(s) {
  const parts = [
    s.deadline ? t('due.deadline', { at: dateTime(s.deadline) }) : t('due.nodeadline'),
    s.earliest_visit ? t('due.earliest', { at: dateTime(s.earliest_visit) }) : null,
    s.next_chance ? t('due.next', { at: dateTime(s.next_chance) }) : t('due.nonext'),
  ].filter(Boolean);
  return h('div', { class: 'due-when' },
    h('div', null, parts.join(lang() === 'en' ? '; ' : '；')),
    s.late_by_min ? h('div', { class: 'late' }, t('due.late', { min: s.late_by_min })) : null,
    lang() === 'en' && s.explanation ? h('div', { class: 'muted' }, s.explanation) : null);
}

function dueTable(stops) {
  return table([
    { label: t('col.inst'), value: (s) => h('div', null, h('strong', null, s.name), h('div', { class: 'muted' }, `${s.township} · ${s.address}`)) },
    { label: t('col.why'), value: (s) => reasons(s.reasons) },
    { label: t('col.when'), value: timing },
    { label: t('col.expected'), num: true, value: (s) => t('due.expected', { kg: kg(s.expected_kg), n: s.expected_containers }) },
  ], stops, { caption: t('dispatch.due.hint') });
}

/**
 * The controls of a plan: the day, and room for more (the planning horizon, when the API has
 * it, goes in `extra` and into `body()`), so that adding a selector touches this one place.
 */
function planControls(day, { onShow, onPlan, hasRuns }) {
  const date = h('input', { type: 'date', name: 'date', value: day, required: true });
  const extra = []; // e.g. a horizon <select>, once POST /plans takes `horizon_days`
  const body = () => ({ date: date.value });
  const planButton = h('button', { type: 'submit', name: 'plan' }, hasRuns ? t('dispatch.replan') : t('dispatch.plan'));
  const form = h('form', { class: 'inline plan-controls', onsubmit: (e) => { e.preventDefault(); onPlan(body(), planButton); } },
    field(t('dispatch.day'), date),
    ...extra,
    h('button', { type: 'button', class: 'secondary', onclick: () => onShow(date.value) }, t('dispatch.show')),
    h('button', { type: 'button', class: 'secondary', onclick: () => onShow(today(0)) }, t('dispatch.today')),
    h('button', { type: 'button', class: 'secondary', onclick: () => onShow(today(1)) }, t('dispatch.tomorrow')),
    planButton);
  return form;
}

/** Shows a spinner and the seconds elapsed until `work` settles; returns its result. */
async function withProgress(box, work) {
  const started = performance.now();
  const label = h('span', null, t('dispatch.planning', { s: 0 }));
  put(box, h('div', { class: 'plan-progress', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label,
    h('div', { class: 'muted' }, t('dispatch.planning.hint'))));
  const timer = setInterval(() => { label.textContent = t('dispatch.planning', { s: Math.round((performance.now() - started) / 1000) }); }, 1000);
  try {
    return { result: await work(), seconds: ((performance.now() - started) / 1000).toFixed(1) };
  } finally {
    clearInterval(timer);
  }
}

function runStatus(status) {
  return h('span', { class: `badge${status === 'in_progress' ? ' warn' : status === 'done' ? ' ok' : ''}` }, t(`run.${status}`));
}

function stopStatus(s) {
  const cls = s.status === 'completed' ? ' ok' : s.status === 'skipped' ? ' bad' : '';
  return h('span', null, h('span', { class: `badge${cls}` }, t(`stop.${s.status}`)), s.skip_reason ? h('div', { class: 'muted' }, s.skip_reason) : null);
}

/** A run: its figures and its stops with ETAs; pending stops can be skipped with a reason. */
function runCard(run, i, drivers, onSkip, expanded) {
  const driver = drivers.find((d) => d.id === run.driver_id);
  const skipCell = (s) => {
    if (s.status !== 'pending' || run.status === 'done' || run.status === 'cancelled') return '';
    const reason = h('input', { name: 'reason', required: true, maxlength: 200 });
    const form = h('form', { class: 'skip-form', hidden: true, onsubmit: (e) => { e.preventDefault(); onSkip(run, s, reason.value.trim(), form); } },
      field(t('dispatch.skip.reason'), reason), h('button', { type: 'submit', class: 'danger' }, t('dispatch.skip.go')));
    const open = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', onclick: () => {
      form.hidden = !form.hidden; open.setAttribute('aria-expanded', String(!form.hidden)); if (!form.hidden) reason.focus();
    } }, t('dispatch.skip'));
    return h('div', null, open, form);
  };
  const counts = { pending: 0, completed: 0, skipped: 0 };
  for (const s of run.stops) counts[s.status] = (counts[s.status] || 0) + 1;
  // Closed by default: a day of six runs is a few hundred rows; the summary says enough to
  // choose which one to open.
  return h('details', { class: 'card run-card', dataset: { run: run.id }, open: expanded || null },
    h('summary', null,
      h('span', { class: 'run-head' }, h('span', { class: `swatch ${colourClass(i)}`, 'aria-hidden': 'true' }),
        h('strong', null, t('dispatch.run.head', { plate: run.plate })), ' ', runStatus(run.status), ' ',
        h('span', null, t('dispatch.run.count', { n: run.stops.length, done: counts.completed, skipped: counts.skipped }))),
      h('span', { class: 'muted run-meta' },
        t('dispatch.run.meta', { start: dateTime(run.start_time), end: dateTime(run.end_time), km: run.distance_km.toFixed(1), min: Math.round(run.duration_min), load: kg(run.load_kg) }),
        ' · ', driver ? t('dispatch.driver', { name: driver.display_name || driver.login }) : t('dispatch.nodriver'))),
    table([
      { label: t('col.seq'), num: true, value: (s) => String(s.seq) },
      { label: t('col.inst'), value: (s) => h('div', null, h('strong', null, s.name), h('div', { class: 'muted' }, s.address)) },
      { label: t('col.eta'), value: (s) => dateTime(s.eta) },
      { label: t('col.deadline'), value: (s) => dateTime(s.deadline) },
      { label: t('col.why'), value: (s) => reasons(s.reasons) },
      { label: t('col.status'), value: stopStatus },
      { label: t('col.action'), value: skipCell },
    ], run.stops));
}

/** The urgent-insertion form: an institution into a run of the day that is not over. */
function insertForm(runs, due, institutions, onInsert) {
  const open = runs.filter((r) => r.status === 'planned' || r.status === 'in_progress');
  if (!open.length) return h('p', { class: 'muted' }, t('dispatch.insert.none'));
  const onRun = new Set(runs.flatMap((r) => r.stops.filter((s) => s.status !== 'skipped').map((s) => s.institution_id)));
  const seen = new Set();
  const options = [];
  for (const s of due) if (!onRun.has(s.institution_id) && !seen.has(s.institution_id)) { seen.add(s.institution_id); options.push([s.institution_id, `${s.name}（${reasons(s.reasons).filter((x) => typeof x !== 'string').map((b) => b.textContent).join('、')}）`]); }
  for (const i of institutions) if (!onRun.has(i.id) && !seen.has(i.id)) { seen.add(i.id); options.push([i.id, `${i.name} · ${i.township}`]); }
  const inst = select('institution_id', options);
  const run = select('run_id', open.map((r) => [r.id, `${r.plate}（${t(`run.${r.status}`)}）`]));
  const button = h('button', { type: 'submit' }, t('dispatch.insert.go'));
  return h('form', { class: 'inline insert-form', onsubmit: (e) => { e.preventDefault(); onInsert(run.value, inst.value, button); } },
    field(t('dispatch.insert.inst'), inst), field(t('dispatch.insert.run'), run), button,
    h('p', { class: 'hint' }, t('dispatch.insert.hint')));
}

/** Runs whose stops the dispatcher opened: they stay open when the page is re-built. */
const openRuns = new Set();

/** Builds the page into `page`; actions re-build it into `root` (the page on screen). */
async function render(page, ctx, root = page) {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(ctx.query.date || '') ? ctx.query.date : today(0);
  const [due, runList, drivers, institutions] = await Promise.all([
    api.get('/pickups/due', { date: day }),
    api.get('/runs', { date: day }),
    api.get('/drivers').then((d) => d.items),
    all('/institutions', { status: 'active' }).catch(() => []),
  ]);
  if (ctx.stale()) return;
  const runs = runList.items;
  const msg = h('div', { class: 'dispatch-msg', 'aria-live': 'polite' });
  const progress = h('div');
  const reload = async (...notes) => {
    openRuns.clear();
    for (const d of root.querySelectorAll('details.run-card[open]')) openRuns.add(d.dataset.run);
    const fresh = h('div', { class: 'page' });
    await render(fresh, ctx, root);
    if (ctx.stale()) return;
    root.replaceChildren(...fresh.childNodes);
    root.querySelector('.dispatch-msg')?.append(...notes);
  };
  const show = (d) => ctx.navigate('/dispatch', { date: d });
  const plan = async (body, button) => {
    button.disabled = true;
    msg.replaceChildren();
    try {
      const { result: p, seconds } = await withProgress(progress, () => api.post('/plans', body));
      const names = new Map(due.stops.map((s) => [s.institution_id, s.name]));
      const notes = [notice('ok', t('dispatch.planned', { runs: p.runs.length, stops: p.runs.reduce((n, r) => n + r.stops.length, 0), unassigned: p.unassigned.length, s: seconds }))];
      if (p.unassigned.length) {
        notes.push(notice('warn', h('details', { class: 'unassigned', open: true },
          h('summary', null, h('strong', null, t('dispatch.unassigned', { n: p.unassigned.length }))),
          h('ul', null, p.unassigned.map((u) => h('li', null, `${names.get(u.institution_id) || u.institution_id}: ${u.reason}`))))));
      }
      if (p.notes?.length) notes.push(notice('warn', h('strong', null, t('dispatch.notes')), h('ul', null, p.notes.map((n) => h('li', null, n)))));
      if (body.date !== day) return show(body.date);
      await reload(...notes);
    } catch (e) {
      progress.replaceChildren();
      msg.replaceChildren(notice('error', e.message, ...e.fields.map((f) => h('div', null, f))));
      button.disabled = false;
    }
  };
  const skip = async (run, stop, reason, form) => {
    if (!reason) return;
    try {
      await api.post(`/runs/${encodeURIComponent(run.id)}/stops/${stop.seq}/skip`, { reason });
      await reload(notice('ok', t('dispatch.skip.done', { seq: stop.seq, name: stop.name })));
    } catch (e) {
      form.append(notice('error', e.message));
    }
  };
  const insert = async (runId, institutionId, button) => {
    button.disabled = true;
    msg.replaceChildren();
    try {
      const run = await api.post(`/runs/${encodeURIComponent(runId)}/insert`, { institution_id: institutionId });
      const stop = run.stops.find((s) => s.institution_id === institutionId && s.status === 'pending');
      await reload(notice('ok', t('dispatch.inserted', { plate: run.plate, name: stop?.name || institutionId, seq: stop?.seq ?? '?', eta: dateTime(stop?.eta) })));
    } catch (e) {
      msg.replaceChildren(notice('error', e.message, ...e.fields.map((f) => h('div', null, f))));
      button.disabled = false;
    }
  };

  const skipped = runs.flatMap((r) => r.stops.filter((s) => s.status === 'skipped').map((s) => ({ ...s, plate: r.plate })));
  page.append(
    h('h1', null, t('dispatch.title', { date: day })),
    planControls(day, { onShow: show, onPlan: plan, hasRuns: runs.length > 0 }),
    runs.length ? h('p', { class: 'hint' }, t('dispatch.replan.hint')) : null,
    progress,
    msg,
    h('h2', null, t('dispatch.runs', { n: runs.length })),
    runs.length
      ? h('div', { class: 'dispatch-runs' },
        h('figure', { class: 'run-map-wrap' }, runMap(runs, { label: t('dispatch.map.label', { n: runs.length }), plant: t('dispatch.plant') }),
          h('figcaption', { class: 'legend' }, runs.map((r, i) => h('span', null, h('span', { class: `swatch ${colourClass(i)}`, 'aria-hidden': 'true' }), r.plate)))),
        h('div', { class: 'run-list' }, runs.map((r, i) => runCard(r, i, drivers, skip, openRuns.has(r.id)))))
      : h('p', { class: 'muted' }, t('dispatch.noruns')),
    h('h2', null, t('dispatch.insert')),
    insertForm(runs, due.stops, institutions, insert),
    h('h2', null, t('dispatch.skipped', { n: skipped.length })),
    h('p', { class: 'hint' }, t('dispatch.skipped.hint')),
    table([
      { label: t('col.inst'), value: (s) => s.name },
      { label: t('col.status'), value: (s) => `${s.plate} · ${t('col.seq')} ${s.seq}` },
      { label: t('col.why'), value: (s) => s.skip_reason || '' },
    ], skipped),
    h('details', { class: 'due-list', open: runs.length ? null : true },
      h('summary', null, h('h2', null, t('dispatch.due', { n: due.stops.length }))),
      dueTable(due.stops)),
  );
}

export const routes = [
  { path: '/dispatch', nav: 'nav.dispatch', roles: ['dispatcher'], render },
  fleetRoute,
];
