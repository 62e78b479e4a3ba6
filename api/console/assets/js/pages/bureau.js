// Health-bureau staff (their jurisdiction only: the server scopes every answer): the
// dashboard of a period and township, each figure with its definition and a link to the
// institutions and containers behind it; the figures' lists; the routes of the other pages.
import { api, all } from '../api.js';
import { h, table, notice, kg, pct } from '../dom.js';
import { t, addStrings, locale } from '../i18n.js';
import { trendChart } from './bureau-map.js';
import { period, fill, addDays, kindName, periodForm, townshipsOf, containerTable } from './bureau-common.js';
import * as mapPage from './bureau-map.js';
import * as desk from './bureau-desk.js';
import * as inst from './bureau-institution.js';
import * as watch from './bureau-watch.js';

addStrings({
  zh: {
    'nav.bureau': '概况', 'bureau.title': '医疗废物监管概况', 'bureau.period': '{from} 至 {to}', 'bureau.generated': '数据计算于 {at}',
    'bureau.defsource.report': '定义（来自报表）', 'bureau.defsource.page': '定义', 'bureau.excluded': '不计入：{x}', 'bureau.nodata': '无数据时：{x}',
    'bureau.target': '目标 {target}', 'bureau.below': '低于目标', 'bureau.met': '达到目标', 'bureau.open': '查看明细', 'bureau.over100': '高于 100 %：分子与分母不是同一批废物（见定义）',
    'bur.fig.entry_rate_institutions': '集中处置纳入率（按机构）', 'bur.fig.entry_rate_weight': '集中处置纳入率（按重量）', 'bur.fig.harmless_disposal_rate': '无害化处置率',
    'bur.fig.plant_disposal_rate': '处置厂处置率（处置量/入厂量）', 'bur.fig.on_time_rate': '及时收运率（48小时内）', 'bur.fig.overdue_storage_hours': '超期贮存（小时）',
    'bur.fig.open_discrepancies': '未结差异（容器）', 'bur.fig.open_alerts': '未处理告警', 'bur.fig.inspection_pass_rate': '规范化管理抽查合格率',
    'bur.def.entry_rate_institutions': '期内至少收运一次、且期内没有容器超过其收运间隔的机构 ÷ 在册机构（已批准或暂停、期末前注册）。',
    'bur.def.entry_rate_institutions.new': '期内至少收运一次、且没有容器超过收运间隔的机构 ÷ 应纳入机构（在册机构 + 名册上未注册的机构）。',
    'bur.def.entry_rate_weight': '期内处置厂入厂称重（kg）÷ 期内封装称重（kg）。', 'bur.def.entry_rate_weight.new': '期内封装、期末前已入厂的容器的封装重量 ÷ 期内封装重量。',
    'bur.def.harmless_disposal_rate': '按当前报表：期内处置量（kg）÷ 期内入厂量（kg）；未运到处置厂的废物不计入分母。',
    'bur.def.harmless_disposal_rate.new': '期内封装、期末前已处置的容器的封装重量 ÷ 期内封装重量；未运到处置厂的废物会降低此率。',
    'bur.def.plant_disposal_rate': '期内入厂、期末前已处置的重量 ÷ 期内入厂重量（处置厂积压，不是无害化处置率）。', 'bur.def.on_time_rate': '期内封装后 48 小时内收运的容器 ÷ 期内收运的容器。',
    'bur.def.on_time_rate.new': '期内封装后 48 小时内收运的容器 ÷ 应收运容器（期内已收运，加上期末仍未收运且已超 48 小时的）。',
    'bur.def.overdue_storage_hours': '容器在产生单位或收集点超过 48 小时贮存上限的小时数，只计期内部分。', 'bur.def.open_discrepancies': '期内封装、带有重量差异或位置不符标记的容器数。',
    'bur.def.open_alerts': '辖区内状态为“未处理”的告警（尚未确认）；告警规则在后台定期评估。', 'bur.def.inspection_pass_rate': '期内抽查中各项全部合格的次数 ÷ 期内抽查次数。',
    'bur.parts.institutions': '{a} / {b} 家机构', 'bur.parts.kg': '{a} / {b}', 'bur.parts.containers': '{a} / {b} 个容器',
    'bur.parts.inspections': '{a} / {b} 次抽查', 'bur.parts.hours': '{n} 家机构有超期贮存', 'bur.parts.discrepancies': '{n} 家机构', 'bur.parts.alerts': '其中严重 {n} 条',
    'bureau.by_township': '按乡镇', 'bureau.by_kind': '按机构类型', 'bureau.trend': '近 8 周趋势', 'bureau.downloads': '下载', 'bureau.csv': '覆盖率报表 CSV',
    'bureau.geojson': '网格地图 GeoJSON', 'bureau.json': '报表 JSON（含容器明细）', 'bur.col.group': '分组', 'bur.col.registered': '在册', 'bur.col.entry_i': '纳入率（机构）',
    'bur.col.entry_w': '纳入率（重量）', 'bur.col.harmless': '无害化处置率', 'bur.col.ontime': '及时收运率', 'bur.col.overdue': '超期小时', 'bur.col.disc': '差异',
    'bur.col.insp': '抽查合格率', 'bur.list.title': '明细：{figure}', 'bur.list.back': '返回概况', 'bur.list.institutions': '相关机构', 'bur.list.containers': '相关容器',
    'bur.col.in': '计入分子', 'bur.col.disposed': '处置 kg', 'bur.col.collected': '已收运', 'bur.col.ontime_n': '48h 内', 'bur.col.due': '应收运',
    'bur.col.codes': '容器', 'bur.list.none': '此项没有相关机构。', 'bur.list.more': '另有 {n} 个',
  },
  en: {
    'nav.bureau': 'Overview', 'bureau.title': 'Medical waste oversight', 'bureau.period': '{from} to {to}', 'bureau.generated': 'Computed at {at}',
    'bureau.defsource.report': 'Definition (from the report)', 'bureau.defsource.page': 'Definition', 'bureau.excluded': 'Left out: {x}',
    'bureau.nodata': 'No data when: {x}', 'bureau.target': 'target {target}', 'bureau.below': 'below target', 'bureau.met': 'target met',
    'bureau.open': 'See the details', 'bureau.over100': 'Above 100 %: numerator and denominator are not the same waste (see the definition)',
    'bur.fig.entry_rate_institutions': 'Entry into centralised disposal (institutions)',
    'bur.fig.entry_rate_weight': 'Entry into centralised disposal (weight)', 'bur.fig.harmless_disposal_rate': 'Harmless disposal rate',
    'bur.fig.plant_disposal_rate': 'Plant disposal rate (disposed / received)', 'bur.fig.on_time_rate': 'On-time collection (48 h)',
    'bur.fig.overdue_storage_hours': 'Overdue storage (hours)', 'bur.fig.open_discrepancies': 'Open discrepancies (containers)',
    'bur.fig.open_alerts': 'Open alerts', 'bur.fig.inspection_pass_rate': 'Spot-check pass rate',
    'bur.def.entry_rate_institutions': 'Institutions collected at least once in the period with no container left past its collection interval ÷ registered institutions (active or suspended, joined before the period ended).',
    'bur.def.entry_rate_institutions.new': 'Institutions collected at least once with no container past its interval ÷ institutions expected (registered plus roster entries not signed up).',
    'bur.def.entry_rate_weight': 'kg weighed in at the plant in the period ÷ kg sealed in the period.',
    'bur.def.entry_rate_weight.new': 'Seal weight of the period\'s containers received at the plant by its end ÷ seal weight of the period.',
    'bur.def.harmless_disposal_rate': 'As the report computes it now: kg disposed in the period ÷ kg received at the plant; waste that never reached the plant is not in the denominator.',
    'bur.def.harmless_disposal_rate.new': 'Seal weight of the period\'s containers disposed of by its end ÷ seal weight of the period; waste that never reached the plant lowers it.',
    'bur.def.plant_disposal_rate': 'kg received in the period and disposed of by its end ÷ kg received (the plant\'s backlog, not the harmless disposal rate).',
    'bur.def.on_time_rate': 'Containers collected within 48 h of sealing ÷ containers collected in the period.',
    'bur.def.on_time_rate.new': 'Containers collected within 48 h of sealing ÷ containers due (collected in the period, plus those still waiting past 48 h at its end).',
    'bur.def.overdue_storage_hours': 'Hours containers spent at the producer or hub past the 48 h storage limit, counting only the part inside the period.',
    'bur.def.open_discrepancies': 'Containers sealed in the period flagged with a weight discrepancy or a location mismatch.',
    'bur.def.open_alerts': 'Alerts of the jurisdiction with status "open" (not yet acknowledged); the rules are evaluated in the background.',
    'bur.def.inspection_pass_rate': 'Spot checks of the period that passed every item ÷ spot checks of the period.',
    'bur.parts.institutions': '{a} / {b} institutions', 'bur.parts.kg': '{a} / {b}', 'bur.parts.containers': '{a} / {b} containers',
    'bur.parts.inspections': '{a} / {b} spot checks', 'bur.parts.hours': '{n} institutions stored past the limit',
    'bur.parts.discrepancies': '{n} institutions', 'bur.parts.alerts': '{n} critical', 'bureau.by_township': 'By township',
    'bureau.by_kind': 'By kind of institution', 'bureau.trend': 'The last 8 weeks', 'bureau.downloads': 'Downloads',
    'bureau.csv': 'Coverage report CSV', 'bureau.geojson': 'Cell map GeoJSON', 'bureau.json': 'Report JSON (with container codes)',
    'bur.col.group': 'Group', 'bur.col.registered': 'Registered', 'bur.col.entry_i': 'Entry (institutions)', 'bur.col.entry_w': 'Entry (weight)',
    'bur.col.harmless': 'Harmless disposal', 'bur.col.ontime': 'On time', 'bur.col.overdue': 'Overdue h', 'bur.col.disc': 'Discrepancies',
    'bur.col.insp': 'Spot checks passed', 'bur.list.title': 'Details: {figure}', 'bur.list.back': 'Back to the overview',
    'bur.list.institutions': 'Institutions concerned', 'bur.list.containers': 'Containers concerned', 'bur.col.in': 'In the numerator',
    'bur.col.disposed': 'Disposed kg', 'bur.col.collected': 'Collected', 'bur.col.ontime_n': 'Within 48 h', 'bur.col.due': 'Due',
    'bur.col.codes': 'Containers', 'bur.list.none': 'No institution concerns this figure.', 'bur.list.more': '{n} more',
  },
});




