// The shopper's widget in a real browser: streamed, cited answers in
// English and Chinese, feedback that reaches the analytics API, a handoff
// whose agent reply arrives live, 360 px phones, accessibility, reloads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { base, adminKey, agentKey, launch, api, axe, screenshot, errorsOf } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const measured = {};
after(() => {
  // Measured, not asserted: printed for docs/BENCHMARKS.md.
  console.log('widget timings (ms): ' + JSON.stringify(measured));
});

// openWidget loads the landing page, which embeds the widget with its one
// tag, opens it and returns the chat's frame.
async function openWidget(page, locale = 'en') {
  await page.goto(base + '/?locale=' + locale);
  const launcher = page.locator('[data-kefu-widget]').getByRole('button');
  await launcher.click();
  const frame = page.frameLocator('[data-kefu-widget] iframe');
  await frame.locator('#chat-input').waitFor();
  return frame;
}

// ask types a question and waits for its answer to be complete (stored:
// it carries a message id); it returns the answer's list item.
async function ask(frame, question) {
  const before = await frame.locator('.msg-assistant[data-id]').count();
  await frame.locator('#chat-input').fill(question);
  await frame.locator('#chat-input').press('Enter');
  const answer = frame.locator('.msg-assistant[data-id]').nth(before);
  await answer.waitFor({ timeout: 30000 });
  return answer;
}

