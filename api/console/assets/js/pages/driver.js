// Driver: today's runs (the offline work screen grows from here).
import { api } from '../api.js';
import { h, table, dateTime } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: { 'nav.driver': '今日任务', 'driver.title': '今日收运任务', 'col.run': '任务', 'col.stops': '站点数', 'col.start': '出发' },
  en: { 'nav.driver': 'Today', 'driver.title': "Today's runs", 'col.run': 'Run', 'col.stops': 'Stops', 'col.start': 'Start' },
});

const ME_KEY = 'yifei.driver.me';

/** Who was signed in when the device was last online, for the offline start. */
export function offlineIdentity() {
  try { return JSON.parse(localStorage.getItem(ME_KEY)); } catch { return null; }
}

async function render(page, ctx) {
  localStorage.setItem(ME_KEY, JSON.stringify(ctx.me));
  const runs = await api.get('/me/runs');
  const items = runs.items || runs.runs || runs;
  page.append(h('h1', null, t('driver.title')), table([
    { label: t('col.run'), value: (r) => r.id },
    { label: t('col.stops'), value: (r) => (r.stops || []).length, num: true },
    { label: t('col.start'), value: (r) => dateTime(r.planned_start || r.start_at) },
  ], Array.isArray(items) ? items : []));
}

export const routes = [{ path: '/driver', nav: 'nav.driver', roles: ['driver'], render }];