const num = (x, digits = 1) => Number(x ?? 0).toLocaleString(locale(), { maximumFractionDigits: digits });
const href = (path, query) => {
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v)).toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
};

/** Whether the report computes the honest rates (disposed / sealed): its rows say so. */
const honest = (row) => 'kg_sealed_disposed' in row;

/** The definition of `rate`: the report's own when it sends one, else the page's. */
function definition(report, rate) {
  const d = (report.definitions || []).find((x) => x.rate === rate);
  if (d) {
    return h('details', { class: 'def' },
      h('summary', null, t('bureau.defsource.report'), '：', `${d.numerator} ÷ ${d.denominator}`),
      d.excluded ? h('div', null, t('bureau.excluded', { x: d.excluded })) : null,
      d.no_data ? h('div', null, t('bureau.nodata', { x: d.no_data })) : null);
  }
  const key = honest(report.total) && t(`bur.def.${rate}.new`) !== `bur.def.${rate}.new` ? `bur.def.${rate}.new` : `bur.def.${rate}`;
  return h('div', { class: 'def' }, `${t('bureau.defsource.page')}：${t(key)}`);
}

/** The figures of a report row, each with the numbers it divides. */
export function figures(report, openAlerts) {
  const r = report.total;
  const expected = r.institutions_expected ?? r.registered;
  const sealedIn = honest(r) ? r.kg_sealed_received : r.kg_received;
  const disposedNum = honest(r) ? r.kg_sealed_disposed : r.kg_disposed;
  const disposedDen = honest(r) ? r.kg_sealed : r.kg_received;
  const due = r.containers_due ?? r.containers_collected;
  const insts = report.institutions || [];
  const list = [
    { key: 'entry_rate_institutions', value: pct(r.entry_rate_institutions), raw: r.entry_rate_institutions,
      parts: t('bur.parts.institutions', { a: r.collected_within_interval, b: expected }), bad: r.entry_rate_institutions !== null && r.entry_rate_institutions < 1 },
    { key: 'entry_rate_weight', value: pct(r.entry_rate_weight), raw: r.entry_rate_weight,
      parts: t('bur.parts.kg', { a: kg(sealedIn), b: kg(r.kg_sealed) }) },
    { key: 'harmless_disposal_rate', value: pct(r.harmless_disposal_rate), raw: r.harmless_disposal_rate,
      parts: t('bur.parts.kg', { a: kg(disposedNum), b: kg(disposedDen) }) },
  ];
  if ('plant_disposal_rate' in r) {
    list.push({ key: 'plant_disposal_rate', value: pct(r.plant_disposal_rate), raw: r.plant_disposal_rate,
      parts: t('bur.parts.kg', { a: kg(r.kg_received_disposed), b: kg(r.kg_received) }) });
  }
  list.push(
    { key: 'on_time_rate', value: pct(r.on_time_rate), raw: r.on_time_rate,
      parts: t('bur.parts.containers', { a: r.collected_on_time, b: due }), bad: r.on_time_rate !== null && r.on_time_rate < 1 },
    { key: 'overdue_storage_hours', value: num(r.overdue_storage_hours), raw: r.overdue_storage_hours,
      parts: t('bur.parts.hours', { n: insts.filter((i) => i.overdue_storage_hours > 0).length }), bad: r.overdue_storage_hours > 0 },
    { key: 'open_discrepancies', value: num(r.open_discrepancies, 0), raw: r.open_discrepancies,
      parts: t('bur.parts.discrepancies', { n: insts.filter((i) => i.open_discrepancies > 0).length }), bad: r.open_discrepancies > 0 },
    { key: 'open_alerts', value: num(openAlerts.length, 0), raw: openAlerts.length,
      parts: t('bur.parts.alerts', { n: openAlerts.filter((a) => a.severity === 'critical').length }), bad: openAlerts.length > 0 },
    { key: 'inspection_pass_rate', value: pct(r.inspection_pass_rate), raw: r.inspection_pass_rate,
      parts: `${t('bur.parts.inspections', { a: r.inspections_passed, b: r.inspections })} · ${t('bureau.target', { target: pct(report.inspection_target) })}`,
      bad: r.inspection_pass_rate !== null && r.inspection_pass_rate < report.inspection_target,
      badge: r.inspection_pass_rate === null ? null : r.inspection_pass_rate < report.inspection_target ? ['bad', t('bureau.below')] : ['ok', t('bureau.met')] },
  );
  return list;
}