test('a shopper asks in English and sees the streamed, cited answer', async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  const errors = errorsOf(page);
  const frame = await openWidget(page);
  const t0 = Date.now();
  const answer = await ask(frame, 'How long do I have to return an item?');
  measured.ask_to_answer_en = Date.now() - t0;
  assert.match(await answer.locator('.msg-text').textContent(), /30 days/);
  assert.ok(Number(await answer.getAttribute('data-deltas')) >= 1, 'the answer arrived as streamed deltas');
  // Citations open to show the passage quoted.
  const cite = answer.locator('.cites details').first();
  await cite.locator('summary').click();
  assert.match(await cite.locator('.cite-snippet').textContent(), /30 days/);
  assert.match(await answer.locator('.cites summary').first().textContent(), /Returns/);
  await screenshot(page, 'widget-en.png');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a shopper asks in Chinese on a 360 px phone', async () => {
  const page = await browser.newPage({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const errors = errorsOf(page);
  await page.goto(base + '/chat?locale=zh');
  assert.equal(await page.locator('#chat-send').textContent(), '发送');
  const before = await page.locator('.msg-assistant[data-id]').count();
  await page.locator('#chat-input').fill('退货期限是多久？');
  await page.locator('#chat-send').click();
  const answer = page.locator('.msg-assistant[data-id]').nth(before);
  await answer.waitFor({ timeout: 30000 });
  assert.match(await answer.locator('.msg-text').textContent(), /30天/);
  assert.ok((await answer.locator('.cites li').count()) >= 1, 'the answer is cited');
  // No horizontal scroll, and the input is on screen.
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(fits, 'the chat scrolls sideways at 360 px');
  const box = await page.locator('#chat-input').boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 360 && box.y + box.height <= 740, 'the input is off screen: ' + JSON.stringify(box));
  const send = await page.locator('#chat-send').boundingBox();
  assert.ok(send && send.x + send.width <= 360, 'the send button is off screen');
  await screenshot(page, 'widget-zh.png');
  assert.deepEqual(await axe(page), [], 'axe on the Chinese chat page');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the widget is usable on a 360 px phone when embedded', async () => {
  const page = await browser.newPage({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const frame = await openWidget(page, 'zh');
  const box = await page.locator('[data-kefu-widget] iframe').boundingBox();
  assert.ok(box && box.width <= 360 && box.x >= 0, 'the panel does not fit: ' + JSON.stringify(box));
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  assert.ok(fits, 'the host page scrolls sideways');
  assert.equal(await frame.locator('#chat-send').textContent(), '发送');
  // The chat closes by keyboard, and focus returns to the launcher.
  await frame.locator('#chat-input').press('Escape');
  await page.locator('[data-kefu-widget] iframe').waitFor({ state: 'hidden' });
  await page.close();
});

test('feedback is stored, a handoff is answered live by an agent, and the conversation survives a reload', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  const errors = errorsOf(page);
  const frame = await openWidget(page);
  const answer = await ask(frame, 'Is there free shipping?');
  const messageID = await answer.getAttribute('data-id');

  // Thumbs down with a comment.
  await answer.getByRole('button', { name: 'Not helpful' }).click();
  await answer.locator('.fb-comment').fill('I wanted the minimum order amount');
  await answer.getByRole('button', { name: 'Send feedback' }).click();
  await answer.locator('.fb-form').waitFor({ state: 'hidden' });
  assert.equal(await answer.getByRole('button', { name: 'Not helpful' }).getAttribute('aria-pressed'), 'true');
  const analytics = await api('/v1/admin/analytics?limit=50', { key: adminKey });
  assert.ok(analytics.feedback.down >= 1);
  const stored = analytics.feedback.recent_down.find((r) => r.message_id === messageID);
  assert.ok(stored, 'the thumbs-down is not in the analytics');
  assert.equal(stored.comment, 'I wanted the minimum order amount');

  // Ask for a person.
  const before = await frame.locator('.msg-assistant[data-id]').count();
  await frame.getByRole('button', { name: 'Talk to a person' }).click();
  await frame.locator('.msg-assistant[data-id]').nth(before).waitFor({ timeout: 30000 });
  await frame.locator('#chat-banner').waitFor();
  assert.match(await frame.locator('#chat-banner').textContent(), /person will reply/);

  // An agent claims the ticket and replies through the agent API.
  const conv = await frame.locator('body').evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k.startsWith('kefu.chat.v1:')) return JSON.parse(localStorage.getItem(k)).conv;
    }
    return '';
  });
  assert.ok(conv, 'the conversation is not kept in localStorage');
  const { tickets } = await api('/v1/agent/tickets?status=all', { key: agentKey });
  const ticket = tickets.find((t) => t.conversation_id === conv);
  assert.ok(ticket, 'no ticket for the conversation');
  await api(`/v1/agent/tickets/${ticket.id}/claim`, { key: agentKey, method: 'POST' });
  const reply = 'Hi, this is Alice from support. Orders over $49 ship free.';
  await api(`/v1/agent/tickets/${ticket.id}/reply`, { key: agentKey, method: 'POST', body: { message: reply } });
  const agentMsg = frame.locator('.msg-agent');
  await agentMsg.waitFor({ timeout: 20000 });
  assert.equal(await agentMsg.locator('.msg-text').textContent(), reply);
  assert.match(await frame.locator('#chat-banner').textContent(), /has joined/);
  assert.equal(await frame.locator('#chat-live').textContent(), reply, 'the reply is not announced');
  await screenshot(page, 'widget-handoff-en.png');

  // After a reload the whole conversation is there, once.
  await page.reload();
  await page.locator('[data-kefu-widget]').getByRole('button').click();
  await frame.locator('.msg-agent').waitFor();
  assert.equal(await frame.locator('.msg-agent').count(), 1);
  assert.equal(await frame.locator('.msg-user').count(), 2);
  assert.equal(await frame.locator(`.msg-assistant[data-id="${messageID}"] .fb-down`).getAttribute('aria-pressed'), 'true');
  // And in another tab of the same browser.
  const tab = await context.newPage();
  await tab.goto(base + '/chat');
  await tab.locator('.msg-agent').waitFor();
  assert.equal(await tab.locator('.msg-user').count(), 2);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the landing page and the open widget have no serious accessibility violation', async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  await openWidget(page);
  assert.deepEqual(await axe(page), [], 'axe on the landing page');
  const chat = page.frames().find((f) => f.url().includes('/chat'));
  assert.ok(chat);
  assert.deepEqual(await axe(chat), [], 'axe on the embedded chat');
  await page.close();
});

test('a dropped stream is retried without repeating the turn', async () => {
  const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
  let cut = 0;
  // The first attempt's connection fails after the server stored the
  // message (the request goes through, the answer is lost).
  await page.route('**/v1/chat', async (route) => {
    if (cut++ === 0) {
      await route.fetch();
      await route.abort('connectionreset');
      return;
    }
    await route.continue();
  });
  await page.goto(base + '/chat');
  await page.locator('#chat-input').fill('What payment methods do you accept?');
  await page.locator('#chat-input').press('Enter');
  const answer = page.locator('.msg-assistant[data-id]');
  await answer.waitFor({ timeout: 30000 });
  assert.ok(cut >= 2, 'the turn was not retried');
  const conv = await page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k.startsWith('kefu.chat.v1:')) return JSON.parse(localStorage.getItem(k)).conv;
    }
    return '';
  });
  const stored = await api('/v1/conversations/' + conv);
  assert.equal(stored.messages.filter((m) => m.role === 'user').length, 1, 'the retried turn was stored twice');
  assert.equal(await page.locator('.msg-user').count(), 1);
  assert.equal(await answer.locator('.msg-text').textContent(), stored.messages.find((m) => m.role === 'assistant').content);
  await page.close();
});

