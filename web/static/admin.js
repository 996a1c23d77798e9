// The admin dashboard: figures and charts over a chosen period (the
// analytics API), knowledge gaps with a one-click FAQ entry, the document
// library (list, search, chunks, upload, delete, the gate's verdict) and
// the golden-set evaluation. Charts are drawn by the vendored Chart.js.
import { el, clear, get, del, upload, post, session, signOut, signInForm, header, localeOf, fmtTime, fmtDuration, ApiError } from './staff.js';
import { adminStrings } from './staff-i18n.js';

const locale = localeOf();
const t = adminStrings(locale);
document.documentElement.lang = locale === 'zh' ? 'zh-CN' : 'en';
document.title = t.title;

const head = document.getElementById('head');
const app = document.getElementById('app');
const live = document.getElementById('live');
const say = (m) => { live.textContent = m; };
const charts = [];
const day = (d) => d.toISOString().slice(0, 10);
const pct = (r) => `${(r * 100).toFixed(1)}%`;

async function boot() {
  let s = null;
  try { s = await session(); } catch (e) { say(`${t.failed} ${e.message}`); }
  app.removeAttribute('aria-busy');
  if (!s) return showSignIn();
  start(s);
}

function showSignIn() {
  header(head, t, locale, null);
  signInForm(app, t, start);
}

function start(s) {
  header(head, t, locale, s, async () => {
    try { await signOut(); } catch { /* already gone */ }
    showSignIn();
  });
  layout();
}

function fail(where, e) {
  if (e instanceof ApiError && e.status === 401) return showSignIn();
  clear(where);
  where.append(el('p', { class: 'error', role: 'alert', text: `${t.failed} ${e.message}` }));
}

let overview, gapsBox, docsBox, evalBox, dialog;

function layout() {
  clear(app);
  const today = new Date();
  const from = el('input', { type: 'date', id: 'p-from', value: day(new Date(today.getTime() - 6 * 864e5)) });
  const to = el('input', { type: 'date', id: 'p-to', value: day(today) });
  const form = el('form', { class: 'row', id: 'period-form' },
    el('label', { for: 'p-from', text: t.from }), from,
    el('label', { for: 'p-to', text: t.to }), to,
    el('button', { type: 'submit', class: 'primary', text: t.apply }));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); loadPeriod(from.value, to.value); });
  overview = el('div', { id: 'overview' });
  gapsBox = el('div', { id: 'gaps' });
  docsBox = el('div', { id: 'documents' });
  evalBox = el('div', { id: 'eval' });
  dialog = el('dialog', { id: 'dialog', 'aria-labelledby': 'dialog-title' });
  app.append(
    el('section', { class: 'card', 'aria-labelledby': 'period-title' }, el('h2', { id: 'period-title', text: t.period }), form),
    el('section', { class: 'card', 'aria-labelledby': 'overview-title' }, el('h2', { id: 'overview-title', text: t.overview }), overview),
    el('section', { class: 'card', 'aria-labelledby': 'gaps-title' }, el('h2', { id: 'gaps-title', text: t.gaps }), el('p', { class: 'help', text: t.gapsHelp }), gapsBox),
    el('section', { class: 'card', 'aria-labelledby': 'docs-title' }, el('h2', { id: 'docs-title', text: t.documents }), docsBox),
    el('section', { class: 'card', 'aria-labelledby': 'eval-title' }, el('h2', { id: 'eval-title', text: t.evaluation }), evalBox),
    dialog);
  loadPeriod(from.value, to.value);
  renderDocs();
  renderEval();
}

// loadPeriod reads [from, to] (to inclusive, UTC days).
async function loadPeriod(from, to) {
  const end = new Date(to + 'T00:00:00Z');
  end.setUTCDate(end.getUTCDate() + 1);
  const q = new URLSearchParams({ from, to: day(end) });
  clear(overview);
  overview.append(el('p', { class: 'help', text: t.loading }));
  try {
    const p = await get('/v1/admin/analytics/period?' + q);
    renderOverview(p);
    renderGaps(p.knowledge_gaps);
  } catch (e) {
    fail(overview, e);
  }
}