/** Where a figure's link goes: the list of what is behind it. */
function figureLink(key, p) {
  if (key === 'open_alerts') return href('/bureau/alerts', { status: 'open', township: p.township });
  if (key === 'inspection_pass_rate') return href('/bureau/inspections', p);
  return href('/bureau/list', { figure: key, ...p });
}



function rowsTable(rows, name) {
  const el = table([
    { label: t('bur.col.group'), value: (r) => name(r.group) },
    { label: t('bur.col.registered'), value: (r) => r.institutions_expected ?? r.registered, num: true },
    { label: t('bur.col.entry_i'), value: (r) => pct(r.entry_rate_institutions), num: true },
    { label: t('bur.col.entry_w'), value: (r) => pct(r.entry_rate_weight), num: true },
    { label: t('bur.col.harmless'), value: (r) => pct(r.harmless_disposal_rate), num: true },
    { label: t('bur.col.ontime'), value: (r) => pct(r.on_time_rate), num: true },
    { label: t('bur.col.overdue'), value: (r) => num(r.overdue_storage_hours), num: true },
    { label: t('bur.col.disc'), value: (r) => r.open_discrepancies, num: true },
    { label: t('bur.col.insp'), value: (r) => pct(r.inspection_pass_rate), num: true },
  ], rows);
  el.classList.add('bureau-rows');
  return el;
}