test('time to first streamed word and first render (measured)', async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  await page.goto(base + '/?locale=en');
  await page.waitForFunction(() => performance.getEntriesByName('kefu-widget-rendered').length > 0);
  measured.loader_first_render = await page.evaluate(() => {
    const js = performance.getEntriesByType('resource').find((e) => e.name.includes('widget.js'));
    return Math.round(performance.getEntriesByName('kefu-widget-rendered')[0].startTime - js.responseEnd);
  });
  const frameHandle = page.frames().find((f) => f.url().includes('/chat'));
  await frameHandle.waitForFunction(() => performance.getEntriesByName('kefu-chat-rendered').length > 0);
  const hostLoaded = await page.evaluate(() => performance.timeOrigin + performance.getEntriesByType('resource').find((e) => e.name.includes('widget.js')).responseEnd);
  const chatRendered = await frameHandle.evaluate(() => performance.timeOrigin + performance.getEntriesByName('kefu-chat-rendered')[0].startTime);
  measured.chat_first_render_after_loader = Math.round(chatRendered - hostLoaded);
  await page.locator('[data-kefu-widget]').getByRole('button').click();
  const frame = page.frameLocator('[data-kefu-widget] iframe');
  await frame.locator('#chat-input').fill('Do you ship to Canada?');
  const first = await frameHandle.evaluate(() => new Promise((resolve) => {
    const log = document.getElementById('chat-log');
    let start = 0;
    const obs = new MutationObserver(() => {
      const last = log.querySelector('.msg-assistant:last-child');
      if (start && last && last.dataset.deltas) { obs.disconnect(); resolve(performance.now() - start); }
    });
    obs.observe(log, { subtree: true, childList: true, characterData: true, attributes: true });
    start = performance.now();
    document.getElementById('chat-form').requestSubmit();
  }));
  measured.first_streamed_word = Math.round(first);
  await frame.locator('.msg-assistant[data-id]').last().waitFor();
  await page.close();
});

test('text from the shopper and the model is shown as text, never as markup', async () => {
  const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
  let dialogs = 0;
  page.on('dialog', (d) => { dialogs++; d.dismiss(); });
  await page.goto(base + '/chat');
  const attack = '<img src=x onerror="alert(1)"> <b>bold</b> return policy?';
  await page.locator('#chat-input').fill(attack);
  await page.locator('#chat-input').press('Enter');
  await page.locator('.msg-assistant[data-id]').waitFor({ timeout: 30000 });
  assert.equal(await page.locator('.msg-user .msg-text').textContent(), attack);
  assert.equal(await page.locator('#chat-log img, #chat-log b').count(), 0);
  assert.equal(dialogs, 0);
  await page.close();
});

// A shop's page on another origin (another port of this machine), with
// styles that would break a chat that shared its document.
async function shopPage(attrs) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><html><head><style>* { color: red !important; font-size: 40px !important; }
      iframe { border: 20px solid red !important; }</style></head>
      <body><h1>Product page</h1><script src="${base}/kefu/widget.js" ${attrs} async></script></body></html>`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const page = await browser.newPage({ viewport: { width: 1000, height: 720 } });
  page.on('close', () => server.close());
  await page.goto(`http://127.0.0.1:${server.address().port}/product`);
  return page;
}

test('on a shop page the widget sends the page product with every question, and host styles do not reach it', async () => {
  const page = await shopPage('data-locale="en" data-product-id="LM-HP-001"');
  const bodies = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/chat') && r.method() === 'POST') bodies.push(JSON.parse(r.postData())); });
  const launcher = page.locator('[data-kefu-widget]').getByRole('button');
  await launcher.click();
  assert.equal(await launcher.evaluate((b) => getComputedStyle(b).fontSize), '15px');
  assert.equal(await page.locator('[data-kefu-widget] iframe').evaluate((f) => getComputedStyle(f).borderTopWidth), '0px');
  const frame = page.frameLocator('[data-kefu-widget] iframe');
  assert.equal(await frame.locator('#chat-input').evaluate((e) => getComputedStyle(e).fontSize), '15px');
  await ask(frame, 'How long does the battery last?');
  await ask(frame, 'Does it come with a case?');
  assert.equal(bodies.length, 2);
  for (const b of bodies) assert.equal(b.product_id, 'LM-HP-001');
  await page.close();
});