function kpi(key, label, value) {
  return el('div', { class: 'kpi', 'data-kpi': key }, el('span', { class: 'v', text: value }), el('span', { class: 'k', text: label }));
}

function renderOverview(p) {
  for (const c of charts.splice(0)) c.destroy();
  clear(overview);
  overview.append(el('div', { class: 'kpis' },
    kpi('conversations', t.conversations, String(p.conversations)),
    kpi('resolution_rate', t.resolution, pct(p.resolution_rate)),
    kpi('escalation_rate', t.escalation, pct(p.escalation_rate)),
    kpi('tickets', t.tickets, String(p.tickets)),
    kpi('feedback_up', t.feedbackUp, String(p.feedback.up)),
    kpi('feedback_down', t.feedbackDown, String(p.feedback.down)),
    kpi('first_response', t.firstResponse, p.first_response.count ? fmtDuration(p.first_response.median_seconds, t) : '–'),
    kpi('time_to_resolution', t.ttr, p.time_to_resolution.count ? fmtDuration(p.time_to_resolution.median_seconds, t) : '–')));
  const grid = el('div', { class: 'charts' });
  overview.append(grid);
  const reasons = Object.entries(p.by_reason).sort((a, b) => b[1] - a[1]);
  chart(grid, 'chart-days', t.perDay, 'bar', p.days.map((d) => d.day),
    [{ label: t.series_conv, data: p.days.map((d) => d.conversations), backgroundColor: '#0b57d0' },
      { label: t.series_tickets, data: p.days.map((d) => d.tickets), backgroundColor: '#c2410c' }],
    [t.days, t.series_conv, t.series_tickets], p.days.map((d) => [d.day, d.conversations, d.tickets]));
  chart(grid, 'chart-reasons', t.reasons, 'bar', reasons.map((r) => r[0]),
    [{ label: t.tickets, data: reasons.map((r) => r[1]), backgroundColor: '#c2410c' }],
    [t.reasons, t.tickets], reasons);
  chart(grid, 'chart-intents', t.intents, 'bar', p.top_intents.map((i) => i.name),
    [{ label: t.count, data: p.top_intents.map((i) => i.count), backgroundColor: '#14532d' }],
    [t.intents, t.count], p.top_intents.map((i) => [i.name, i.count]));
  chart(grid, 'chart-feedback', t.feedback, 'doughnut', [t.up, t.down],
    [{ label: t.feedback, data: [p.feedback.up, p.feedback.down], backgroundColor: ['#14532d', '#a4161a'] }],
    [t.feedback, t.count], [[t.up, p.feedback.up], [t.down, p.feedback.down]]);
}

// chart draws one chart with Chart.js and the same figures as a table, for
// screen readers and for checking.
function chart(root, id, title, type, labels, datasets, cols, rows) {
  const canvas = el('canvas', { id, role: 'img', 'aria-label': t.chartAlt(title) });
  const table = el('table', { class: 'visually-hidden', 'data-chart': id },
    el('caption', { text: title }),
    el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col', text: c })))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((v) => el('td', { text: String(v) }))))));
  root.append(el('figure', { class: 'chart' }, el('figcaption', { text: title }), el('div', { class: 'chart-box' }, canvas), table));
  if (!globalThis.Chart) return;
  charts.push(new globalThis.Chart(canvas, {
    type, data: { labels, datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: type === 'doughnut' || datasets.length > 1 } },
      scales: type === 'doughnut' ? {} : { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  }));
}

function renderGaps(gaps) {
  clear(gapsBox);
  if (!gaps.length) return gapsBox.append(el('p', { class: 'help', id: 'no-gaps', text: t.noGaps }));
  gapsBox.append(el('table', { id: 'gaps-table' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t.question }), el('th', { scope: 'col', class: 'num', text: t.count }),
      el('th', { scope: 'col', text: t.lastAsked }), el('th', { scope: 'col', text: t.actions }))),
    el('tbody', {}, gaps.map((g) => el('tr', {},
      el('td', { text: g.question }), el('td', { class: 'num', text: String(g.count) }), el('td', { text: fmtTime(g.last_asked_at, locale) }),
      el('td', {}, el('button', { type: 'button', class: 'add-faq', onclick: () => openEditor(g.question) }, t.addFaq)))))));
}