async function dashboard(page, ctx) {
  const p = period(ctx.query);
  const q = { from: p.from, to: p.to, township: p.township };
  const weeks = Array.from({ length: 8 }, (_, i) => {
    const to = addDays(p.to, -7 * (7 - i));
    return { from: addDays(to, -6), to };
  });
  const [report, alerts, institutions, trend] = await Promise.all([
    api.get('/reports/coverage', q),
    all('/alerts', { status: 'open', township: p.township }),
    all('/institutions', { status: 'active' }),
    Promise.all(weeks.map((w) => api.get('/reports/coverage', { ...w, township: p.township }))),
  ]);
  const townships = await townshipsOf(institutions);
  const msg = h('div', { 'aria-live': 'polite' });
  const download = (fn) => async () => {
    msg.replaceChildren();
    try { await fn(); } catch (e) { msg.append(notice('error', e.message)); }
  };
  const stem = `${p.from}-${p.to}${p.township ? `-${p.township}` : ''}`;
  fill(page,
    h('h1', null, t('bureau.title')),
    periodForm(p, townships, (np) => ctx.navigate('/bureau', np)),
    h('p', { class: 'muted' }, t('bureau.period', { from: report.from, to: report.to }), p.township ? ` · ${p.township}` : '',
      ' · ', t('bureau.generated', { at: new Date(report.generated_at).toLocaleString(locale()) })),
    h('div', { class: 'grid four bureau-figures' }, figures(report, alerts).map((f) =>
      h('div', { class: 'card figure', dataset: { figure: f.key } },
        h('a', { class: 'name', href: figureLink(f.key, q), title: t('bureau.open') }, t(`bur.fig.${f.key}`)),
        h('div', { class: `value${f.bad ? ' bad' : ''}${f.raw === null ? ' nodata' : ''}` }, f.value),
        h('div', { class: 'parts' }, f.parts, f.badge ? [' ', h('span', { class: `badge ${f.badge[0]}` }, f.badge[1])] : null),
        // Above 100 %: numerator and denominator are not the same waste; say so, do not hide it.
        f.key.endsWith('_rate') && f.raw > 1 ? h('div', { class: 'badge warn over' }, t('bureau.over100')) : null,
        definition(report, f.key)))),
    h('h2', null, t('bureau.trend')),
    trendChart(trend),
    h('h2', null, t('bureau.by_township')),
    rowsTable(report.by_township, (g) => h('a', { href: href('/bureau', { ...q, township: g }) }, g)),
    h('h2', null, t('bureau.by_kind')),
    rowsTable(report.by_kind, kindName),
    h('h2', null, t('bureau.downloads')),
    msg,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: download(() => api.download('/reports/coverage.csv', q, `coverage-${stem}.csv`, 'text/csv')) }, t('bureau.csv')),
      h('button', { type: 'button', class: 'secondary', onclick: download(() => api.download('/reports/coverage/cells', q, `coverage-cells-${stem}.geojson`, 'application/geo+json')) }, t('bureau.geojson')),
      h('button', { type: 'button', class: 'secondary', onclick: download(() => api.download('/reports/coverage', { ...q, detail: 'containers' }, `coverage-${stem}.json`)) }, t('bureau.json'))),
  );
}

