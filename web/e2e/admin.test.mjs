// The admin dashboard in a real browser: its figures equal the analytics
// API's for the same period, feedback given through the API shows in it,
// a knowledge gap opens the FAQ editor that uploads through the admin API,
// documents can be searched and their chunks read, and the golden set runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, adminKey, agentKey, launch, api, axe, screenshot, errorsOf } from './lib.mjs';

const day = (d) => d.toISOString().slice(0, 10);

async function signIn(page, path) {
  await page.goto(base + path);
  await page.locator('#signin-key').fill(adminKey);
  await page.locator('#signin-form button[type=submit]').click();
  await page.locator('#signout').waitFor();
}

const kpi = async (page, key) => (await page.locator(`[data-kpi="${key}"] .v`).textContent()).trim();

test('the dashboard shows the analytics API figures, feedback and gaps', async () => {
  // An answer rated up and one rated down, and a question the shop cannot answer.
  const a = await api('/v1/chat', { method: 'POST', body: { message: 'Do you offer free shipping?', locale: 'en' } });
  await api(`/v1/conversations/${a.conversation_id}/feedback`, { method: 'POST', body: { message_id: a.message_id, rating: 'up' } });
  const b = await api('/v1/chat', { method: 'POST', body: { message: 'How long do I have to return an item?', locale: 'en' } });
  await api(`/v1/conversations/${b.conversation_id}/feedback`, { method: 'POST', body: { message_id: b.message_id, rating: 'down', comment: 'too short' } });
  const gapQ = 'Do you sell replacement drone propellers for the XR-9?';
  await api('/v1/chat', { method: 'POST', body: { message: gapQ, locale: 'en' } });
  const esc = await api('/v1/chat', { method: 'POST', body: { message: 'I want to talk to a person', locale: 'en' } });
  assert.ok(esc.escalated, JSON.stringify(esc));

  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = errorsOf(page);
    await signIn(page, '/admin');
    await page.locator('[data-kpi="conversations"]').waitFor();

    // The same period as the form's default: the last 7 days through today.
    const today = new Date();
    const from = day(new Date(today.getTime() - 6 * 864e5));
    const to = day(new Date(today.getTime() + 864e5));
    const p = await api(`/v1/admin/analytics/period?from=${from}&to=${to}`, { key: adminKey });
    assert.ok(p.conversations >= 3 && p.feedback.up >= 1 && p.feedback.down >= 1, JSON.stringify(p));
    const pct = (r) => `${(r * 100).toFixed(1)}%`;
    assert.equal(await kpi(page, 'conversations'), String(p.conversations));
    assert.equal(await kpi(page, 'resolution_rate'), pct(p.resolution_rate));
    assert.equal(await kpi(page, 'escalation_rate'), pct(p.escalation_rate));
    assert.equal(await kpi(page, 'tickets'), String(p.tickets));
    assert.equal(await kpi(page, 'feedback_up'), String(p.feedback.up));
    assert.equal(await kpi(page, 'feedback_down'), String(p.feedback.down));
    // The charts' figures (their accessible tables) are the API's too.
    const dayRows = await page.locator('[data-chart="chart-days"] tbody tr').allTextContents();
    assert.equal(dayRows.length, p.days.length);
    const intents = await page.locator('[data-chart="chart-intents"] tbody tr').count();
    assert.equal(intents, p.top_intents.length);
    assert.equal(await page.locator('canvas#chart-days').count(), 1);
    assert.ok(await page.evaluate(() => typeof globalThis.Chart === 'function'), 'Chart.js did not load');

    // Feedback given through the API shows: one more "up" and the figure follows.
    const c = await api('/v1/chat', { method: 'POST', body: { message: 'What payment methods do you accept?', locale: 'en' } });
    await api(`/v1/conversations/${c.conversation_id}/feedback`, { method: 'POST', body: { message_id: c.message_id, rating: 'up' } });
    await page.locator('#period-form button[type=submit]').click();
    await page.locator('[data-kpi="feedback_up"] .v', { hasText: String(p.feedback.up + 1) }).waitFor();

    const violations = await axe(page);
    assert.deepEqual(violations.map((v) => `${v.id}: ${v.help}`), []);
    await screenshot(page, 'admin-en.png');

    // The knowledge gaps are the API's; a gap opens the editor prefilled,
    // which uploads an FAQ entry through the admin API. (When the period
    // has no gap, the editor is opened from the documents section.)
    if (p.knowledge_gaps.length) {
      assert.equal(await page.locator('#gaps-table tbody tr').count(), p.knowledge_gaps.length);
      await page.locator('#gaps-table .add-faq').first().click();
      assert.equal(await page.locator('#ed-title').inputValue(), p.knowledge_gaps[0].question);
    } else {
      await page.locator('#no-gaps').waitFor();
      await page.locator('#upload-form button', { hasText: 'Document editor' }).click();
      await page.locator('#ed-title').fill(gapQ);
    }
    await page.locator('#ed-name').fill('faq-do-you-sell-drone-parts.md');
    await page.locator('#ed-body').fill(`## ${gapQ}\n\nNo. We do not sell drones or drone parts.`);
    await page.locator('#editor button[type=submit]').click();
    await page.locator('#ed-result [data-upload="summary"]').waitFor();
    assert.match(await page.locator('#ed-result [data-upload="summary"]').textContent(), /1 documents/);
    await page.locator('#ed-result [data-upload="gate"]').waitFor();
    await page.locator('#editor button[type=button]').click();

    // The library finds it, shows its chunks, and deletes it.
    await page.locator('#doc-search').fill('faq-do-you-sell');
    await page.locator('#doc-search').press('Enter');
    const row = page.locator('#docs-table tbody tr', { hasText: 'faq-do-you-sell' });
    await row.waitFor();
    await row.locator('button', { hasText: 'Chunks' }).click();
    await page.locator('#dialog .chunk', { hasText: 'We do not sell drones' }).waitFor();
    await page.locator('#dialog button', { hasText: 'Close' }).click();
    const listed = await api('/v1/admin/documents?q=faq-do-you-sell', { key: adminKey });
    assert.equal(listed.total, 1);
    page.once('dialog', (d) => d.accept());
    await row.locator('button', { hasText: 'Delete' }).click();
    await page.locator('#docs-table tbody tr', { hasText: 'faq-do-you-sell' }).waitFor({ state: 'detached' });
    assert.equal((await api('/v1/admin/documents?q=faq-do-you-sell', { key: adminKey })).total, 0);

    // The golden set runs and shows its figures and failed cases.
    await page.locator('#run-eval').click();
    await page.locator('#eval-figures').waitFor({ timeout: 120000 });
    const cases = await page.locator('#eval-figures tr', { hasText: 'cases' }).first().locator('td').textContent();
    assert.ok(Number(cases) > 0, `cases: ${cases}`);
    await page.locator('#eval-failures').waitFor({ state: 'attached' });
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  } finally {
    await browser.close();
  }
});

test('the dashboard in Chinese; an agent session cannot reach it', async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await signIn(page, '/admin?locale=zh');
    await page.locator('[data-kpi="conversations"]').waitFor();
    assert.equal(await page.locator('[data-kpi="conversations"] .k').textContent(), '会话数');
    const violations = await axe(page);
    assert.deepEqual(violations.map((v) => `${v.id}: ${v.help}`), []);
    await screenshot(page, 'admin-zh.png');

    // An agent's session reads no analytics: the API refuses it.
    const agent = await browser.newPage();
    await agent.goto(base + '/admin');
    await agent.locator('#signin-key').fill(agentKey);
    await agent.locator('#signin-form button[type=submit]').click();
    await agent.locator('#overview .error').waitFor();
    const status = await agent.evaluate(async () => (await fetch('/v1/admin/analytics/period')).status);
    assert.equal(status, 403);
  } finally {
    await browser.close();
  }
});