function slug(s) {
  const base = s.toLowerCase().normalize('NFKC').replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '').slice(0, 48);
  return 'faq-' + (base || 'entry') + '.md';
}

// openEditor opens the document editor, prefilled for an FAQ entry that
// answers question; it uploads through the admin API.
function openEditor(question = '') {
  clear(dialog);
  const name = el('input', { id: 'ed-name', type: 'text', value: question ? slug(question) : 'faq-new.md', maxlength: 120, required: true });
  const title = el('input', { id: 'ed-title', type: 'text', value: question, maxlength: 200, required: true });
  const body = el('textarea', { id: 'ed-body', rows: 10, required: true });
  body.value = question ? `## ${question}\n\n` : '';
  const result = el('div', { id: 'ed-result', role: 'status' });
  const form = el('form', { id: 'editor' },
    el('h2', { id: 'dialog-title', text: t.editor }),
    el('label', { for: 'ed-name', text: t.fileName }), name,
    el('label', { for: 'ed-title', text: t.docTitle }), title,
    el('label', { for: 'ed-body', text: t.body }), body,
    el('div', { class: 'row' }, el('button', { type: 'submit', class: 'primary', text: t.save }),
      el('button', { type: 'button', onclick: () => dialog.close() }, t.close)),
    result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const fname = name.value.trim().endsWith('.md') ? name.value.trim() : name.value.trim() + '.md';
    const text = `---\ntitle: ${title.value.trim().replace(/\n/g, ' ')}\ntype: faq\n---\n\n${body.value}\n`;
    const fd = new FormData();
    fd.append('type', 'faq');
    fd.append('files', new File([text], fname, { type: 'text/markdown' }));
    await sendUpload(fd, result);
  });
  dialog.append(form);
  dialog.showModal();
  body.focus();
}

async function sendUpload(fd, result) {
  clear(result);
  try {
    const s = await upload('/v1/admin/documents', fd);
    showSummary(result, s);
    renderDocs();
  } catch (e) {
    result.append(el('p', { class: 'error', text: `${t.failed} ${e.message}` }));
  }
}

function showSummary(root, s) {
  const gate = s.gate ? (s.gate.passed ? t.gatePassed : t.gateFailed) : t.gateNone;
  root.append(el('h3', { text: t.uploaded }), el('p', { class: 'ok', 'data-upload': 'summary', text: t.summary(s) }),
    el('p', { 'data-upload': 'gate' }, `${t.gate}: ${gate}`),
    s.gate && s.gate.broken && s.gate.broken.length ? el('ul', {}, s.gate.broken.map((b) => el('li', { text: b }))) : null,
    (s.failed || []).length ? el('ul', {}, s.failed.map((f) => el('li', { class: 'error', text: `${f.file || f.path || ''}: ${f.error || f.reason || ''}` }))) : null);
}

let docQuery = '';

