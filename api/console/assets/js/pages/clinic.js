// Clinic staff and hub keepers: what is waiting at the institution.
import { all } from '../api.js';
import { h, table, dateTime } from '../dom.js';
import { t, addStrings } from '../i18n.js';

addStrings({
  zh: { 'nav.clinic': '本机构', 'clinic.title': '待收运的容器', 'col.code': '编码', 'col.category': '类别', 'col.sealed': '封口时间', 'col.state': '状态' },
  en: { 'nav.clinic': 'My institution', 'clinic.title': 'Containers waiting', 'col.code': 'Code', 'col.category': 'Category', 'col.sealed': 'Sealed', 'col.state': 'State' },
});

async function render(page) {
  const items = await all('/containers', { state: 'sealed' });
  page.append(h('h1', null, t('clinic.title')), table([
    { label: t('col.code'), value: (c) => c.code },
    { label: t('col.category'), value: (c) => c.category },
    { label: t('col.sealed'), value: (c) => dateTime(c.sealed_at) },
    { label: t('col.state'), value: (c) => c.state },
  ], items));
}

export const routes = [{ path: '/clinic', nav: 'nav.clinic', roles: ['clinic_staff', 'hub_keeper'], render }];
