// The shopper's chat: the page at /chat, alone or framed by widget.js.
// Answers stream from POST /v1/chat (server-sent events); an agent's
// replies arrive on GET /v1/conversations/{id}/messages (a stream). The
// conversation is kept in localStorage. Every text from the shopper, the
// model or an agent is inserted as a text node, never as HTML.
import { pick } from './i18n.js';

const q = new URLSearchParams(location.search);
const h = new URLSearchParams(location.hash.slice(1));
const opt = (name) => h.get(name) || q.get(name) || '';
const locale = opt('locale') === 'zh' || (!opt('locale') && /^zh/i.test(navigator.language || '')) ? 'zh' : 'en';
const key = opt('key');
const token = opt('token');
const product = opt('product');
const embedded = q.get('embed') === '1';
const t = pick(locale);
const $ = (id) => document.getElementById(id);
const root = $('kefu-chat');
const log = $('chat-log');
const live = $('chat-live');
const status = $('chat-status');
const banner = $('chat-banner');
const form = $('chat-form');
const input = $('chat-input');

// Where this shopper's conversation is kept: per key and per signed-in
// customer (read from the token's payload only to name the slot; the
// server verifies the token).
function subject() {
  try {
    const p = JSON.parse(atob(token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/')));
    return typeof p.sub === 'string' ? 'c:' + p.sub : 'anon';
  } catch { return 'anon'; }
}
const slot = 'kefu.chat.v1:' + (key || '-') + ':' + (token ? subject() : 'anon');
const load = () => { try { return JSON.parse(localStorage.getItem(slot)) || {}; } catch { return {}; } };
const save = (s) => { try { localStorage.setItem(slot, JSON.stringify(s)); } catch { /* private mode */ } };
let state = load(); // {conv, last, pending: {text, id}}

function headers(extra) {
  const hd = { ...extra, 'X-Kefu-Client': 'widget' };
  if (key) hd.Authorization = 'Bearer ' + key;
  if (token) hd['X-Kefu-Customer-Token'] = token;
  return hd;
}

// sse yields {event, data} from a fetch response of text/event-stream.
async function* sse(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message', data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
      }
      if (data) {
        try { yield { event, data: JSON.parse(data) }; } catch { /* not ours */ }
      }
    }
  }
}

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const safeURL = (s) => { try { const u = new URL(s); return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : ''; } catch { return ''; } };
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(''));
const seen = new Set();

function setStatus(text) { status.textContent = text || ''; }
function setBanner(text) { banner.textContent = text || ''; banner.hidden = !text; }
function announce(text) { live.textContent = text; }
function scroll() { log.scrollTop = log.scrollHeight; }

// bubble adds a message to the log and returns its parts.
function bubble(role, text, id) {
  const li = el('li', 'msg msg-' + role);
  if (id) { li.dataset.id = id; seen.add(id); }
  li.append(el('span', role === 'agent' ? 'msg-who' : 'visually-hidden', (role === 'user' ? t.you : role === 'agent' ? t.agent : t.bot) + ': '));
  const body = el('div', 'msg-text', text);
  li.append(body);
  log.append(li);
  scroll();
  return { li, body };
}

function citations(li, cites) {
  if (!Array.isArray(cites) || !cites.length) return;
  const box = el('div', 'cites');
  box.append(el('p', 'cites-title', t.sources));
  const list = el('ol', 'cites-list');
  for (const c of cites) {
    const item = el('li');
    const d = el('details');
    d.append(el('summary', null, '[' + (c.n || list.children.length + 1) + '] ' + (c.title || c.doc_id || '')));
    if (c.snippet) d.append(el('p', 'cite-snippet', c.snippet));
    const url = safeURL(c.source);
    if (url) {
      const a = el('a', 'cite-link', t.openSource);
      a.href = url; a.target = '_blank'; a.rel = 'noopener noreferrer';
      d.append(a);
    }
    item.append(d);
    list.append(item);
  }
  box.append(list);
  li.append(box);
}

