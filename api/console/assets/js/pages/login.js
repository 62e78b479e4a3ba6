import { api } from '../api.js';
import { h, field, notice } from '../dom.js';
import { t } from '../i18n.js';

/** The sign-in form; `done` runs once the session cookies are set. */
export function loginPage(done) {
  const login = h('input', { name: 'login', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    msg.replaceChildren();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await api.signIn(login.value.trim(), password.value);
      await done();
    } catch (err) {
      const text = err.status === 401 ? t('login.bad')
        : err.status === 429 ? t('login.many', { s: err.problem?.retry_after_s ?? '60' }) : err.message;
      msg.append(notice('error', text));
      button.disabled = false;
      password.select();
    }
  } },
  field(t('login.login'), login),
  field(t('login.password'), password),
  h('button', { type: 'submit' }, t('login.submit')),
  msg);
  setTimeout(() => login.focus(), 0);
  return h('section', { class: 'login card' }, h('h1', null, t('login.title')), form, h('p', { class: 'hint' }, t('login.hint')));
}
