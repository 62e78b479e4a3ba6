// One institution as the bureau sees it: its registry entry, its containers, the transfer
// manifests (联单) of the runs that collected them, and its spot checks; and one container
// with its custody events.
import { api, all } from '../api.js';
import { h, table, notice, dateTime, kg, today } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { kindName, containerTable, addDays, fill } from './bureau-common.js';
import { inspectionTable } from './bureau-desk.js';
import { institutionRecords } from './bureau-watch.js';

addStrings({
  zh: {
    'bur.inst.title': '{name}', 'bur.inst.registry': '登记信息', 'bur.inst.status': '状态', 'bur.inst.beds': '床位', 'bur.inst.mode': '收运方式',
    'bur.inst.interval': '收运间隔', 'bur.inst.location': '位置', 'bur.inst.containers': '容器（最近 {n} 个，共 {total} 个）',
    'bur.inst.manifests': '转移联单', 'bur.inst.manifests.hint': '最近收运的 {n} 个容器所在车次的联单。', 'bur.inst.inspections': '抽查记录（近 10 年）',
    'bur.inst.inspect': '记录一次抽查', 'bur.inst.csv': 'CSV', 'bur.inst.mode.direct': '上门收运', 'bur.inst.mode.via_hub': '送交乡镇收集点',
    'bur.status.active': '已批准', 'bur.status.pending': '待审核', 'bur.status.suspended': '已暂停', 'bur.status.rejected': '已驳回',
    'bur.col.number': '联单号', 'bur.col.m_status': '状态', 'bur.col.count': '数量（收运/入厂）', 'bur.col.weight': '重量 kg（收运/入厂）', 'bur.col.plate': '车牌',
    'bur.col.collected_at': '收运时间', 'bur.col.download': '下载',
    'bur.m.open': '收运中', 'bur.m.in_transit': '运输中', 'bur.m.received': '已入厂', 'bur.m.closed': '已完结',
    'bur.cont.title': '容器 {code}', 'bur.cont.events': '交接记录', 'bur.cont.action': '动作', 'bur.cont.occurred': '发生时间', 'bur.cont.weight': '重量',
    'bur.cont.actor': '操作人', 'bur.cont.anomaly': '异常', 'bur.cont.institution': '产生单位', 'bur.cont.category': '类别',
    'bur.act.seal': '封装', 'bur.act.hub_in': '交收集点', 'bur.act.nest': '装入大箱', 'bur.act.collect': '收运', 'bur.act.receive': '入厂', 'bur.act.reject': '拒收', 'bur.act.dispose': '处置',
  },
  en: {
    'bur.inst.title': '{name}', 'bur.inst.registry': 'Registry entry', 'bur.inst.status': 'Status', 'bur.inst.beds': 'Beds', 'bur.inst.mode': 'Service',
    'bur.inst.interval': 'Collection interval', 'bur.inst.location': 'Location', 'bur.inst.containers': 'Containers (the latest {n} of {total})',
    'bur.inst.manifests': 'Transfer manifests', 'bur.inst.manifests.hint': 'The manifests of the runs that collected its latest {n} containers.', 'bur.inst.inspections': 'Spot checks (last 10 years)',
    'bur.inst.inspect': 'Record a spot check', 'bur.inst.csv': 'CSV', 'bur.inst.mode.direct': 'collected at the door', 'bur.inst.mode.via_hub': 'delivers to the township hub',
    'bur.status.active': 'active', 'bur.status.pending': 'pending', 'bur.status.suspended': 'suspended', 'bur.status.rejected': 'rejected',
    'bur.col.number': 'Number', 'bur.col.m_status': 'Status', 'bur.col.count': 'Count (collected/received)', 'bur.col.weight': 'kg (collected/received)', 'bur.col.plate': 'Plate',
    'bur.col.collected_at': 'Collected', 'bur.col.download': 'Download',
    'bur.m.open': 'open', 'bur.m.in_transit': 'in transit', 'bur.m.received': 'received', 'bur.m.closed': 'closed',
    'bur.cont.title': 'Container {code}', 'bur.cont.events': 'Custody events', 'bur.cont.action': 'Action', 'bur.cont.occurred': 'Occurred', 'bur.cont.weight': 'Weight',
    'bur.cont.actor': 'By', 'bur.cont.anomaly': 'Anomaly', 'bur.cont.institution': 'Producer', 'bur.cont.category': 'Category',
    'bur.act.seal': 'seal', 'bur.act.hub_in': 'in at hub', 'bur.act.nest': 'nested', 'bur.act.collect': 'collect', 'bur.act.receive': 'receive', 'bur.act.reject': 'reject', 'bur.act.dispose': 'dispose',
  },
});

const SHOWN = 50;
/** How many collected containers are looked up for the runs (and so the manifests). */
const TRACED = 20;
const MOVED = new Set(['collected', 'received', 'disposed', 'rejected']);

