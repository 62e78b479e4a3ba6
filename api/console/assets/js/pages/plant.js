// Plant operator: containers on their way to the plant.
import { all } from '../api.js';
import { h, table, dateTime } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: { 'nav.plant': '进厂', 'plant.title': '在途容器', 'col.code': '编码', 'col.state': '状态', 'col.collected': '收运时间' },
  en: { 'nav.plant': 'Gate', 'plant.title': 'Containers in transit', 'col.code': 'Code', 'col.state': 'State', 'col.collected': 'Collected' },
});

async function render(page) {
  const items = await all('/containers', { state: 'collected' });
  page.append(h('h1', null, t('plant.title')), table([
    { label: t('col.code'), value: (c) => c.code },
    { label: t('col.state'), value: (c) => c.state },
    { label: t('col.collected'), value: (c) => dateTime(c.updated_at || c.last_event_at) },
  ], items));
}

export const routes = [{ path: '/plant', nav: 'nav.plant', roles: ['plant_operator'], render }];
