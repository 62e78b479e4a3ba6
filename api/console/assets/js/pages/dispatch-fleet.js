// The dispatcher's fleet: vehicles (add, change capacity, shift, driver, taken off the plan)
// and the company's drivers with the vehicles each one drives.
import { api } from '../api.js';
import { h, table, notice, field, select } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: {
    'nav.fleet': '车辆', 'fleet.title': '车辆与司机', 'fleet.vehicles': '车辆（{n}）', 'fleet.drivers': '司机（{n}）',
    'fleet.add': '添加车辆', 'fleet.plate': '车牌', 'fleet.kg': '载重（kg）', 'fleet.units': '容量（件）', 'fleet.cold': '冷藏车厢',
    'fleet.start': '出车时间', 'fleet.end': '收车时间', 'fleet.driver': '司机', 'fleet.nodriver': '（未指派）', 'fleet.active': '参与规划',
    'fleet.edit': '修改', 'fleet.save': '保存', 'fleet.added': '已添加车辆 {plate}', 'fleet.saved': '已保存 {plate}',
    'fleet.yes': '是', 'fleet.no': '否', 'fleet.on': '参与规划', 'fleet.off': '停用', 'fleet.shift': '班次',
    'fleet.login': '用户名', 'fleet.name': '姓名', 'fleet.status': '账号', 'fleet.plates': '车辆', 'fleet.deact': '已停用',
    'fleet.drivers.hint': '司机账号由管理员创建；停用的司机不能登录。',
  },
  en: {
    'nav.fleet': 'Fleet', 'fleet.title': 'Vehicles and drivers', 'fleet.vehicles': 'Vehicles ({n})', 'fleet.drivers': 'Drivers ({n})',
    'fleet.add': 'Add a vehicle', 'fleet.plate': 'Plate', 'fleet.kg': 'Load limit (kg)', 'fleet.units': 'Capacity (containers)', 'fleet.cold': 'Refrigerated',
    'fleet.start': 'Shift starts', 'fleet.end': 'Shift ends', 'fleet.driver': 'Driver', 'fleet.nodriver': '(none)', 'fleet.active': 'Planned',
    'fleet.edit': 'Edit', 'fleet.save': 'Save', 'fleet.added': 'Added vehicle {plate}', 'fleet.saved': 'Saved {plate}',
    'fleet.yes': 'yes', 'fleet.no': 'no', 'fleet.on': 'planned', 'fleet.off': 'off the plan', 'fleet.shift': 'Shift',
    'fleet.login': 'Login', 'fleet.name': 'Name', 'fleet.status': 'Account', 'fleet.plates': 'Vehicles', 'fleet.deact': 'deactivated',
    'fleet.drivers.hint': 'Driver accounts are created by an admin; a deactivated driver cannot sign in.',
  },
});

function driverName(d) {
  return d.display_name ? `${d.display_name}（${d.login}）` : d.login;
}

/** The fields of a vehicle; `v` fills them for an edit. */
function vehicleFields(drivers, v) {
  const c = {
    plate: h('input', { name: 'plate', required: true, maxlength: 20, value: v?.plate || '', autocapitalize: 'characters' }),
    capacity_kg: h('input', { name: 'capacity_kg', type: 'number', min: 1, max: 40000, step: 1, required: true, value: v?.capacity_kg ?? 1000 }),
    capacity_units: h('input', { name: 'capacity_units', type: 'number', min: 1, max: 10000, step: 1, required: true, value: v?.capacity_units ?? 80 }),
    shift_start: h('input', { name: 'shift_start', type: 'time', required: true, value: v?.shift_start || '07:30' }),
    shift_end: h('input', { name: 'shift_end', type: 'time', required: true, value: v?.shift_end || '17:30' }),
    driver_id: select('driver_id', [['', t('fleet.nodriver')], ...drivers.filter((d) => d.active || d.id === v?.driver_id).map((d) => [d.id, driverName(d)])], v?.driver_id || ''),
    refrigerated: h('input', { name: 'refrigerated', type: 'checkbox', checked: !!v?.refrigerated }),
    active: h('input', { name: 'active', type: 'checkbox', checked: v ? v.active : true }),
  };
  const check = (label, box) => h('label', { class: 'check' }, box, label);
  const nodes = [
    v ? null : field(t('fleet.plate'), c.plate),
    field(t('fleet.kg'), c.capacity_kg), field(t('fleet.units'), c.capacity_units),
    field(t('fleet.start'), c.shift_start), field(t('fleet.end'), c.shift_end),
    field(t('fleet.driver'), c.driver_id),
    check(t('fleet.cold'), c.refrigerated),
    v ? check(t('fleet.active'), c.active) : null,
  ];
  const value = () => {
    const body = {
      capacity_kg: Number(c.capacity_kg.value), capacity_units: Number(c.capacity_units.value),
      shift_start: c.shift_start.value, shift_end: c.shift_end.value,
      driver_id: c.driver_id.value, refrigerated: c.refrigerated.checked,
    };
    if (v) body.active = c.active.checked;
    else { body.plate = c.plate.value.trim(); if (!body.driver_id) delete body.driver_id; }
    return body;
  };
  return { nodes, value };
}

