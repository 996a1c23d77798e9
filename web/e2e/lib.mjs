// Shared helpers of the browser tests (run by scripts/browser-tests.sh,
// which sets the KEFU_E2E_* environment).
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests with scripts/browser-tests.sh`);
  return v;
};

export const base = env('KEFU_E2E_BASE');
export const adminKey = env('KEFU_E2E_ADMIN_KEY');
export const agentKey = env('KEFU_E2E_AGENT_KEY');
export const repo = env('KEFU_E2E_REPO');
const modules = env('KEFU_E2E_MODULES');
const require = createRequire(join(modules, 'noop.js'));
export const { chromium } = require('playwright-core');
const axeSource = readFileSync(join(modules, 'axe-core', 'axe.min.js'), 'utf8');

// launch starts headless chromium; close it with browser.close().
export function launch() {
  return chromium.launch({
    executablePath: env('KEFU_E2E_CHROMIUM'),
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

// api calls kefu's HTTP API with a key (or none) and returns the parsed
// JSON body; a status other than 2xx throws with the body.
export async function api(path, { key, method = 'GET', body, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = 'Bearer ' + key;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// axe runs axe-core on the page (or a frame) and returns the violations of
// the given impacts.
export async function axe(target, impacts = ['serious', 'critical']) {
  await target.evaluate(axeSource);
  const result = await target.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.filter((v) => impacts.includes(v.impact));
}

// screenshot saves a picture under docs/screens/ when KEFU_E2E_SCREENSHOTS=1.
export async function screenshot(target, name) {
  if (process.env.KEFU_E2E_SCREENSHOTS !== '1') return;
  const dir = join(repo, 'docs', 'screens');
  mkdirSync(dir, { recursive: true });
  await target.screenshot({ path: join(dir, name) });
}

// errorsOf collects a page's console errors and failed CSP checks, for a
// test to assert that there were none.
export function errorsOf(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}