function facts(rows) {
  return h('dl', { class: 'facts card' }, rows.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

/**
 * The manifests of an institution: the API lists them per run, so the runs are found in the
 * collect events of its latest collected containers (at most TRACED look-ups).
 */
async function manifestsOf(id, containers) {
  const moved = containers.filter((c) => MOVED.has(c.state)).slice(-TRACED);
  const details = await Promise.all(moved.map((c) => api.get(`/containers/${encodeURIComponent(c.code)}`)));
  const runs = new Set(details.flatMap((c) => (c.events || []).filter((e) => e.action === 'collect' && e.run_id).map((e) => e.run_id)));
  const lists = await Promise.all([...runs].map((r) => api.get(`/runs/${encodeURIComponent(r)}/manifests`).catch(() => ({ items: [] }))));
  const seen = new Map();
  for (const m of lists.flatMap((l) => l.items)) if (m.shipper.id === id) seen.set(m.number, m);
  return { traced: moved.length, items: [...seen.values()].sort((a, b) => b.created_at.localeCompare(a.created_at)) };
}

async function institutionPage(page, ctx) {
  const id = ctx.params.id;
  const [inst, containers, inspections] = await Promise.all([
    api.get(`/institutions/${encodeURIComponent(id)}`),
    all('/containers', { institution_id: id }, 5000),
    api.get('/inspections', { from: addDays(today(), -3650), to: today() }),
  ]);
  const [manifests, records] = await Promise.all([manifestsOf(id, containers), institutionRecords(id)]);
  const msg = h('div', { 'aria-live': 'polite' });
  const latest = containers.slice(-SHOWN).reverse();
  const mine = inspections.items.filter((i) => i.institution_id === id);
  fill(page,
    h('h1', null, t('bur.inst.title', { name: inst.name })),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: `#/bureau/inspections?institution=${encodeURIComponent(id)}` }, t('bur.inst.inspect'))),
    h('h2', null, t('bur.inst.registry')),
    facts([
      [t('bur.col.kind'), kindName(inst.kind)],
      [t('bur.inst.status'), h('span', { class: `badge ${inst.status === 'active' ? 'ok' : 'warn'}` }, t(`bur.status.${inst.status}`))],
      [t('bur.col.township'), [inst.township, inst.village ? ` ${inst.village}` : '']],
      [t('bur.col.address'), inst.address],
      [t('bur.col.licence'), inst.licence_no],
      [t('bur.inst.beds'), inst.beds],
      [t('bur.inst.mode'), t(`bur.inst.mode.${inst.service_mode}`)],
      [t('bur.inst.interval'), `${inst.collection_interval_h} h`],
      [t('bur.col.contact'), `${inst.contact?.name || ''} ${inst.contact?.phone || ''}`],
      [t('bur.inst.location'), `${inst.location.lat.toFixed(5)}, ${inst.location.lng.toFixed(5)}`],
    ]),
    h('h2', null, t('bur.inst.containers', { n: latest.length, total: containers.length })),
    containerTable(latest),
    h('h2', null, t('bur.inst.manifests')),
    h('p', { class: 'muted' }, t('bur.inst.manifests.hint', { n: manifests.traced })),
    msg,
    table([
      { label: t('bur.col.number'), value: (m) => m.number },
      { label: t('bur.col.m_status'), value: (m) => t(`bur.m.${m.status}`) },
      { label: t('bur.col.collected_at'), value: (m) => dateTime(m.collected?.at) },
      { label: t('bur.col.plate'), value: (m) => m.plate },
      { label: t('bur.col.count'), value: (m) => `${m.count_collected} / ${m.count_received}`, num: true },
      { label: t('bur.col.weight'), value: (m) => `${m.weight_collected_kg} / ${m.weight_received_kg}`, num: true },
      { label: t('bur.col.download'), value: (m) => h('button', { type: 'button', class: 'secondary', onclick: async () => {
        msg.replaceChildren();
        try { await api.download(`/manifests/${encodeURIComponent(m.number)}.csv`, null, `${m.number}.csv`, 'text/csv'); } catch (e) { msg.append(notice('error', e.message)); }
      } }, t('bur.inst.csv')) },
    ], manifests.items),
    h('h2', null, t('bur.inst.inspections')),
    inspectionTable(mine, { [id]: inst.name }),
    records,
  );
}

async function containerPage(page, ctx) {
  const c = await api.get(`/containers/${encodeURIComponent(ctx.params.code)}`);
  const inst = await api.get(`/institutions/${encodeURIComponent(c.institution_id)}`).catch(() => null);
  fill(page,
    h('h1', null, t('bur.cont.title', { code: c.label?.code || c.code })),
    facts([
      [t('bur.cont.institution'), inst ? h('a', { href: `#/bureau/institutions/${encodeURIComponent(inst.id)}` }, inst.name) : c.institution_id],
      [t('bur.col.state'), t(`bur.state.${c.state}`)],
      [t('bur.cont.category'), `${c.label?.category_zh || c.category} ${c.category_code}`],
      [t('bur.col.sealed'), kg(c.weights?.seal_kg)],
      [t('bur.col.received'), kg(c.weights?.receive_kg)],
      [t('bur.col.flags'), (c.flags || []).length ? c.flags.map((f) => h('span', { class: 'badge warn' }, t(`bur.flag.${f}`))) : '—'],
    ]),
    h('h2', null, t('bur.cont.events')),
    table([
      { label: t('bur.cont.occurred'), value: (e) => dateTime(e.occurred_at) },
      { label: t('bur.cont.action'), value: (e) => t(`bur.act.${e.action}`) },
      { label: t('bur.cont.weight'), value: (e) => kg(e.weight_kg), num: true },
      { label: t('bur.cont.actor'), value: (e) => e.actor?.role ? t(`role.${e.actor.role}`) : '' },
      { label: t('bur.cont.anomaly'), value: (e) => e.anomaly || '' },
    ], c.events || []),
  );
}

export const routes = [
  { path: '/bureau/institutions/:id', roles: ['bureau_staff'], render: institutionPage },
  { path: '/bureau/containers/:code', roles: ['bureau_staff'], render: containerPage },
];
