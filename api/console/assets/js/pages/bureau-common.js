// What the bureau's pages share: the period and township of the address, the form that
// chooses them, the names of kinds, states and flags, and a table of containers. (A module of
// its own, so the page modules import it and not one another.)
import { h, field, select, table, today } from '../dom.js';
import { t, addStrings, locale } from '../i18n.js';

addStrings({
  zh: {
    'bureau.from': '起始日', 'bureau.to': '截止日', 'bureau.township': '乡镇', 'bureau.all': '全部乡镇', 'bureau.show': '查看',
    'bur.kind.township_health_centre': '乡镇卫生院', 'bur.kind.village_health_room': '村卫生室', 'bur.kind.clinic': '诊所', 'bur.kind.other': '其他',
    'bur.col.name': '名称', 'bur.col.kind': '类型', 'bur.col.township': '乡镇', 'bur.col.sealed': '封装 kg', 'bur.col.received': '入厂 kg', 'bur.col.code': '编码',
    'bur.col.state': '状态', 'bur.col.flags': '标记', 'bur.col.sealed_at': '封装时间', 'bur.yes': '是', 'bur.no': '否',
  },
  en: {
    'bureau.from': 'From', 'bureau.to': 'To', 'bureau.township': 'Township', 'bureau.all': 'All townships', 'bureau.show': 'Show',
    'bur.kind.township_health_centre': 'Township health centre', 'bur.kind.village_health_room': 'Village health room', 'bur.kind.clinic': 'Clinic',
    'bur.kind.other': 'Other', 'bur.col.name': 'Name', 'bur.col.kind': 'Kind', 'bur.col.township': 'Township', 'bur.col.sealed': 'Sealed kg',
    'bur.col.received': 'Received kg', 'bur.col.code': 'Code', 'bur.col.state': 'State', 'bur.col.flags': 'Flags', 'bur.col.sealed_at': 'Sealed',
    'bur.yes': 'yes', 'bur.no': 'no',
  },
});

addStrings({
  zh: { 'bur.state.labelled': '已贴标', 'bur.state.sealed': '已封装', 'bur.state.at_hub': '在收集点', 'bur.state.collected': '已收运', 'bur.state.received': '已入厂',
    'bur.state.disposed': '已处置', 'bur.state.rejected': '被拒收', 'bur.flag.weight_discrepancy': '重量差异', 'bur.flag.location_mismatch': '位置不符',
    'bur.flag.sequence_anomaly': '顺序异常', 'bur.flag.cold_chain': '冷链' },
  en: { 'bur.state.labelled': 'labelled', 'bur.state.sealed': 'sealed', 'bur.state.at_hub': 'at the hub', 'bur.state.collected': 'collected', 'bur.state.received': 'received',
    'bur.state.disposed': 'disposed', 'bur.state.rejected': 'rejected', 'bur.flag.weight_discrepancy': 'weight discrepancy', 'bur.flag.location_mismatch': 'location mismatch',
    'bur.flag.sequence_anomaly': 'sequence anomaly', 'bur.flag.cold_chain': 'cold chain' },
});

const num = (x, digits = 1) => Number(x ?? 0).toLocaleString(locale(), { maximumFractionDigits: digits });

/** The period and township of the address, defaulting as the API does (the last 30 days). */
export function period(query) {
  const to = /^\d{4}-\d{2}-\d{2}$/.test(query.to || '') ? query.to : today();
  const from = /^\d{4}-\d{2}-\d{2}$/.test(query.from || '') ? query.from : addDays(to, -29);
  return { from, to, township: query.township || '' };
}

/** Appends the present children to a page (DOM `append` would print a `null` as text). */
export function fill(page, ...children) {
  page.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return page;
}

/** `YYYY-MM-DD` plus `n` calendar days. */
export function addDays(day, n) {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export const kindName = (k) => t(`bur.kind.${k}`);

/** The form choosing the period and township. */
export function periodForm(p, townships, go) {
  const from = h('input', { type: 'date', name: 'from', value: p.from, required: true });
  const to = h('input', { type: 'date', name: 'to', value: p.to, required: true });
  const town = select('township', [['', t('bureau.all')], ...townships.map((x) => [x, x])], p.township);
  return h('form', { class: 'inline card', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    go({ from: from.value, to: to.value, township: town.value });
  } }, field(t('bureau.from'), from), field(t('bureau.to'), to), field(t('bureau.township'), town),
  h('button', { type: 'submit' }, t('bureau.show')));
}

/** The townships of the jurisdiction: those of its institutions. */
export async function townshipsOf(institutions) {
  return [...new Set(institutions.map((i) => i.township))].sort((a, b) => a.localeCompare(b, 'zh-CN'));
}

/** A table of containers, each a link to its page. */
export function containerTable(list, names = {}) {
  return table([
    { label: t('bur.col.code'), value: (c) => h('a', { href: `#/bureau/containers/${encodeURIComponent(c.code)}` }, c.label?.code || c.code) },
    ...(Object.keys(names).length ? [{ label: t('bur.col.name'), value: (c) => names[c.institution_id] || c.institution_id }] : []),
    { label: t('bur.col.state'), value: (c) => t(`bur.state.${c.state}`) },
    { label: t('bur.col.sealed_at'), value: (c) => (c.sealed_at ? new Date(c.sealed_at).toLocaleString(locale(), { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : '—') },
    { label: t('bur.col.sealed'), value: (c) => num(c.weights?.seal_kg, 3), num: true },
    { label: t('bur.col.received'), value: (c) => (c.weights?.receive_kg == null ? '—' : num(c.weights.receive_kg, 3)), num: true },
    { label: t('bur.col.flags'), value: (c) => (c.flags || []).map((f) => h('span', { class: 'badge warn' }, t(`bur.flag.${f}`))) },
  ], list);
}

