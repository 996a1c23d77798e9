// Shared by the agent console and the admin dashboard: the staff session
// (sign in once with a key; the server keeps the session, the browser only
// an HttpOnly cookie; the CSRF token lives in this module's memory), API
// calls, and DOM building with text nodes only.

let csrf = '';

// ApiError is a failed API call: status and the API's error code.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body, { form } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Kefu-CSRF'] = csrf;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok && res.status !== 207) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || 'error', e.message || `${res.status}`);
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body === undefined ? {} : body);
export const del = (path) => call('DELETE', path);
export const upload = (path, form) => call('POST', path, undefined, { form });

// session returns the current session, or null when not signed in.
export async function session() {
  try {
    const s = await get('/v1/session');
    csrf = s.csrf_token;
    return s;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function signIn(key) {
  const s = await call('POST', '/v1/session', { key });
  csrf = s.csrf_token;
  return s;
}

export async function signOut() {
  await call('DELETE', '/v1/session');
  csrf = '';
}

// el builds an element; strings among the children become text nodes,
// never markup.
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') n.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return n;
}

export function clear(n) {
  while (n.firstChild) n.removeChild(n.firstChild);
}

// localeOf reads ?locale=zh|en, then the browser's language.
export function localeOf() {
  const q = new URLSearchParams(location.search).get('locale');
  if (q === 'zh' || q === 'en') return q;
  return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

// fmtTime shows a time in the reader's locale.
export function fmtTime(iso, locale) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(locale === 'zh' ? 'zh-CN' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
}

// fmtDuration shows seconds as "45 s", "3 min", "2.5 h".
export function fmtDuration(s, t) {
  if (!s && s !== 0) return '–';
  if (s < 60) return `${Math.round(s)} ${t.sec}`;
  if (s < 3600) return `${Math.round(s / 60)} ${t.min}`;
  return `${(s / 3600).toFixed(1)} ${t.hour}`;
}

// signInForm shows the sign-in form in root and resolves with the session.
export function signInForm(root, t, onSession) {
  clear(root);
  const err = el('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const input = el('input', { id: 'signin-key', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'signin-help' });
  const form = el('form', { class: 'signin card', id: 'signin-form' },
    el('h2', { text: t.signInTitle }),
    el('label', { for: 'signin-key', text: t.keyLabel }),
    input,
    el('p', { class: 'help', id: 'signin-help', text: t.keyHelp }),
    el('button', { type: 'submit', class: 'primary', text: t.signIn }),
    err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    try {
      const s = await signIn(input.value.trim());
      input.value = '';
      onSession(s);
    } catch (e) {
      err.textContent = e.status === 429 ? t.tooMany : e.status === 403 ? t.wrongRole : t.signInFailed;
    }
  });
  root.append(form);
  input.focus();
}

// header fills the page header: title, language switch, who is signed in,
// sign-out.
export function header(root, t, locale, s, onSignOut) {
  clear(root);
  const other = locale === 'zh' ? 'en' : 'zh';
  const u = new URL(location.href);
  u.searchParams.set('locale', other);
  root.append(
    el('h1', { text: t.title }),
    el('nav', { class: 'head-nav', 'aria-label': t.navLabel },
      el('a', { href: u.pathname + u.search, lang: other, hreflang: other, text: t.otherLanguage }),
      s ? el('span', { class: 'who', id: 'who' }, `${t.signedInAs} ${s.name} (${s.role})`) : null,
      s ? el('button', { type: 'button', id: 'signout', class: 'link', text: t.signOut, onclick: onSignOut }) : null));
}
