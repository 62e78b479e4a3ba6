// The bureau's county map (H3 cells of the coverage report as SVG hexes, institutions as
// points: no tiles, nothing from the internet) and the weekly trend chart.
import { api, all } from '../api.js';
import { h, s, pct } from '../dom.js';
import { t, addStrings, locale } from '../i18n.js';
import { period, periodForm, townshipsOf, kindName, fill } from './bureau-common.js';

addStrings({
  zh: {
    'nav.bureau.map': '地图', 'bur.map.title': '县域收运覆盖地图', 'bur.map.caption': '每个六边形是一个 H3 网格（分辨率 {res}），颜色表示格内期内按收运间隔收运的机构占比；圆点是机构，点击打开机构页面。',
    'bur.map.legend': '图例', 'bur.map.bin': '{a}–{b}', 'bur.map.point.ok': '机构：按间隔收运', 'bur.map.point.bad': '机构：未按间隔收运', 'bur.map.point.none': '机构：不在报表中',
    'bur.map.cell': '网格 {cell}：{n} 家机构，{ok} 家按间隔收运，{over} 家有超期贮存，封装 {kg} kg',
    'bur.map.point': '{name}（{township}，{kind}）', 'bur.map.empty': '此范围内没有带位置的机构。', 'bur.map.list': '地图上的机构',
    'bur.trend.ylabel': '比率', 'bur.trend.week': '截至 {to} 的一周', 'bur.trend.nodata': '线条中断表示该周无数据（分母为零），不按 100 % 画。',
    'bur.trend.table': '每周数值',
  },
  en: {
    'nav.bureau.map': 'Map', 'bur.map.title': 'Collection coverage of the county', 'bur.map.caption': 'Each hexagon is an H3 cell (resolution {res}) coloured by the share of its institutions collected within their interval in the period; dots are institutions: open one for its page.',
    'bur.map.legend': 'Legend', 'bur.map.bin': '{a}–{b}', 'bur.map.point.ok': 'Institution: collected within interval', 'bur.map.point.bad': 'Institution: not collected within interval', 'bur.map.point.none': 'Institution: not in the report',
    'bur.map.cell': 'Cell {cell}: {n} institutions, {ok} collected within interval, {over} with overdue storage, {kg} kg sealed',
    'bur.map.point': '{name} ({township}, {kind})', 'bur.map.empty': 'No institution with a location in this scope.', 'bur.map.list': 'Institutions on the map',
    'bur.trend.ylabel': 'Rate', 'bur.trend.week': 'Week to {to}', 'bur.trend.nodata': 'A gap in a line means no data that week (no denominator), never drawn as 100 %.',
    'bur.trend.table': 'Weekly values',
  },
});

/** Colour bins of a cell's coverage share: the worse, the redder. */
const BINS = [
  [0, 0.5, '#d73027'], [0.5, 0.8, '#fc8d59'], [0.8, 0.95, '#d9ef8b'], [0.95, 1.0001, '#1a9850'],
];
export const binColour = (x) => (BINS.find(([a, b]) => x >= a && x < b) || BINS[0])[2];

/** A colour sample for a legend (SVG: the page policy allows no inline style). */
const swatch = (fill, stroke) => s('svg', { class: 'swatch-svg', width: 14, height: 14, 'aria-hidden': 'true' },
  s('rect', { width: 14, height: 14, fill, stroke: stroke || 'none' }));

/**
 * A simple equirectangular projection fitted to `lngLats` in a `width`-wide box: east-west
 * distances shrink with the cosine of the middle latitude, so a county keeps its shape.
 */
export function projection(lngLats, width = 800, pad = 12) {
  const lngs = lngLats.map((p) => p[0]);
  const lats = lngLats.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...lngs), Math.max(...lngs), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const spanX = Math.max((x1 - x0) * k, 1e-6);
  const spanY = Math.max(y1 - y0, 1e-6);
  const scale = (width - 2 * pad) / Math.max(spanX, spanY * 0.6);
  const height = Math.ceil(spanY * scale + 2 * pad);
  return { width: Math.ceil(spanX * scale + 2 * pad), height, at: ([lng, lat]) => [pad + (lng - x0) * k * scale, pad + (y1 - lat) * scale] };
}

