// Hub keeper (小箱进大箱): take village boxes in as they arrive (hub_in scans) and nest sealed
// small boxes into one of the hub's big boxes (POST /containers/{code}/children).
import { api, all } from '../api.js';
import { h, field, select, notice, table } from '../dom.js';
import { t, addStrings } from '../i18n.js';
import { cat, stateName, printed, reasonText, scanOne, showFieldErrors, clearFieldErrors } from './clinic-words.js';

addStrings({
  zh: {
    'nav.hub': '小箱进大箱', 'hub.title': '收集点：小箱进大箱', 'hub.in': '接收村级小箱', 'hub.in.code': '小箱编码（扫码后回车）',
    'hub.in.ok': '已接收：{code}', 'hub.in.dup': '已接收过：{code}', 'hub.in.refused': '未接收 {code}：{why}',
    'hub.nest': '装入大箱', 'hub.big': '大箱', 'hub.big.new': '新建大箱（周转箱）', 'hub.big.made': '已新建大箱 {code}，请打印标签。',
    'hub.small': '小箱编码（逐个扫码后回车）', 'hub.list': '待装入的小箱', 'hub.submit': '装箱', 'hub.remove': '移除',
    'hub.done': '大箱 {code} 现装有 {n} 个小箱。', 'hub.none.big': '没有可用的大箱：先新建一个。', 'hub.at': '在收集点的小箱',
    'hub.children': '箱内', 'col.parent': '所在大箱',
  },
  en: {
    'nav.hub': 'Big boxes', 'hub.title': 'Hub: small boxes into big ones', 'hub.in': 'Take village boxes in', 'hub.in.code': 'Small box code (scan, then Enter)',
    'hub.in.ok': 'Taken in: {code}', 'hub.in.dup': 'Already taken in: {code}', 'hub.in.refused': 'Not taken in {code}: {why}',
    'hub.nest': 'Nest into a big box', 'hub.big': 'Big box', 'hub.big.new': 'New big box (turnover box)', 'hub.big.made': 'New big box {code}: print its label.',
    'hub.small': 'Small box codes (scan each, then Enter)', 'hub.list': 'Boxes to put in', 'hub.submit': 'Nest', 'hub.remove': 'Remove',
    'hub.done': 'Big box {code} now holds {n} boxes.', 'hub.none.big': 'No big box available: make one first.', 'hub.at': 'Small boxes at the hub',
    'hub.children': 'Inside', 'col.parent': 'In big box',
  },
});

/** A message that survives the redraw after nesting. */
let flash = null;

