// Building the page from data without innerHTML: every text goes in as a text node, so a name
// from a public sign-up cannot become markup (no XSS through the data).
import { t, locale } from './i18n.js';

/**
 * h('button', { class: 'x', onclick: fn, type: 'button' }, 'text', child...)
 * Props: `class`, `text`, `on<event>` (a function), `dataset` (object), booleans (true sets the
 * attribute, false leaves it out), anything else as an attribute.
 */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The same for SVG elements (maps and charts). */
export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

function build(el, props, children) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the content of `el`. */
export function put(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;
/** A labelled form control: the label is visible and tied to the control (`for`/`id`). */
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++fieldSeq}`;
  const hintEl = hint ? h('span', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('label', { class: 'field', for: control.id }, label, control, hintEl);
}

/** A select from `[value, text]` pairs. */
export function select(name, options, value) {
  return h('select', { name }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

/**
 * A table: `columns` are `{ label, value: row => text|Node, num: bool }`; an empty list says so
 * in a row of its own rather than showing a bare header.
 */
export function table(columns, rows, { empty, caption } = {}) {
  const head = h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)));
  const body = rows.length
    ? rows.map((r) => h('tr', null, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.value(r)))))
    : [h('tr', null, h('td', { colspan: columns.length, class: 'muted' }, empty || t('app.none')))];
  return h('div', { class: 'table-wrap' },
    h('table', null, caption ? h('caption', { class: 'muted' }, caption) : null, h('thead', null, head), h('tbody', null, body)));
}

/** A message box; errors are announced to screen readers at once. */
export function notice(kind, ...text) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...text);
}

/** A short date and time in the reader's language, e.g. 12月3日 08:40. */
export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(locale(), { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function date(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(locale(), { year: 'numeric', month: 'short', day: 'numeric' });
}

export function kg(x) {
  if (x === undefined || x === null) return '—';
  return `${Number(x).toLocaleString(locale(), { maximumFractionDigits: 2 })} kg`;
}

/** A rate in 0..1 as a percentage; `null` (no denominator) reads "no data", never 100 %. */
export function pct(x) {
  if (x === undefined || x === null || Number.isNaN(x)) return lang_nodata();
  return `${(x * 100).toLocaleString(locale(), { maximumFractionDigits: 1 })} %`;
}
function lang_nodata() { return locale() === 'en-GB' ? 'no data' : '无数据'; }

/** Today's date as YYYY-MM-DD in the browser's zone (the county's, on its computers). */
export function today(offsetDays = 0) {
  const d = new Date();
  d.setDate(d.getDate() + offsetDays);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