/** The map: hexes from the cells' GeoJSON, points from the institutions (with their status). */
export function countyMap(geo, institutions, covered, res) {
  const placed = institutions.filter((i) => i.location && Number.isFinite(i.location.lat) && Number.isFinite(i.location.lng));
  const rings = geo.features.map((f) => f.geometry.coordinates[0]);
  const every = [...rings.flat(), ...placed.map((i) => [i.location.lng, i.location.lat])];
  if (!every.length) return h('p', { class: 'muted' }, t('bur.map.empty'));
  const pr = projection(every);
  const path = (ring) => `M${ring.map((p) => pr.at(p).map((v) => v.toFixed(1)).join(',')).join('L')}Z`;
  const hexes = geo.features.map((f) => {
    const a = f.properties;
    const share = a.institutions ? a.collected_on_time / a.institutions : 0;
    return s('path', { d: path(f.geometry.coordinates[0]), fill: binColour(share), class: 'hex', dataset: { cell: a.cell, share: share.toFixed(4) } },
      s('title', null, t('bur.map.cell', { cell: a.cell, n: a.institutions, ok: a.collected_on_time, over: a.overdue, kg: Number(a.kg).toLocaleString(locale(), { maximumFractionDigits: 1 }) })));
  });
  const points = placed.map((i) => {
    const [x, y] = pr.at([i.location.lng, i.location.lat]);
    const c = covered.get(i.id);
    const cls = c === undefined ? 'none' : c ? 'ok' : 'bad';
    const label = t('bur.map.point', { name: i.name, township: i.township, kind: kindName(i.kind) });
    return s('a', { href: `#/bureau/institutions/${encodeURIComponent(i.id)}`, class: `point ${cls}`, 'aria-label': label, dataset: { institution: i.id } },
      s('title', null, label),
      s('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: i.kind === 'township_health_centre' ? 7 : 5 }));
  });
  const svg = s('svg', { class: 'map bureau-map', viewBox: `0 0 ${pr.width} ${pr.height}`, role: 'group', 'aria-label': t('bur.map.title'), preserveAspectRatio: 'xMidYMid meet' },
    s('g', { class: 'hexes' }, hexes), s('g', { class: 'points' }, points));
  const legend = h('div', { class: 'legend', 'aria-label': t('bur.map.legend') },
    BINS.map(([a, b, colour]) => h('span', null, swatch(colour, '#555'), t('bur.map.bin', { a: pct(a), b: pct(Math.min(b, 1)) }))),
    ['ok', 'bad', 'none'].map((k) => h('span', null, s('svg', { class: 'swatch-svg', width: 14, height: 14, 'aria-hidden': 'true' },
      s('circle', { cx: 7, cy: 7, r: 5, class: `dot ${k}` })), t(`bur.map.point.${k}`))));
  return h('figure', { class: 'bureau-map-figure' }, svg, h('figcaption', { class: 'muted' }, t('bur.map.caption', { res })), legend);
}

async function mapPage(page, ctx) {
  const p = period(ctx.query);
  const q = { from: p.from, to: p.to, township: p.township };
  const res = 7;
  const [geo, report, institutions] = await Promise.all([
    api.get('/reports/coverage/cells', { ...q, res }),
    api.get('/reports/coverage', q),
    all('/institutions', { status: 'active' }),
  ]);
  const inScope = p.township ? institutions.filter((i) => i.township === p.township) : institutions;
  const covered = new Map(report.institutions.map((i) => [i.institution_id, i.collected_within_interval]));
  fill(page,
    h('h1', null, t('bur.map.title')),
    periodForm(p, await townshipsOf(institutions), (np) => ctx.navigate('/bureau/map', np)),
    countyMap(geo, inScope, covered, res),
    h('details', { class: 'card' }, h('summary', null, t('bur.map.list'), ` (${inScope.length})`),
      h('ul', { class: 'columns' }, inScope.map((i) => h('li', null, h('a', { href: `#/bureau/institutions/${encodeURIComponent(i.id)}` }, i.name), ` · ${i.township}`)))),
  );
}

const SERIES = [
  ['entry_rate_institutions', '#0b6e4f'], ['on_time_rate', '#0969da'], ['harmless_disposal_rate', '#9a6700'],
];

/** Weekly rates as lines (0–100 %); a week with no denominator leaves a gap, never a 100 %. */
export function trendChart(reports) {
  const W = 640; const H = 220; const L = 44; const R = 24; const T = 12; const B = 36;
  const n = reports.length;
  // A rate above 100 % (a definition that lets it) is drawn where it is, not clipped.
  const top = Math.max(1, ...reports.flatMap((r) => SERIES.map(([k]) => r.total[k] ?? 0)).map((v) => Math.ceil(v * 4) / 4));
  const x = (i) => L + (n === 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const ticks = Array.from({ length: Math.round(top * 4) + 1 }, (_, i) => i / 4);
  const grid = ticks.map((v) => s('g', null,
    s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
    s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, `${Math.round(v * 100)}%`)));
  const labels = reports.map((r, i) => s('text', { x: x(i), y: H - B + 16, 'text-anchor': 'middle', class: 'tick' }, r.to.slice(5)));
  const lines = SERIES.map(([key, colour]) => {
    const segs = [];
    let cur = [];
    reports.forEach((r, i) => {
      const v = r.total[key];
      if (v === null || v === undefined) { if (cur.length) segs.push(cur); cur = []; } else cur.push([x(i), y(v)]);
    });
    if (cur.length) segs.push(cur);
    return s('g', { class: 'series', dataset: { series: key } },
      segs.map((seg) => s('polyline', { points: seg.map((p) => p.map((v) => v.toFixed(1)).join(',')).join(' '), fill: 'none', stroke: colour, 'stroke-width': 2.5 })),
      reports.map((r, i) => {
        const v = r.total[key];
        if (v === null || v === undefined) return null;
        return s('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3.5, fill: colour },
          s('title', null, `${t(`bur.fig.${key}`)} · ${t('bur.trend.week', { to: r.to })}: ${pct(v)}`));
      }));
  });
  const svg = s('svg', { class: 'trend', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': t('bureau.trend') }, grid, labels, lines);
  const legend = h('div', { class: 'legend' }, SERIES.map(([key, colour]) => h('span', null, swatch(colour), t(`bur.fig.${key}`))));
  const rows = h('div', { class: 'table-wrap' }, h('table', null,
    h('caption', { class: 'muted' }, t('bur.trend.table')),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('bur.col.group')), SERIES.map(([k]) => h('th', { scope: 'col', class: 'num' }, t(`bur.fig.${k}`))))),
    h('tbody', null, reports.map((r) => h('tr', null, h('td', null, `${r.from} – ${r.to}`), SERIES.map(([k]) => h('td', { class: 'num' }, pct(r.total[k]))))))));
  return h('figure', { class: 'card bureau-trend' }, svg, legend, h('figcaption', { class: 'muted' }, t('bur.trend.nodata')),
    h('details', null, h('summary', null, t('bur.trend.table')), rows));
}

export const routes = [{ path: '/bureau/map', nav: 'nav.bureau.map', roles: ['bureau_staff'], render: mapPage }];