async function renderDocs() {
  clear(docsBox);
  const search = el('input', { type: 'search', id: 'doc-search', value: docQuery, maxlength: 200 });
  const sform = el('form', { class: 'row', role: 'search' }, el('label', { for: 'doc-search', text: t.search }), search,
    el('button', { type: 'submit', text: t.apply }));
  sform.addEventListener('submit', (ev) => { ev.preventDefault(); docQuery = search.value.trim(); renderDocs(); });
  const files = el('input', { type: 'file', id: 'up-files', multiple: true, accept: '.md,.markdown,.txt,.html,.htm,.pdf,.csv,.json,.jsonl,.ndjson' });
  const result = el('div', { id: 'up-result', role: 'status' });
  const uform = el('form', { class: 'row', id: 'upload-form' }, el('label', { for: 'up-files', text: t.files }), files,
    el('button', { type: 'submit', class: 'primary', text: t.uploadBtn }),
    el('button', { type: 'button', onclick: () => openEditor('') }, t.editor));
  uform.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!files.files.length) return files.focus();
    const fd = new FormData();
    for (const f of files.files) fd.append('files', f);
    await sendUpload(fd, result);
  });
  const list = el('div', {}, el('p', { class: 'help', text: t.loading }));
  docsBox.append(sform, el('h3', { text: t.upload }), uform, result, list);
  try {
    const q = new URLSearchParams({ limit: '200' });
    if (docQuery) q.set('q', docQuery);
    const d = await get('/v1/admin/documents?' + q);
    clear(list);
    list.append(el('p', { class: 'help', id: 'doc-total' }, `${d.documents.length} / ${d.total}`),
      el('table', { id: 'docs-table' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: t.docId }), el('th', { scope: 'col', text: t.type }),
          el('th', { scope: 'col', class: 'num', text: t.chunks }), el('th', { scope: 'col', text: t.actions }))),
        el('tbody', {}, d.documents.map((doc) => el('tr', {},
          el('td', { text: doc.id }), el('td', { text: doc.type }), el('td', { class: 'num', text: String(doc.chunks) }),
          el('td', {}, el('div', { class: 'row' },
            el('button', { type: 'button', onclick: () => showChunks(doc.id), 'aria-label': `${t.view}: ${doc.id}` }, t.view),
            el('button', { type: 'button', class: 'danger', onclick: () => removeDoc(doc.id), 'aria-label': `${t.remove}: ${doc.id}` }, t.remove))))))));
  } catch (e) {
    fail(list, e);
  }
}

const docPath = (id) => '/v1/admin/documents/' + encodeURIComponent(id);

async function showChunks(id) {
  clear(dialog);
  const body = el('div', {}, el('p', { class: 'help', text: t.loading }));
  dialog.append(el('h2', { id: 'dialog-title', text: t.chunksOf(id) }), body,
    el('button', { type: 'button', onclick: () => dialog.close() }, t.close));
  dialog.showModal();
  try {
    const d = await get(docPath(id));
    clear(body);
    for (const c of d.chunks) {
      body.append(el('section', { class: 'chunk-item' },
        el('h3', { text: `#${c.ordinal}${c.heading ? ' · ' + c.heading : ''} · ${c.tokens} tokens` }),
        el('div', { class: 'chunk', text: c.text })));
    }
  } catch (e) {
    fail(body, e);
  }
}

async function removeDoc(id) {
  if (!confirm(t.confirmDelete(id))) return;
  try {
    await del(docPath(id));
    say(t.deleted);
    renderDocs();
  } catch (e) {
    say(`${t.failed} ${e.message}`);
  }
}

function renderEval() {
  clear(evalBox);
  const out = el('div', { id: 'eval-result', role: 'status' });
  const btn = el('button', { type: 'button', class: 'primary', id: 'run-eval', text: t.runEval });
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    clear(out);
    out.append(el('p', { class: 'help', text: t.evalRunning }));
    try {
      const r = await post('/v1/admin/eval');
      const m = r.report;
      clear(out);
      const figures = [['cases', m.cases], ['hit_at_1', m.hit_at_1], ['hit_at_5', m.hit_at_5], ['mrr_at_10', m.mrr_at_10],
        ['answer_includes_rate', m.answer_includes_rate], ['expect_accuracy', m.expect_accuracy],
        ['escalation_precision', m.escalation_precision], ['escalation_recall', m.escalation_recall],
        ['refusal_accuracy', m.refusal_accuracy], ['forbidden_hits', m.forbidden_hits], ['latency_ms_p50', m.latency_ms_p50]];
      out.append(el('table', { id: 'eval-figures' }, el('tbody', {}, figures.map(([k, v]) => el('tr', {}, el('th', { scope: 'row', text: k }), el('td', { class: 'num', text: String(v) }))))),
        el('h3', { text: `${t.failedCases} (${m.failures.length})` }),
        el('ul', { id: 'eval-failures' }, m.failures.map((f) => el('li', {}, el('strong', { text: f.id + ': ' }), f.reasons.join('; ')))));
    } catch (e) {
      fail(out, e);
    } finally {
      btn.disabled = false;
    }
  });
  evalBox.append(el('p', { class: 'help', text: t.evalHelp }), btn, out);
}

boot();