async function render(page, ctx, root = page) {
  const mine = await all('/containers');
  if (ctx.stale()) return;
  const hubId = ctx.me.org_id;
  const open = (c) => ['labelled', 'sealed', 'at_hub'].includes(c.state);
  const bigs = mine.filter((c) => c.institution_id === hubId && c.packaging === 'box' && open(c) && !c.parent_code);
  const small = mine.filter((c) => c.institution_id !== hubId && ['sealed', 'at_hub'].includes(c.state));
  const redo = async () => { const next = h('div'); await render(next, ctx, root); root.replaceChildren(...next.childNodes); };

  // Village boxes arriving.
  const inCode = h('input', { name: 'code', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters' });
  const inMsg = h('div', { 'aria-live': 'polite' });
  const inForm = h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault();
    const code = inCode.value.trim();
    if (!code) return;
    try {
      const { result } = await scanOne({ code, action: 'hub_in' });
      inMsg.replaceChildren(result.status === 'rejected'
        ? notice('error', t('hub.in.refused', { code, why: reasonText(result.reason) }))
        : notice('ok', t(result.status === 'duplicate' ? 'hub.in.dup' : 'hub.in.ok', { code: printed(code.toUpperCase()) })));
    } catch (err) { inMsg.replaceChildren(notice('error', err.message)); }
    inCode.value = '';
    inCode.focus();
  } }, field(t('hub.in.code'), inCode));

  // Nesting.
  const big = select('parent', bigs.map((c) => [c.code, `${printed(c.code)} · ${stateName(c.state)}${c.children?.length ? ` · ${c.children.length}` : ''}`]), bigs[0]?.code);
  const smallCode = h('input', { name: 'small', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters' });
  const picked = [];
  const list = h('ol', { class: 'hub-list', 'aria-label': t('hub.list') });
  const nestMsg = h('div', { 'aria-live': 'polite' });
  const drawList = (errors = {}) => list.replaceChildren(...picked.map((code, i) => h('li', null,
    h('span', { class: 'code' }, printed(code)), ' ',
    h('button', { type: 'button', class: 'link', onclick: () => { picked.splice(i, 1); drawList(); } }, t('hub.remove')),
    errors[`codes[${i}]`] ? h('span', { class: 'field-error', role: 'alert' }, errors[`codes[${i}]`]) : null)));
  const controls = { parent: big, codes: smallCode };
  smallCode.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    const code = smallCode.value.trim().toUpperCase().replace(/^YF1:/, '');
    if (code && !picked.includes(code)) picked.push(code);
    smallCode.value = '';
    drawList();
  });
  const nestButton = h('button', { type: 'button', onclick: async () => {
    nestMsg.replaceChildren();
    clearFieldErrors(controls);
    if (!big.value) { nestMsg.append(notice('error', t('hub.none.big'))); return; }
    try {
      const box = await api.post(`/containers/${encodeURIComponent(big.value)}/children`, { codes: picked, occurred_at: new Date().toISOString() });
      flash = notice('ok', t('hub.done', { code: printed(box.code), n: box.children.length }));
      picked.length = 0;
      await redo();
    } catch (err) {
      const errors = Object.fromEntries((err.problem?.errors || []).map((x) => [x.field, x.message]));
      drawList(errors);
      const rest = showFieldErrors({ problem: { errors: (err.problem?.errors || []).filter((x) => !x.field.startsWith('codes[')) } }, controls);
      nestMsg.append(notice('error', err.message, ...rest.map((l) => h('div', null, l))));
    }
  } }, t('hub.submit'));
  const newBig = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      const c = await api.post('/containers', { category: 'infectious', packaging: 'box' });
      nestMsg.replaceChildren(notice('ok', t('hub.big.made', { code: printed(c.code) }), ' ',
        h('a', { href: `#/clinic/labels?codes=${c.code}` }, t('labels.print'))));
      const opt = h('option', { value: c.code, selected: true }, printed(c.code));
      big.append(opt);
      big.value = c.code;
    } catch (err) { nestMsg.replaceChildren(notice('error', err.message)); }
  } }, t('hub.big.new'));

  if (flash) { nestMsg.append(flash); flash = null; }
  page.append(
    h('h1', null, t('hub.title')),
    h('section', { class: 'card' }, h('h2', null, t('hub.in')), inForm, inMsg),
    h('section', { class: 'card' }, h('h2', null, t('hub.nest')),
      h('div', { class: 'stack-form' },
        h('div', { class: 'inline-row' }, field(t('hub.big'), big), newBig),
        field(t('hub.small'), smallCode),
        list,
        h('div', { class: 'actions' }, nestButton)),
      nestMsg),
    h('h2', null, t('hub.at')),
    table([
      { label: t('col.code'), value: (c) => h('span', { class: 'code' }, printed(c.code)) },
      { label: t('col.institution'), value: (c) => c.label?.producer || '' },
      { label: t('col.category'), value: (c) => cat(c.category) },
      { label: t('col.state'), value: (c) => stateName(c.state) },
      { label: t('col.parent'), value: (c) => (c.parent_code ? printed(c.parent_code) : '—') },
    ], small),
  );
}

export const routes = [{ path: '/hub', nav: 'nav.hub', roles: ['hub_keeper'], render }];
