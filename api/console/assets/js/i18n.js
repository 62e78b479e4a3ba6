// Strings in Simplified Chinese (the users' language) and English. Each page module adds its
// own strings with `addStrings`, so no file holds every page's text.
const strings = { zh: {}, en: {} };
const KEY = 'yifei.lang';

export function lang() {
  const saved = globalThis.localStorage?.getItem(KEY);
  return saved === 'en' ? 'en' : 'zh';
}

export function setLang(l) {
  localStorage.setItem(KEY, l === 'en' ? 'en' : 'zh');
  document.documentElement.lang = l === 'en' ? 'en' : 'zh-CN';
}

/** Adds a module's strings: `{ zh: { key: '…' }, en: { key: '…' } }`. */
export function addStrings(table) {
  for (const l of ['zh', 'en']) {
    for (const [k, v] of Object.entries(table[l] || {})) {
      // Strings are global: two modules giving one key two texts would show the wrong one on
      // some page. Said loudly (the browser tests fail on a console error).
      if (k in strings[l] && strings[l][k] !== v) console.error(`i18n: "${k}" defined twice (${strings[l][k]} / ${v})`);
      strings[l][k] = v;
    }
  }
}

/** The text of `key` in the current language, with `{name}` replaced from `vars`. A missing
 * English string falls back to Chinese, a missing key shows itself (a bug to see, not hide). */
export function t(key, vars) {
  const l = lang();
  let s = strings[l][key] ?? strings.zh[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** The locale for numbers and dates. */
export function locale() {
  return lang() === 'en' ? 'en-GB' : 'zh-CN';
}

addStrings({
  zh: {
    'app.name': '医废', 'app.signin': '登录', 'app.signout': '退出', 'app.lang': 'English',
    'app.loading': '正在加载…', 'app.refused': '无权访问', 'app.refused.body': '您的角色（{role}）不能打开此页面。',
    'app.notfound': '页面不存在', 'app.offline': '离线：数据将在恢复网络后上传', 'app.error': '出错了',
    'app.retry': '重试', 'app.cancel': '取消', 'app.none': '暂无',
    'app.close': '关闭', 'app.search': '查询',
    'login.title': '登录医废', 'login.login': '用户名', 'login.password': '密码', 'login.submit': '登录',
    'login.bad': '用户名或密码错误', 'login.many': '尝试次数过多，请 {s} 秒后再试', 'login.hint': '演示账号密码：yifei-demo-2026',
    'role.admin': '管理员', 'role.bureau_staff': '卫健局', 'role.dispatcher': '调度员', 'role.driver': '司机',
    'role.plant_operator': '处置厂', 'role.clinic_staff': '医疗机构', 'role.hub_keeper': '收集点',
  },
  en: {
    'app.name': 'Yifei', 'app.signin': 'Sign in', 'app.signout': 'Sign out', 'app.lang': '中文',
    'app.loading': 'Loading…', 'app.refused': 'Not allowed', 'app.refused.body': 'Your role ({role}) may not open this page.',
    'app.notfound': 'No such page', 'app.offline': 'Offline: data will upload when the network returns', 'app.error': 'Something went wrong',
    'app.retry': 'Retry', 'app.cancel': 'Cancel', 'app.none': 'None',
    'app.close': 'Close', 'app.search': 'Search',
    'login.title': 'Sign in to Yifei', 'login.login': 'Login', 'login.password': 'Password', 'login.submit': 'Sign in',
    'login.bad': 'Unknown login or wrong password', 'login.many': 'Too many attempts; try again in {s} s', 'login.hint': 'Demo password: yifei-demo-2026',
    'role.admin': 'Admin', 'role.bureau_staff': 'Health bureau', 'role.dispatcher': 'Dispatcher', 'role.driver': 'Driver',
    'role.plant_operator': 'Plant', 'role.clinic_staff': 'Clinic', 'role.hub_keeper': 'Hub keeper',
  },
});
