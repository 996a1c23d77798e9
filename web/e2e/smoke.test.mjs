// The screens are served with their headers, and the chat page loads
// without an error under its Content-Security-Policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, launch, errorsOf } from './lib.mjs';

test('pages and assets are served with their headers', async () => {
  for (const path of ['/', '/chat']) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
  }
  const loader = await fetch(base + '/kefu/widget.js');
  assert.equal(loader.status, 200);
  assert.match(loader.headers.get('content-type'), /^text\/javascript/);
});

test('the chat page loads with no error', async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = errorsOf(page);
    await page.goto(base + '/chat');
    await page.getByRole('textbox').waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
