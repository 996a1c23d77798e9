// The agent console: the ticket queue (polled every few seconds), a
// ticket's handoff packet and live conversation, the copilot's suggested
// reply, and claim, reply, internal note and resolve.
import { el, clear, get, post, session, signOut, signInForm, header, localeOf, fmtTime, ApiError } from './staff.js';
import { consoleStrings } from './staff-i18n.js';

const POLL_MS = 3000;
const locale = localeOf();
const t = consoleStrings(locale);
document.documentElement.lang = locale === 'zh' ? 'zh-CN' : 'en';
document.title = t.title;

const head = document.getElementById('head');
const app = document.getElementById('app');
const live = document.getElementById('live');

const state = { me: null, status: 'active', team: '', priority: '', tickets: [], selected: '', ticket: null, messages: [], timer: 0, busy: false };

const say = (msg) => { live.textContent = msg; };
const reasonText = (r) => t['r_' + r] || r;

async function boot() {
  let s = null;
  try { s = await session(); } catch (e) { fail(e); }
  app.removeAttribute('aria-busy');
  if (!s) return showSignIn();
  start(s);
}

function showSignIn() {
  stopPolling();
  header(head, t, locale, null);
  signInForm(app, t, start);
}

function start(s) {
  state.me = s;
  header(head, t, locale, s, async () => {
    try { await signOut(); } catch { /* the session may be gone already */ }
    state.me = null;
    showSignIn();
  });
  layout();
  refresh();
  stopPolling();
  state.timer = setInterval(refresh, POLL_MS);
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = 0;
}

function fail(e) {
  if (e instanceof ApiError && e.status === 401) return showSignIn();
  say(`${t.failed} ${e.message}`);
}

let queueList, queueCount, detail;

function layout() {
  clear(app);
  const status = el('select', { id: 'f-status' }, ['active', 'open', 'claimed', 'closed', 'all'].map((v) => el('option', { value: v, text: t['st_' + v] })));
  status.value = state.status;
  status.addEventListener('change', () => { state.status = status.value; refresh(); });
  const team = el('input', { id: 'f-team', type: 'text', placeholder: t.allTeams, maxlength: 64, size: 10 });
  team.addEventListener('change', () => { state.team = team.value.trim(); refresh(); });
  const prio = el('select', { id: 'f-priority' }, el('option', { value: '', text: t.anyPriority }),
    ['urgent', 'high', 'normal'].map((v) => el('option', { value: v, text: t['pr_' + v] })));
  prio.addEventListener('change', () => { state.priority = prio.value; renderQueue(); });
  queueList = el('ul', { class: 'queue', id: 'queue', 'aria-label': t.queue });
  queueCount = el('p', { class: 'help', id: 'queue-count' });
  detail = el('section', { class: 'card', id: 'ticket', 'aria-label': t.ticket }, el('p', { class: 'help', text: t.pick }));
  app.append(el('div', { class: 'desk' },
    el('section', { class: 'card', 'aria-labelledby': 'queue-title' },
      el('h2', { id: 'queue-title', text: t.queue }),
      el('div', { class: 'filters' },
        el('label', { for: 'f-status' }, t.state, status),
        el('label', { for: 'f-team' }, t.team, team),
        el('label', { for: 'f-priority' }, t.priority, prio)),
      queueCount, queueList),
    detail));
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    const q = new URLSearchParams({ status: state.status, limit: '200' });
    if (state.team) q.set('team', state.team);
    const list = await get('/v1/agent/tickets?' + q);
    const before = state.tickets.length;
    state.tickets = list.tickets;
    renderQueue();
    if (before !== state.tickets.length) say(t.tickets(state.tickets.length));
    if (state.selected) await loadMessages();
  } catch (e) {
    fail(e);
  } finally {
    state.busy = false;
  }
}