// feedback adds thumbs and a comment box to an answer.
function feedback(li, id, given) {
  const box = el('div', 'fb');
  const up = el('button', 'fb-btn fb-up');
  const down = el('button', 'fb-btn fb-down');
  up.type = down.type = 'button';
  up.setAttribute('aria-label', t.helpful);
  down.setAttribute('aria-label', t.notHelpful);
  const form = el('form', 'fb-form');
  form.hidden = true;
  const label = el('label', 'visually-hidden', t.comment);
  const cid = 'fb-' + id;
  label.htmlFor = cid;
  const text = el('input', 'fb-comment');
  text.id = cid; text.maxLength = 1000; text.placeholder = t.comment;
  const send = el('button', 'fb-send', t.sendComment);
  send.type = 'submit';
  form.append(label, text, send);
  const note = el('span', 'fb-note');
  note.setAttribute('role', 'status');
  let rating = given && given.rating;
  const show = () => {
    up.setAttribute('aria-pressed', String(rating === 'up'));
    down.setAttribute('aria-pressed', String(rating === 'down'));
  };
  show();
  const post = async (r, comment) => {
    const res = await fetch('/v1/conversations/' + encodeURIComponent(state.conv) + '/feedback', {
      method: 'POST', headers: headers({ 'Content-Type': 'application/json' }),
      body: JSON.stringify({ message_id: id, rating: r, comment: comment || '' }),
    }).catch(() => null);
    if (!res || !res.ok) { note.textContent = t.failed; return false; }
    rating = r; show(); note.textContent = t.thanks;
    return true;
  };
  up.onclick = () => post('up').then((ok) => { if (ok) { form.hidden = false; } });
  down.onclick = () => post('down').then((ok) => { if (ok) { form.hidden = false; text.focus(); } });
  form.onsubmit = (e) => { e.preventDefault(); if (rating) post(rating, text.value.trim()).then((ok) => { if (ok) form.hidden = true; }); };
  box.append(up, down, note, form);
  li.append(box);
}

// answer renders a stored assistant or agent message.
function render(m) {
  if (seen.has(m.id)) return;
  if (m.role === 'user') {
    // The shopper's own message sent from this page, now known by id.
    for (const li of log.querySelectorAll('.msg-user:not([data-id])')) {
      if (li.querySelector('.msg-text').textContent === m.content) { li.dataset.id = m.id; seen.add(m.id); return; }
    }
    bubble('user', m.content, m.id);
  } else if (m.role === 'agent') {
    bubble('agent', m.content, m.id);
    setBanner(t.human_joined);
    announce(m.content);
    if (embedded) parent.postMessage({ kefu: 'unread' }, '*');
  } else if (m.role === 'assistant') {
    const { li } = bubble('assistant', m.content, m.id);
    citations(li, m.citations);
    if (m.decision === 'escalate' || (m.decision === 'human' && banner.hidden)) setBanner(t.handoff);
    if (m.decision !== 'human') feedback(li, m.id, m.feedback);
  }
  if (m.id) { state.last = m.id; }
}

let busy = null; // the turn in flight

// ask sends one turn and streams its answer; a dropped connection is
// retried with the same client message id, so the turn is stored once and
// the retry returns it.
async function ask(text, id) {
  state.pending = { text, id };
  save(state);
  bubble('user', text);
  const { li, body } = bubble('assistant', '');
  li.setAttribute('aria-busy', 'true');
  body.textContent = t.thinking;
  body.classList.add('typing');
  let shown = '';
  let wait = 500;
  for (;;) {
    if (!navigator.onLine) {
      setStatus(t.offline);
      await new Promise((r) => addEventListener('online', r, { once: true }));
    }
    let res;
    try {
      res = await fetch('/v1/chat', {
        method: 'POST',
        headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream', 'Idempotency-Key': id }),
        body: JSON.stringify({ conversation_id: state.conv || undefined, message: text, product_id: product || undefined, client_message_id: id, channel: 'web' }),
      });
    } catch {
      setStatus(navigator.onLine ? t.reconnecting : t.offline);
      await sleep(wait); wait = Math.min(wait * 2, 8000);
      continue;
    }
    if (res.status === 429) {
      const s = Math.max(1, Math.ceil(Number(res.headers.get('Retry-After')) || 5));
      setStatus(t.rateLimited.replace('{s}', s));
      await sleep(s * 1000);
      continue;
    }
    if (!res.ok) {
      let msg = t.failed;
      if (res.status === 413) msg = t.tooLong;
      else if (res.status < 500) { try { msg = (await res.json()).error.message || msg; } catch { /* keep */ } }
      if (res.status >= 500) { setStatus(t.reconnecting); await sleep(wait); wait = Math.min(wait * 2, 8000); continue; }
      body.classList.remove('typing');
      body.textContent = msg;
      li.classList.add('msg-error');
      li.removeAttribute('aria-busy');
      delete state.pending; save(state);
      setStatus('');
      return;
    }
    let fresh = '';
    let done = null;
    try {
      for await (const { event, data } of sse(res)) {
        if (event === 'meta' && data.conversation_id && !state.conv) { state.conv = data.conversation_id; save(state); }
        else if (event === 'delta') {
          fresh += data.text || '';
          li.dataset.deltas = String(Number(li.dataset.deltas || 0) + 1);
          // A retry starts its text again: show it once it has caught up.
          if (fresh.length >= shown.length) { shown = fresh; body.classList.remove('typing'); body.textContent = shown; scroll(); }
        } else if (event === 'escalation') setBanner(t.handoff);
        else if (event === 'done') done = data;
      }
    } catch { /* cut mid-stream: retried below */ }
    if (!done) {
      setStatus(navigator.onLine ? t.reconnecting : t.offline);
      await sleep(wait); wait = Math.min(wait * 2, 8000);
      continue;
    }
    setStatus('');
    state.conv = done.conversation_id || state.conv;
    body.classList.remove('typing');
    body.textContent = done.answer;
    li.removeAttribute('aria-busy');
    if (done.message_id) { li.dataset.id = done.message_id; seen.add(done.message_id); state.last = done.message_id; }
    citations(li, done.citations);
    if (done.escalated || done.decision === 'escalate' || (done.decision === 'human' && banner.hidden)) setBanner(t.handoff);
    if (done.message_id && done.decision !== 'human') feedback(li, done.message_id);
    announce(done.answer);
    delete state.pending;
    save(state);
    scroll();
    watch();
    return;
  }
}

