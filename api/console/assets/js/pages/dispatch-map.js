// The runs of a day on a map drawn in SVG from the coordinates alone (no tiles: county
// intranets reach no tile server): one line per run from the plant through its stops in
// order and back, each stop a numbered circle.
import { s } from '../dom.js';

const WIDTH = 800;
const PAD = 28;
const COLOURS = 8;

/** The class of run `i`'s colour; app-independent palette in dispatch.css (`.run-c0`…). */
export function colourClass(i) {
  return `run-c${i % COLOURS}`;
}

/**
 * Projects WGS-84 points into a `WIDTH`-wide box: equirectangular around the points' mean
 * latitude (a county is small enough for it to keep shapes), north up, aspect kept. Returns
 * the box's height, `xy(p)` and the kilometres per unit of the box.
 */
export function projection(points, width = WIDTH, pad = PAD) {
  const lats = points.map((p) => p.lat);
  const lngs = points.map((p) => p.lng);
  const [minLat, maxLat] = [Math.min(...lats), Math.max(...lats)];
  const [minLng, maxLng] = [Math.min(...lngs), Math.max(...lngs)];
  const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  // A single point (or all in one place) still gets a box of about 2 km.
  const spanX = Math.max((maxLng - minLng) * k, 0.02);
  const spanY = Math.max(maxLat - minLat, 0.02);
  // Fit the width, unless that makes the map taller than 0.8 of its width.
  const scale = Math.min((width - 2 * pad) / spanX, (width * 0.8 - 2 * pad) / spanY);
  const height = Math.max(spanY * scale + 2 * pad, 260);
  const cx = (minLng + maxLng) / 2;
  const cy = (minLat + maxLat) / 2;
  const xy = (p) => [width / 2 + (p.lng - cx) * k * scale, height / 2 - (p.lat - cy) * scale];
  return { height, xy, kmPerUnit: 111.32 / scale };
}

/** A round scale-bar length (1, 2, 5, 10… km) near a fifth of the map's width. */
export function scaleKm(kmPerUnit, width = WIDTH) {
  const want = (kmPerUnit * width) / 5;
  const base = 10 ** Math.floor(Math.log10(want));
  return [1, 2, 5, 10].map((m) => m * base).reduce((a, b) => (Math.abs(b - want) < Math.abs(a - want) ? b : a));
}

/** The SVG map of `runs` (GET /api/v1/runs items). */
export function runMap(runs, { label, plant }) {
  const points = runs.flatMap((r) => [r.depot, ...r.stops.map((st) => st.location)]);
  const { height, xy, kmPerUnit } = projection(points);
  const lines = runs.map((r, i) => {
    const path = [r.depot, ...r.stops.filter((st) => st.status !== 'skipped').map((st) => st.location), r.depot].map(xy);
    return s('polyline', {
      class: `run-line ${colourClass(i)}`, dataset: { run: r.id },
      points: path.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '),
    }, s('title', null, r.plate));
  });
  const stops = runs.flatMap((r, i) => r.stops.map((st) => {
    const [x, y] = xy(st.location);
    return s('g', { class: `run-stop ${colourClass(i)} stop-${st.status}`, dataset: { run: r.id, seq: String(st.seq) } },
      s('title', null, `${r.plate} · ${st.seq}. ${st.name}`),
      s('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 10 }),
      s('text', { x: x.toFixed(1), y: (y + 4).toFixed(1), 'text-anchor': 'middle' }, String(st.seq)));
  }));
  const depots = [...new Map(runs.map((r) => [`${r.depot.lat},${r.depot.lng}`, r.depot])).values()].map((d) => {
    const [x, y] = xy(d);
    return s('g', { class: 'run-depot' }, s('title', null, plant),
      s('rect', { x: (x - 9).toFixed(1), y: (y - 9).toFixed(1), width: 18, height: 18 }),
      s('text', { x: (x + 13).toFixed(1), y: (y + 5).toFixed(1) }, plant));
  });
  const km = scaleKm(kmPerUnit);
  const bar = km / kmPerUnit;
  const scale = s('g', { class: 'run-scale' },
    s('line', { x1: PAD, x2: (PAD + bar).toFixed(1), y1: height - 12, y2: height - 12 }),
    s('text', { x: PAD, y: height - 18 }, `${km} km`));
  return s('svg', { class: 'map run-map', viewBox: `0 0 ${WIDTH} ${height.toFixed(0)}`, role: 'img', 'aria-label': label },
    s('title', null, label), ...lines, ...depots, ...stops, scale);
}