function renderQueue() {
  const shown = state.tickets.filter((k) => !state.priority || k.priority === state.priority);
  clear(queueList);
  queueCount.textContent = t.tickets(shown.length);
  if (!shown.length) queueList.append(el('li', { class: 'help', text: t.empty }));
  for (const k of shown) {
    queueList.append(el('li', {},
      el('button', { type: 'button', 'data-ticket': k.id, 'aria-current': k.id === state.selected ? 'true' : 'false', onclick: () => openTicket(k.id) },
        el('span', { class: 'tags' },
          el('span', { class: 'tag ' + k.priority, text: t['pr_' + k.priority] || k.priority }),
          el('span', { class: 'tag', text: t['st_' + k.status] || k.status }),
          el('span', { class: 'tag', text: reasonText(k.reason) }),
          el('span', { class: 'tag', text: k.team })),
        el('span', { text: k.summary || k.id }),
        el('span', { class: 'help', text: fmtTime(k.created_at, locale) + (k.assignee ? ` · ${t.claimed} ${k.assignee}` : '') }))));
  }
}

async function openTicket(id) {
  state.selected = id;
  renderQueue();
  clear(detail);
  detail.append(el('p', { class: 'help', text: t.loading }));
  try {
    state.ticket = await get('/v1/agent/tickets/' + encodeURIComponent(id));
    state.messages = (await get(`/v1/agent/tickets/${encodeURIComponent(id)}/messages`)).messages;
    renderTicket();
    loadSuggestion();
  } catch (e) {
    fail(e);
  }
}

async function loadMessages() {
  try {
    const msgs = (await get(`/v1/agent/tickets/${encodeURIComponent(state.selected)}/messages`)).messages;
    if (msgs.length !== state.messages.length) {
      state.messages = msgs;
      renderTranscript();
    }
  } catch (e) {
    fail(e);
  }
}

let transcriptList, suggestBox, replyBox, actionMsg;

function renderTicket() {
  const k = state.ticket;
  const p = k.packet || {};
  clear(detail);
  const moods = p.sentiment || [];
  const mood = moods.length ? moods[moods.length - 1].sentiment : '';
  transcriptList = el('ol', { class: 'transcript', id: 'transcript', 'aria-label': t.transcript });
  suggestBox = el('div', { class: 'suggest', id: 'suggestion', 'aria-live': 'polite' });
  replyBox = el('textarea', { id: 'reply-text', maxlength: 4000 });
  actionMsg = el('p', { class: 'ok', id: 'action-msg', role: 'status' });
  const note = el('textarea', { id: 'note-text', maxlength: 4000 });
  const outcome = el('select', { id: 'outcome' }, ['resolved', 'abandoned'].map((v) => el('option', { value: v, text: t['oc_' + v] })));
  const closed = k.status === 'closed';
  const mine = k.assignee === state.me.name;

  detail.append(
    el('h2', { id: 'ticket-title' }, `${t.ticket} ${k.id}`),
    el('dl', { class: 'facts' },
      el('dt', { text: t.status }), el('dd', { id: 'ticket-status', text: (t['st_' + k.status] || k.status) + (k.assignee ? ` · ${k.assignee}` : '') }),
      el('dt', { text: t.reason }), el('dd', { text: reasonText(k.reason) }),
      el('dt', { text: t.priority }), el('dd', { text: t['pr_' + k.priority] || k.priority }),
      el('dt', { text: t.team }), el('dd', { text: k.team }),
      el('dt', { text: t.intent }), el('dd', { text: k.intent || '–' }),
      el('dt', { text: t.sentiment }), el('dd', { text: mood || '–' }),
      el('dt', { text: t.orders }), el('dd', { text: (p.order_ids || []).join(', ') || t.none }),
      el('dt', { text: t.customer }), el('dd', { text: k.customer_id || t.anonymous }),
      el('dt', { text: t.locale }), el('dd', { text: k.locale || '–' })),
    el('div', { class: 'row' },
      el('button', { type: 'button', id: 'claim', class: 'primary', disabled: closed || k.status === 'claimed', onclick: claim }, t.claim),
      actionMsg),
    el('h3', { text: t.transcript }), transcriptList,
    el('details', {}, el('summary', { text: t.tried }),
      el('ul', {}, (p.tried || []).map((a) => el('li', {}, el('strong', { text: a.decision + (a.intent ? ` · ${a.intent}` : '') + ': ' }), a.answer)))),
    el('details', {}, el('summary', { text: t.sources }),
      el('ul', {}, (p.sources || []).length ? p.sources.map((s) => el('li', {}, `${s.title} — ${s.source}`)) : el('li', { text: t.none }))),
    el('h3', { text: t.suggestion }), suggestBox,
    el('label', { for: 'reply-text', text: t.reply }), replyBox,
    el('div', { class: 'row' }, el('button', { type: 'button', id: 'send', class: 'primary', disabled: closed || (k.status === 'claimed' && !mine), onclick: send }, t.send)),
    el('h3', { text: t.notes }),
    el('ul', { id: 'notes' }, (p.notes || []).map((n) => el('li', {}, el('strong', { text: `${n.agent} · ${fmtTime(n.at, locale)}: ` }), n.text))),
    el('label', { for: 'note-text', text: t.note }), note,
    el('div', { class: 'row' }, el('button', { type: 'button', id: 'add-note', onclick: () => addNote(note) }, t.addNote)),
    el('div', { class: 'row' },
      el('label', { for: 'outcome', text: t.outcome }), outcome,
      el('button', { type: 'button', id: 'resolve', class: 'danger', disabled: closed, onclick: () => resolve(outcome.value) }, t.resolve)));
  renderTranscript();
}

