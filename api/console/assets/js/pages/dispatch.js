// Dispatcher of the disposal company: what is due.
import { api } from '../api.js';
import { h, table, dateTime, today } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: { 'nav.dispatch': '调度', 'dispatch.title': '今日待收', 'col.stop': '站点', 'col.reason': '原因', 'col.deadline': '期限' },
  en: { 'nav.dispatch': 'Dispatch', 'dispatch.title': 'Due today', 'col.stop': 'Stop', 'col.reason': 'Why', 'col.deadline': 'Deadline' },
});

async function render(page) {
  const due = await api.get('/pickups/due', { date: today() });
  const stops = due.stops || due.items || [];
  page.append(h('h1', null, t('dispatch.title')), table([
    { label: t('col.stop'), value: (s) => s.institution_name || s.name || s.institution_id },
    { label: t('col.reason'), value: (s) => s.explanation || s.reason || '' },
    { label: t('col.deadline'), value: (s) => dateTime(s.deadline) },
  ], stops));
}

export const routes = [{ path: '/dispatch', nav: 'nav.dispatch', roles: ['dispatcher'], render }];