/** Which institutions a figure is about, and what each one counts. */
const LISTS = {
  entry_rate_institutions: { keep: () => true, order: (i) => (i.collected_within_interval ? 1 : 0),
    cols: () => [{ label: t('bur.col.in'), value: (i) => (i.collected_within_interval ? t('bur.yes') : h('span', { class: 'badge bad' }, t('bur.no'))) },
      { label: t('bur.col.collected'), value: (i) => i.containers_collected, num: true }] },
  entry_rate_weight: { keep: (i) => i.kg_sealed > 0 || i.kg_received > 0, order: (i) => -i.kg_sealed,
    cols: () => [{ label: t('bur.col.sealed'), value: (i) => num(i.kg_sealed, 3), num: true },
      { label: t('bur.col.received'), value: (i) => num(i.kg_sealed_received ?? i.kg_received, 3), num: true }] },
  harmless_disposal_rate: { keep: (i) => i.kg_sealed > 0 || i.kg_received > 0, order: (i) => -i.kg_sealed,
    cols: () => [{ label: t('bur.col.sealed'), value: (i) => num(i.kg_sealed, 3), num: true },
      { label: t('bur.col.received'), value: (i) => num(i.kg_received, 3), num: true },
      { label: t('bur.col.disposed'), value: (i) => num(i.kg_sealed_disposed ?? i.kg_disposed, 3), num: true }] },
  plant_disposal_rate: { keep: (i) => i.kg_received > 0, order: (i) => -i.kg_received,
    cols: () => [{ label: t('bur.col.received'), value: (i) => num(i.kg_received, 3), num: true },
      { label: t('bur.col.disposed'), value: (i) => num(i.kg_received_disposed ?? i.kg_disposed, 3), num: true }] },
  on_time_rate: { keep: (i) => (i.containers_due ?? i.containers_collected) > 0, order: (i) => i.collected_on_time - (i.containers_due ?? i.containers_collected),
    cols: () => [{ label: t('bur.col.due'), value: (i) => i.containers_due ?? i.containers_collected, num: true },
      { label: t('bur.col.ontime_n'), value: (i) => i.collected_on_time, num: true }] },
  overdue_storage_hours: { keep: (i) => i.overdue_storage_hours > 0, order: (i) => -i.overdue_storage_hours,
    cols: () => [{ label: t('bur.col.overdue'), value: (i) => num(i.overdue_storage_hours), num: true }] },
  open_discrepancies: { keep: (i) => i.open_discrepancies > 0, order: (i) => -i.open_discrepancies,
    cols: () => [{ label: t('bur.col.disc'), value: (i) => i.open_discrepancies, num: true }] },
};