function renderTranscript() {
  if (!transcriptList) return;
  clear(transcriptList);
  for (const m of state.messages) {
    transcriptList.append(el('li', { class: m.role },
      el('span', { class: 'who-line', text: `${t['role_' + m.role] || m.role} · ${fmtTime(m.created_at, locale)}` }), m.content));
  }
  transcriptList.scrollTop = transcriptList.scrollHeight;
}

async function loadSuggestion() {
  const id = state.selected;
  clear(suggestBox);
  suggestBox.append(el('p', { class: 'help', text: t.suggesting }));
  try {
    const s = await get(`/v1/agent/tickets/${encodeURIComponent(id)}/suggestion`);
    if (id !== state.selected) return;
    clear(suggestBox);
    if (!s.found) {
      suggestBox.append(el('p', { class: 'help', id: 'no-suggestion', text: t.noSuggestion }),
        el('button', { type: 'button', class: 'link', onclick: loadSuggestion }, t.redraft));
      return;
    }
    suggestBox.append(
      el('p', { class: 'help' }, `${t.answersQ} ${s.question}`),
      el('p', { class: 'draft', id: 'draft', text: s.answer }),
      el('ol', { class: 'cites', id: 'draft-citations' }, s.citations.map((c) => el('li', { value: c.n }, el('strong', { text: c.title }), ` — ${c.snippet}`))),
      el('div', { class: 'row' },
        el('button', { type: 'button', id: 'use-suggestion', onclick: () => { replyBox.value = plain(s.answer); replyBox.focus(); } }, t.useSuggestion),
        el('button', { type: 'button', class: 'link', onclick: loadSuggestion }, t.redraft)));
  } catch (e) {
    clear(suggestBox);
    suggestBox.append(el('p', { class: 'error', text: `${t.failed} ${e.message}` }));
  }
}

// plain drops the [n] citation markers: the shopper does not see the
// sources list the agent sees.
const plain = (text) => text.replace(/\s*\[\d+\]/g, '').trim();

async function act(fn, done) {
  actionMsg.textContent = '';
  try {
    await fn();
    await openTicketKeep();
    actionMsg.textContent = done;
    say(done);
    refresh();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showSignIn();
    actionMsg.className = 'error';
    actionMsg.textContent = `${t.failed} ${e.message}`;
  }
}

async function openTicketKeep() {
  const draft = replyBox ? replyBox.value : '';
  const id = state.selected;
  state.ticket = await get('/v1/agent/tickets/' + encodeURIComponent(id));
  state.messages = (await get(`/v1/agent/tickets/${encodeURIComponent(id)}/messages`)).messages;
  const sug = suggestBox;
  renderTicket();
  if (sug) suggestBox.replaceWith(sug), (suggestBox = sug);
  replyBox.value = draft;
}

const path = (what) => `/v1/agent/tickets/${encodeURIComponent(state.selected)}/${what}`;

function claim() { return act(() => post(path('claim')), `${t.claimed} ${state.me.name}`); }

function send() {
  const text = replyBox.value.trim();
  if (!text) return replyBox.focus();
  return act(async () => { await post(path('reply'), { message: text }); replyBox.value = ''; }, t.sent);
}

function addNote(box) {
  const text = box.value.trim();
  if (!text) return box.focus();
  return act(() => post(path('note'), { note: text }), t.noted);
}

function resolve(outcome) { return act(() => post(path('resolve'), { outcome }), t.resolved); }

boot();