let watching = null;
// watch follows the conversation's new messages (an agent's replies)
// until the page closes, reconnecting after a drop from the last seen id.
function watch() {
  if (watching || !state.conv) return;
  const conv = state.conv;
  watching = (async () => {
    let wait = 1000;
    while (state.conv === conv) {
      if (busy) await busy.catch(() => {});
      try {
        const after = state.last ? '?after=' + encodeURIComponent(state.last) : '';
        const res = await fetch('/v1/conversations/' + encodeURIComponent(conv) + '/messages' + after, { headers: headers({ Accept: 'text/event-stream' }) });
        if (res.status === 404) { reset(); return; }
        if (res.ok) {
          wait = 1000;
          for await (const { event, data } of sse(res)) {
            if (event === 'message') { render(data); save(state); }
          }
        } else if (res.status === 429) {
          wait = Math.max(wait, (Number(res.headers.get('Retry-After')) || 5) * 1000);
        }
      } catch { /* dropped: reconnect */ }
      await sleep(wait);
      wait = Math.min(wait * 2, 30000);
    }
  })().finally(() => { watching = null; });
}

function reset() {
  state = {};
  save(state);
  log.textContent = '';
  seen.clear();
  setBanner('');
  greet();
}

function greet() {
  bubble('assistant', t.greeting).li.classList.add('msg-greeting');
  if (!performance.getEntriesByName('kefu-chat-rendered').length) performance.mark('kefu-chat-rendered');
}

// restore shows the stored conversation, then resumes a turn that a
// reload or a crash interrupted.
async function restore() {
  log.textContent = '';
  seen.clear();
  greet();
  if (state.conv) {
    try {
      const res = await fetch('/v1/conversations/' + encodeURIComponent(state.conv), { headers: headers() });
      if (res.status === 404) { state = {}; save(state); }
      else if (res.ok) {
        const conv = await res.json();
        let msgs = conv.messages || [];
        if (state.pending) {
          // The interrupted turn is shown again by its retry below, which
          // the server answers from what it stored: drop it here.
          const i = msgs.findLastIndex((m) => m.role === 'user' && m.content === state.pending.text);
          if (i >= 0) msgs = msgs.slice(0, i);
        }
        for (const m of msgs) render(m);
        save(state);
      }
    } catch { setStatus(t.offline); }
  }
  if (state.pending && state.pending.text) {
    const p = state.pending;
    busy = ask(p.text, p.id).finally(() => { busy = null; });
    await busy;
  }
  watch();
}

function send(text) {
  text = text.trim();
  if (!text || busy) return;
  busy = ask(text, uuid()).finally(() => { busy = null; input.focus(); });
}

// UI strings and wiring.
document.documentElement.lang = locale === 'zh' ? 'zh-CN' : 'en';
const shop = root.dataset['shop' + (locale === 'zh' ? 'Zh' : 'En')];
document.title = (shop ? shop + ' · ' : '') + t.title;
$('chat-title').textContent = shop || t.title;
log.setAttribute('aria-label', t.messages);
$('chat-input-label').textContent = t.input;
input.placeholder = t.placeholder;
$('chat-send').textContent = t.send;
$('chat-human').textContent = t.human;
if (embedded) {
  root.classList.add('embedded');
  const close = $('chat-close');
  close.hidden = false;
  close.setAttribute('aria-label', t.close);
  close.onclick = () => parent.postMessage({ kefu: 'close' }, '*');
  addEventListener('keydown', (e) => { if (e.key === 'Escape') parent.postMessage({ kefu: 'close' }, '*'); });
}
form.onsubmit = (e) => { e.preventDefault(); const v = input.value; if (!busy && v.trim()) { input.value = ''; send(v); } };
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
});
$('chat-human').onclick = () => send(t.humanAsk);
addEventListener('offline', () => setStatus(t.offline));
addEventListener('online', () => setStatus(''));
// Another tab of the same shopper moved the conversation on.
addEventListener('storage', (e) => {
  if (e.key !== slot || busy) return;
  const next = load();
  if (next.conv !== state.conv || next.last !== state.last) { delete next.pending; state = next; restore(); } // that tab sends its own turn
});
restore();
