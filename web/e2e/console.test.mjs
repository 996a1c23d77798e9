// The agent console in a real browser: an agent signs in with the agent
// key, sees the ticket a shopper's "I want a person" opened, claims it,
// takes the copilot's suggested reply, edits and sends it, notes and
// resolves; the shopper's conversation then holds the reply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { base, agentKey, launch, api, axe, screenshot, errorsOf } from './lib.mjs';

// Signed-in shoppers, so that the tickets opened here do not count against
// the anonymous shoppers' cap on this address.
function shopper(customer) {
  const token = execFileSync(process.env.KEFU_E2E_BIN, ['token', '--data-dir', process.env.KEFU_E2E_DATA, '--customer', customer]).toString().trim();
  return { 'X-Kefu-Customer-Token': token };
}

async function handoff(headers, question, message, locale = 'en') {
  const first = await api('/v1/chat', { method: 'POST', headers, body: { message: question, locale } });
  const esc = await api('/v1/chat', { method: 'POST', headers, body: { conversation_id: first.conversation_id, message, locale } });
  assert.ok(esc.escalated && esc.ticket_id, `"${message}" did not open a ticket: ${JSON.stringify(esc)}`);
  return esc;
}

async function signIn(page, key, path = '/console') {
  await page.goto(base + path);
  await page.locator('#signin-key').fill(key);
  await page.locator('#signin-form button[type=submit]').click();
  await page.locator('#signout').waitFor();
}

test('an agent works a handed-over chat in the console', async () => {
  const who = shopper('C1002');
  const esc = await handoff(who, 'How long do I have to return an item?', 'I want to talk to a person');
  const browser = await launch();
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    const errors = errorsOf(page);
    await signIn(page, agentKey);

    // The key is nowhere in the browser's storage; the cookie is HttpOnly.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes(agentKey), 'the agent key is kept in the browser');
    const cookies = await ctx.cookies();
    const sess = cookies.find((c) => c.name === 'kefu_session');
    assert.ok(sess && sess.httpOnly && sess.sameSite === 'Strict' && !sess.value.includes(agentKey), JSON.stringify(cookies));

    const item = page.locator(`[data-ticket="${esc.ticket_id}"]`);
    await item.waitFor();
    await item.click();
    await page.locator('#transcript li', { hasText: 'I want to talk to a person' }).waitFor();

    // The copilot drafts from the question before the request for a person.
    const draft = page.locator('#draft');
    await draft.waitFor();
    const draftText = (await draft.textContent()).trim();
    assert.match(draftText, /30/, `the suggested reply: ${draftText}`);
    assert.ok(await page.locator('#draft-citations li').count() > 0, 'the suggestion carries no citations');

    await page.locator('#claim').click();
    await page.locator('#ticket-status', { hasText: 'Claimed' }).waitFor();
    await page.locator('#use-suggestion').click();
    const used = (await page.locator('#reply-text').inputValue()).trim();
    assert.equal(used, draftText.replace(/\s*\[\d+\]/g, '').trim(), 'the suggestion, without its [n] markers, is in the reply box');
    const reply = used + ' Anything else I can help with?';
    await page.locator('#reply-text').fill(reply);
    await page.locator('#send').click();
    await page.locator('#transcript li.agent', { hasText: 'Anything else I can help with?' }).waitFor();

    await page.locator('#note-text').fill('Checked the return window with the shopper.');
    await page.locator('#add-note').click();
    await page.locator('#notes li', { hasText: 'Checked the return window' }).waitFor();

    const violations = await axe(page);
    assert.deepEqual(violations.map((v) => `${v.id}: ${v.help}`), []);
    await screenshot(page, 'console-en.png');

    await page.locator('#outcome').selectOption('resolved');
    await page.locator('#resolve').click();
    await page.locator('#ticket-status', { hasText: 'Closed' }).waitFor();

    // The shopper's conversation holds the reply; the note is not in it.
    const conv = await api('/v1/conversations/' + esc.conversation_id, { headers: who });
    const agentMsgs = conv.messages.filter((m) => m.role === 'agent');
    assert.equal(agentMsgs.length, 1);
    assert.equal(agentMsgs[0].content, reply);
    assert.ok(!JSON.stringify(conv).includes('Checked the return window'), 'the internal note reached the shopper');

    // Sign-out ends the session.
    await page.locator('#signout').click();
    await page.locator('#signin-key').waitFor();
    const after = await page.evaluate(async () => (await fetch('/v1/agent/tickets')).status);
    assert.equal(after, 401);
    assert.deepEqual(errors.filter((e) => !/401/.test(e)), []);
  } finally {
    await browser.close();
  }
});

test('the console in Chinese, and a cross-site write is refused', async () => {
  await handoff(shopper('C1003'), '退货期限是多久？', '我要人工客服', 'zh');
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(base + '/console?locale=zh');
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    await page.locator('#signin-key').fill(agentKey);
    await page.locator('#signin-form button[type=submit]').click();
    await page.locator('#signout').waitFor();
    await page.locator('[data-ticket]', { hasText: '退货期限' }).first().click();
    await page.locator('#draft').waitFor();
    assert.ok(await page.locator('#draft-citations li').count() > 0, 'the Chinese suggestion carries no citations');
    assert.equal(await page.locator('#claim').textContent(), '认领');
    const violations = await axe(page);
    assert.deepEqual(violations.map((v) => `${v.id}: ${v.help}`), []);
    await screenshot(page, 'console-zh.png');

    // The page's own write without the CSRF token is refused.
    const status = await page.evaluate(async () => (await fetch('/v1/session', { method: 'DELETE' })).status);
    assert.equal(status, 403);
  } finally {
    await browser.close();
  }
});