/** The institutions (and their containers) behind one figure of the dashboard. */
async function figureList(page, ctx) {
  const p = period(ctx.query);
  const spec = LISTS[ctx.query.figure];
  if (!spec) throw new Error(t('app.notfound'));
  const report = await api.get('/reports/coverage', { from: p.from, to: p.to, township: p.township, detail: 'containers' });
  const rows = report.institutions.filter(spec.keep).sort((a, b) => spec.order(a) - spec.order(b));
  const fig = figures(report, []).find((f) => f.key === ctx.query.figure);
  const codes = (i) => {
    const cs = i.containers || [];
    return h('span', { class: 'codes' }, cs.slice(0, 8).map((c) => [h('a', { href: `#/bureau/containers/${encodeURIComponent(c)}` }, c), ' ']),
      cs.length > 8 ? h('a', { href: `#/bureau/institutions/${encodeURIComponent(i.institution_id)}` }, t('bur.list.more', { n: cs.length - 8 })) : null);
  };
  const parts = [
    h('p', null, h('a', { href: href('/bureau', p) }, t('bur.list.back'))),
    h('h1', null, t('bur.list.title', { figure: t(`bur.fig.${ctx.query.figure}`) })),
    h('p', { class: 'muted' }, t('bureau.period', { from: report.from, to: report.to }), p.township ? ` · ${p.township}` : ''),
    fig ? h('div', { class: 'card figure', dataset: { figure: fig.key } }, h('div', { class: `value${fig.bad ? ' bad' : ''}` }, fig.value),
      h('div', { class: 'parts' }, fig.parts), definition(report, fig.key)) : null,
    h('h2', null, t('bur.list.institutions')),
    table([
      { label: t('bur.col.name'), value: (i) => h('a', { href: `#/bureau/institutions/${encodeURIComponent(i.institution_id)}` }, i.name) },
      { label: t('bur.col.township'), value: (i) => i.township },
      { label: t('bur.col.kind'), value: (i) => kindName(i.kind) },
      ...spec.cols(),
      { label: t('bur.col.codes'), value: codes },
    ], rows, { empty: t('bur.list.none') }),
  ];
  if (ctx.query.figure === 'open_discrepancies' && rows.length) {
    // The flagged containers themselves (the report counts discrepancy and mismatch flags).
    const ids = new Set(rows.map((i) => i.institution_id));
    const inPeriod = new Set(rows.flatMap((i) => i.containers || []));
    const flagged = (await Promise.all(['weight_discrepancy', 'location_mismatch'].map((flag) => all('/containers', { flag }))))
      .flat().filter((c, k, arr) => ids.has(c.institution_id) && inPeriod.has(c.code) && arr.findIndex((x) => x.code === c.code) === k);
    const names = Object.fromEntries(rows.map((i) => [i.institution_id, i.name]));
    parts.push(h('h2', null, t('bur.list.containers')), containerTable(flagged, names));
  }
  fill(page, parts);
}



const BUREAU = ['bureau_staff'];
export const routes = [
  { path: '/bureau', nav: 'nav.bureau', roles: BUREAU, render: dashboard },
  ...mapPage.routes,
  ...desk.routes,
  { path: '/bureau/list', roles: BUREAU, render: figureList },
  ...inst.routes,
  ...watch.routes,
];