test('rate limits and going offline are said plainly, and the message is sent afterwards', async () => {
  const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
  let limited = 0;
  await page.route('**/v1/chat', (route) => {
    if (limited++ === 0) {
      return route.fulfill({ status: 429, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' },
        body: '{"error":{"code":"rate_limited","message":"too many requests"}}' });
    }
    return route.continue();
  });
  await page.goto(base + '/chat');
  await page.locator('#chat-input').fill('Do you ship to Canada?');
  await page.locator('#chat-input').press('Enter');
  await page.getByText('Too many messages at once. Please wait 1 s').waitFor();
  await page.locator('.msg-assistant[data-id]').waitFor({ timeout: 30000 });

  await page.context().setOffline(true);
  await page.locator('#chat-input').fill('And to Mexico?');
  await page.locator('#chat-input').press('Enter');
  await page.getByText('You are offline').waitFor();
  await page.context().setOffline(false);
  await page.locator('.msg-assistant[data-id]').nth(1).waitFor({ timeout: 30000 });
  assert.equal(await page.locator('.msg-user').count(), 2);
  await page.close();
});

test('a reload in the middle of a turn finishes it once', async () => {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const page = await context.newPage();
  await page.goto(base + '/chat');
  await page.locator('#chat-input').fill('Do you ship to Canada?');
  await page.locator('#chat-input').press('Enter');
  await page.locator('.msg-assistant[data-id]').waitFor({ timeout: 30000 });
  const conv = await page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k.startsWith('kefu.chat.v1:')) return JSON.parse(localStorage.getItem(k)).conv;
    }
    return '';
  });
  // The next turn is stored by the server but its answer never reaches
  // the page, which is reloaded while it waits.
  let first = true;
  await page.route('**/v1/chat', async (route) => {
    if (first) {
      first = false;
      route.fetch().catch(() => {}); // the server answers and stores the turn; the page never hears of it
      return;
    }
    await route.continue();
  });
  await page.locator('#chat-input').fill('Can I pay with PayPal?');
  await page.locator('#chat-input').press('Enter');
  for (let i = 0; i < 100; i++) {
    const { messages } = await api('/v1/conversations/' + conv);
    if (messages.length >= 4) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.reload();
  await page.locator('.msg-assistant[data-id]').nth(1).waitFor({ timeout: 30000 });
  await page.waitForFunction(() => !document.querySelector('[aria-busy=true]'));
  assert.equal(await page.locator('.msg-user').count(), 2);
  assert.equal(await page.locator('.msg-assistant[data-id]').count(), 2);
  const { messages } = await api('/v1/conversations/' + conv);
  assert.equal(messages.filter((m) => m.role === 'user').length, 2, 'the interrupted turn was stored twice');
  await context.close();
});

test("a signed-in shopper's token goes with the widget, and the answer is about their own orders", async () => {
  const { execFileSync } = await import('node:child_process');
  const token = execFileSync(process.env.KEFU_E2E_BIN, ['token', '--data-dir', process.env.KEFU_E2E_DATA, '--customer', 'C1001'], { encoding: 'utf8' }).trim();
  const page = await shopPage(`data-locale="en" data-customer-token="${token}"`);
  await page.locator('[data-kefu-widget]').getByRole('button').click();
  const frame = page.frameLocator('[data-kefu-widget] iframe');
  const answer = await ask(frame, 'Where is my order?');
  assert.match(await answer.locator('.msg-text').textContent(), /W261119-1005/);
  await page.close();
});

test("an agent's reply written while the message stream was down arrives when it reconnects", async () => {
  const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
  // The message stream fails (a flaky network) until the agent has replied.
  let replied = false;
  let dropped = 0;
  await page.route('**/messages*', (route) => {
    if (!replied) { dropped++; return route.abort('connectionreset'); }
    return route.continue();
  });
  await page.goto(base + '/chat');
  await page.locator('#chat-input').fill('I want to talk to a person please');
  await page.locator('#chat-input').press('Enter');
  await page.locator('.msg-assistant[data-id]').waitFor({ timeout: 30000 });
  const conv = await page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k.startsWith('kefu.chat.v1:')) return JSON.parse(localStorage.getItem(k)).conv;
    }
    return '';
  });
  const { tickets } = await api('/v1/agent/tickets?status=all', { key: agentKey });
  const ticket = tickets.find((t) => t.conversation_id === conv);
  assert.ok(ticket, 'no ticket for the conversation');
  for (let i = 0; i < 100 && dropped === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(dropped >= 1, 'the page did not open its message stream');
  const reply = 'Sorry for the wait, I am looking at it now.';
  await api(`/v1/agent/tickets/${ticket.id}/reply`, { key: agentKey, method: 'POST', body: { message: reply } });
  replied = true;
  await page.locator('.msg-agent').waitFor({ timeout: 40000 });
  assert.equal(await page.locator('.msg-agent .msg-text').textContent(), reply);
  assert.equal(await page.locator('.msg-agent').count(), 1);
  await page.close();
});
