// Shared by the clinic, hub and plant pages: the names of categories, packagings and states,
// field errors shown next to their controls, and one scan sent as the mobile app sends it.
import { api } from '../api.js';
import { h } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: {
    'w.cat.infectious': '感染性废物', 'w.cat.sharps': '损伤性废物', 'w.cat.pathological': '病理性废物',
    'w.cat.chemical': '化学性废物', 'w.cat.pharmaceutical': '药物性废物',
    'w.pack.bag': '包装袋（黄色）', 'w.pack.sharps_box': '利器盒', 'w.pack.box': '周转箱', 'w.pack.drum': '桶',
    'w.state.labelled': '已贴标签', 'w.state.sealed': '已封口', 'w.state.at_hub': '在收集点', 'w.state.collected': '已收运',
    'w.state.received': '已入厂', 'w.state.disposed': '已处置', 'w.state.rejected': '已拒收',
    'w.rule.sharps_in_sharps_box': '损伤性废物只能装入利器盒', 'w.rule.sharps_box_for_sharps': '利器盒只能装损伤性废物',
    'w.rule.chemical_components_note': '化学性废物须在备注中写明成分', 'w.rule.pharmaceutical_in_bag_note': '药物性废物装入包装袋时须填写备注',
    'w.rule.note_length': '备注最多 200 个可打印字符',
    'w.reason.unknown_code': '没有这个编码（或不属于本单位）', 'w.reason.mistyped_code': '编码有误（校验位不符），请重扫',
    'w.reason.action_not_allowed': '您的角色不能做此操作', 'w.reason.future_timestamp': '设备时间超前，请校准时钟',
    'w.reason.stale_timestamp': '记录时间太久远', 'w.reason.before_container_created': '时间早于标签创建，请校准时钟',
    'w.reason.weight_required': '需要重量', 'w.reason.weight_out_of_range': '重量超出范围',
    'w.reason.reason_required': '需要拒收原因', 'w.reason.method_required': '需要处置方式', 'w.reason.text_too_long': '文字过长',
    'w.reason.invalid_text': '文字含无效字符', 'w.reason.event_id_reused': '事件编号重复',
  },
  en: {
    'w.cat.infectious': 'Infectious', 'w.cat.sharps': 'Sharps', 'w.cat.pathological': 'Pathological',
    'w.cat.chemical': 'Chemical', 'w.cat.pharmaceutical': 'Pharmaceutical',
    'w.pack.bag': 'Bag (yellow)', 'w.pack.sharps_box': 'Sharps box', 'w.pack.box': 'Turnover box', 'w.pack.drum': 'Drum',
    'w.state.labelled': 'labelled', 'w.state.sealed': 'sealed', 'w.state.at_hub': 'at the hub', 'w.state.collected': 'collected',
    'w.state.received': 'received', 'w.state.disposed': 'disposed', 'w.state.rejected': 'rejected',
    'w.rule.sharps_in_sharps_box': 'Sharps go only into a sharps box', 'w.rule.sharps_box_for_sharps': 'A sharps box holds only sharps',
    'w.rule.chemical_components_note': 'Chemical waste needs a note naming its components', 'w.rule.pharmaceutical_in_bag_note': 'Pharmaceutical waste in a bag needs a note',
    'w.rule.note_length': 'A note is at most 200 printable characters',
    'w.reason.unknown_code': 'No such code (or not one of yours)', 'w.reason.mistyped_code': 'Mistyped code (check character): scan again',
    'w.reason.action_not_allowed': 'Your role may not do this', 'w.reason.future_timestamp': "The device's clock is ahead: set it",
    'w.reason.stale_timestamp': 'Recorded too long ago', 'w.reason.before_container_created': "Before the label was made: check the device's clock",
    'w.reason.weight_required': 'Weight needed', 'w.reason.weight_out_of_range': 'Weight out of range',
    'w.reason.reason_required': 'A reason is needed', 'w.reason.method_required': 'A method is needed', 'w.reason.text_too_long': 'Text too long',
    'w.reason.invalid_text': 'Text with invalid characters', 'w.reason.event_id_reused': 'Event id used before',
  },
});

export const CATEGORIES = ['infectious', 'sharps', 'pathological', 'chemical', 'pharmaceutical'];
export const PACKAGINGS = ['bag', 'sharps_box', 'box', 'drum'];
export const cat = (c) => t(`w.cat.${c}`);
export const pack = (p) => t(`w.pack.${p}`);
export const stateName = (s) => t(`w.state.${s}`);
/** A code as printed on the label: XXXX-XXXX-XXXX. */
export const printed = (code) => (code && code.length === 12 ? code.replace(/(.{4})(?=.)/g, '$1-') : code);
/** Why a scan was refused, in words (the reason code when it is new). */
export const reasonText = (r) => { const k = `w.reason.${r}`; const s = t(k); return s === k ? r : s; };

/** A field error's text: a named packaging rule in the reader's language, else the server's. */
function ruleText(message) {
  const m = /^rule (\w+)/.exec(message || '');
  if (m) { const k = `w.rule.${m[1]}`; const s = t(k); if (s !== k) return s; }
  return message;
}

/**
 * Shows a 422's field errors next to their controls (`controls`: field name -> control); the
 * errors of fields without a control come back as lines for a notice.
 */
export function showFieldErrors(err, controls) {
  clearFieldErrors(controls);
  const rest = [];
  for (const e of err?.problem?.errors || []) {
    const control = controls[e.field];
    if (!control) { rest.push(`${e.field}: ${ruleText(e.message)}`); continue; }
    const id = `${control.id}-err`;
    const box = h('span', { class: 'field-error', id, role: 'alert' }, ruleText(e.message));
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
    (control.closest('label.field') || control.parentElement).append(box);
  }
  const first = Object.values(controls).find((c) => c.getAttribute('aria-invalid') === 'true');
  first?.focus();
  return rest;
}

export function clearFieldErrors(controls) {
  for (const c of Object.values(controls)) {
    c.removeAttribute('aria-invalid');
    const id = `${c.id}-err`;
    document.getElementById(id)?.remove();
    const left = (c.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== id).join(' ');
    if (left) c.setAttribute('aria-describedby', left); else c.removeAttribute('aria-describedby');
  }
}

/** A UUID v7 (time-ordered), made with getRandomValues: randomUUID needs a secure context,
 * which a county intranet's plain http:// address is not. */
export function uuidv7() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** One scan through `POST /scans`, with a new event id and the device's time; resolves to
 * its result (`accepted`, `duplicate` or `rejected` with a reason). */
export async function scanOne(fields) {
  const event = { event_id: uuidv7(), occurred_at: new Date().toISOString(), device_id: 'console', ...fields };
  const res = await api.post('/scans', { events: [event] });
  return { event, result: res.results[0] };
}