async function render(page, ctx, root = page) {
  const [vehicles, drivers] = await Promise.all([api.get('/vehicles').then((r) => r.items), api.get('/drivers').then((r) => r.items)]);
  if (ctx.stale()) return;
  const msg = h('div', { class: 'fleet-msg', 'aria-live': 'polite' });
  const reload = async (note) => {
    const fresh = h('div');
    await render(fresh, ctx, root);
    root.replaceChildren(...fresh.childNodes);
    root.querySelector('.fleet-msg')?.append(note);
  };
  const submit = (work, done) => async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    form.querySelector('.notice')?.remove();
    try {
      const v = await work();
      await reload(notice('ok', done(v)));
    } catch (err) {
      form.append(notice('error', err.message, ...err.fields.map((f) => h('div', null, f))));
      button.disabled = false;
    }
  };
  const add = vehicleFields(drivers, null);
  const addForm = h('form', { class: 'stack card', onsubmit: submit(() => api.post('/vehicles', add.value()), (v) => t('fleet.added', { plate: v.plate })) },
    h('h2', null, t('fleet.add')), ...add.nodes, h('button', { type: 'submit' }, t('fleet.add')));
  const editCell = (v) => {
    const f = vehicleFields(drivers, v);
    const form = h('form', { class: 'stack vehicle-edit', hidden: true, onsubmit: submit(() => api.patch(`/vehicles/${encodeURIComponent(v.id)}`, f.value()), (x) => t('fleet.saved', { plate: x.plate })) },
      ...f.nodes, h('button', { type: 'submit' }, t('fleet.save')));
    const open = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-label': `${t('fleet.edit')} ${v.plate}`, onclick: () => {
      form.hidden = !form.hidden; open.setAttribute('aria-expanded', String(!form.hidden));
    } }, t('fleet.edit'));
    return h('div', null, open, form);
  };
  const byId = new Map(drivers.map((d) => [d.id, d]));
  page.append(
    h('h1', null, t('fleet.title')),
    msg,
    h('h2', null, t('fleet.vehicles', { n: vehicles.length })),
    table([
      { label: t('fleet.plate'), value: (v) => h('strong', { class: 'nowrap' }, v.plate) },
      { label: t('fleet.kg'), num: true, value: (v) => String(v.capacity_kg) },
      { label: t('fleet.units'), num: true, value: (v) => String(v.capacity_units) },
      { label: t('fleet.shift'), value: (v) => h('span', { class: 'nowrap' }, `${v.shift_start}–${v.shift_end}`) },
      { label: t('fleet.cold'), value: (v) => (v.refrigerated ? t('fleet.yes') : t('fleet.no')) },
      { label: t('fleet.driver'), value: (v) => (byId.get(v.driver_id) ? driverName(byId.get(v.driver_id)) : t('fleet.nodriver')) },
      { label: t('fleet.active'), value: (v) => h('span', { class: `badge${v.active ? ' ok' : ''}` }, v.active ? t('fleet.on') : t('fleet.off')) },
      { label: t('fleet.edit'), value: editCell },
    ], vehicles),
    addForm,
    h('h2', null, t('fleet.drivers', { n: drivers.length })),
    h('p', { class: 'hint' }, t('fleet.drivers.hint')),
    table([
      { label: t('fleet.login'), value: (d) => d.login },
      { label: t('fleet.name'), value: (d) => d.display_name || '—' },
      { label: t('fleet.plates'), value: (d) => d.plates.join('、') || '—' },
      { label: t('fleet.status'), value: (d) => (d.active ? '' : h('span', { class: 'badge bad' }, t('fleet.deact'))) },
    ], drivers),
  );
}

export const fleetRoute = { path: '/dispatch/fleet', nav: 'nav.fleet', roles: ['dispatcher'], render };
