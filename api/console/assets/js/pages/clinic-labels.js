// Labels: create containers (one or a sheet) and print their labels on A4 at the label's real
// size (100 x 70 mm, eight to a page). Each label is the server's SVG (GET
// /containers/{code}/label.svg), fetched with the session and shown from a blob: URL.
import { api, all } from '../api.js';
import { h, field, select, notice, dateTime } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { CATEGORIES, PACKAGINGS, cat, pack, printed, showFieldErrors, clearFieldErrors } from './clinic-words.js';

addStrings({
  zh: {
    'nav.clinic.labels': '打印标签', 'labels.title': '新建容器并打印标签', 'labels.category': '废物类别', 'labels.packaging': '包装方式',
    'labels.note': '特别说明（化学性废物写明成分）', 'labels.count': '数量（张）', 'labels.create': '创建并生成标签',
    'labels.made': '已创建 {n} 个容器，标签如下。', 'labels.sheet': '标签页（A4，每页 8 张，100 × 70 毫米）',
    'labels.print': '打印标签页', 'labels.loading': '正在载入标签…', 'labels.unsealed': '未封口的标签（可重新打印）',
    'labels.add': '加入标签页', 'labels.empty': '还没有标签：先创建容器。', 'labels.clear': '清空标签页',
    'labels.hint': '打印时选择"实际大小"（100%），不要"适合页面"。', 'labels.count.hint': '1 到 500',
  },
  en: {
    'nav.clinic.labels': 'Labels', 'labels.title': 'New containers and their labels', 'labels.category': 'Waste category', 'labels.packaging': 'Packaging',
    'labels.note': 'Special notes (components of chemical waste)', 'labels.count': 'How many', 'labels.create': 'Create and make labels',
    'labels.made': '{n} containers created; their labels are below.', 'labels.sheet': 'Label sheet (A4, 8 per page, 100 × 70 mm)',
    'labels.print': 'Print the sheet', 'labels.loading': 'Loading labels…', 'labels.unsealed': 'Labels not yet sealed (print again)',
    'labels.add': 'Add to sheet', 'labels.empty': 'No labels yet: create containers first.', 'labels.clear': 'Clear the sheet',
    'labels.hint': 'Print at "actual size" (100 %), not "fit to page".', 'labels.count.hint': '1 to 500',
  },
});

const PER_PAGE = 8;
let urls = [];
function revoke() { urls.forEach((u) => URL.revokeObjectURL(u)); urls = []; }
window.addEventListener('hashchange', revoke);

/** The sheet: pages of eight labels, each an <img> sized 100 x 70 mm in CSS. */
async function sheet(box, codes, printButton) {
  revoke();
  printButton.disabled = true;
  if (!codes.length) { box.replaceChildren(h('p', { class: 'muted' }, t('labels.empty'))); return; }
  box.replaceChildren(h('p', { class: 'loading' }, t('labels.loading')));
  const blobs = await Promise.all(codes.map((c) => api.blob(`/containers/${encodeURIComponent(c)}/label.svg`, null, 'image/svg+xml')));
  const imgs = blobs.map((b, i) => {
    const url = URL.createObjectURL(b);
    urls.push(url);
    return h('img', { class: 'label', src: url, alt: printed(codes[i]), dataset: { code: codes[i] } });
  });
  const pages = [];
  for (let i = 0; i < imgs.length; i += PER_PAGE) pages.push(h('div', { class: 'label-page' }, imgs.slice(i, i + PER_PAGE)));
  box.replaceChildren(...pages);
  await Promise.all(imgs.map((img) => img.decode().catch(() => {})));
  box.dataset.ready = String(imgs.length);
  printButton.disabled = false;
}

async function render(page, ctx) {
  const labelled = await all('/containers', { state: 'labelled' });
  if (ctx.stale()) return;
  const onSheet = (ctx.query.codes || '').split(',').filter(Boolean);
  const category = select('category', CATEGORIES.map((c) => [c, cat(c)]), 'infectious');
  const packaging = select('packaging', PACKAGINGS.map((p) => [p, pack(p)]), 'bag');
  const note = h('input', { name: 'note', maxlength: '200', autocomplete: 'off' });
  const count = h('input', { name: 'count', type: 'number', min: '1', max: '500', step: '1', value: '8', inputmode: 'numeric', required: true });
  const controls = { category, packaging, note, count };
  const msg = h('div', { 'aria-live': 'polite' });
  const box = h('div', { class: 'label-sheet', id: 'label-sheet' });
  const printButton = h('button', { type: 'button', disabled: true, onclick: () => window.print() }, t('labels.print'));
  const codes = [...onSheet];
  const redraw = () => sheet(box, codes, printButton).catch((e) => box.replaceChildren(notice('error', e.message)));
  const form = h('form', { class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    msg.replaceChildren();
    clearFieldErrors(controls);
    const spec = { category: category.value, packaging: packaging.value };
    if (note.value.trim()) spec.note = note.value.trim();
    const n = Number(count.value);
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const made = n === 1 ? [await api.post('/containers', spec)] : (await api.post('/containers/batch', { ...spec, count: n })).containers;
      msg.append(notice('ok', t('labels.made', { n: made.length })));
      codes.splice(0, codes.length, ...made.map((c) => c.code));
      history.replaceState(null, '', `#/clinic/labels?codes=${codes.join(',')}`);
      await redraw();
      printButton.focus();
    } catch (err) {
      msg.append(notice('error', err.message, ...showFieldErrors(err, controls).map((l) => h('div', null, l))));
    } finally { button.disabled = false; }
  } },
  h('div', { class: 'grid two' }, field(t('labels.category'), category), field(t('labels.packaging'), packaging)),
  h('div', { class: 'grid two' }, field(t('labels.note'), note), field(t('labels.count'), count, t('labels.count.hint'))),
  h('div', null, h('button', { type: 'submit' }, t('labels.create'))));

  const unsealed = labelled.slice(-50).reverse();
  page.append(
    h('h1', { class: 'no-print' }, t('labels.title')),
    h('section', { class: 'card no-print' }, form, msg),
    h('h2', { class: 'no-print' }, t('labels.sheet')),
    h('div', { class: 'actions' }, printButton,
      h('button', { type: 'button', class: 'secondary', onclick: () => { codes.length = 0; redraw(); } }, t('labels.clear'))),
    h('p', { class: 'hint no-print' }, t('labels.hint')),
    h('div', { class: 'sheet-wrap' }, box),
    h('h2', { class: 'no-print' }, t('labels.unsealed')),
    h('ul', { class: 'label-list no-print' }, unsealed.map((c) => h('li', null,
      h('span', { class: 'code' }, printed(c.code)), ' ', cat(c.category), ' · ', pack(c.packaging), ' · ', dateTime(c.created_at), ' ',
      h('button', { type: 'button', class: 'link', onclick: () => { if (!codes.includes(c.code)) codes.push(c.code); redraw(); } }, t('labels.add'))))),
  );
  await redraw();
}

export const routes = [{ path: '/clinic/labels', nav: 'nav.clinic.labels', roles: ['clinic_staff', 'hub_keeper'], render }];
