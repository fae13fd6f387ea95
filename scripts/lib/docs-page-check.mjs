// Drives a headless Chromium over the DevTools protocol (Node's built-in
// WebSocket; no npm packages): opens the gateway's docs page, waits until
// every path of the OpenAPI document is rendered, fails on any console
// error, uncaught exception or CSP violation, and saves a screenshot.
//
// Usage: node --experimental-websocket docs-page-check.mjs DEVTOOLS_PORT GATEWAY_URL DOCS_PATH OPENAPI_PATH PNG
import { writeFileSync } from 'node:fs';

const [devtoolsPort, base, docsPath, openapiPath, png] = process.argv.slice(2);
const deadline = Date.now() + 60_000;

const targets = await (await fetch(`http://127.0.0.1:${devtoolsPort}/json/list`)).json();
const page = targets.find((t) => t.type === 'page');
if (!page) throw new Error('no page target in the browser');

const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((ok, fail) => {
  ws.onopen = ok;
  ws.onerror = () => fail(new Error('cannot connect to the DevTools socket'));
});
let nextId = 1;
const pending = new Map();
const errors = [];
const events = [];
ws.onmessage = (msg) => {
  const m = JSON.parse(msg.data);
  if (m.id && pending.has(m.id)) {
    const { ok, fail } = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) fail(new Error(`${m.error.message} (${m.error.code})`));
    else ok(m.result);
    return;
  }
  events.push(m.method);
  if (m.method === 'Runtime.consoleAPICalled' && (m.params.type === 'error' || m.params.type === 'assert')) {
    errors.push(`console.${m.params.type}: ${m.params.args.map((a) => a.value ?? a.description).join(' ')}`);
  } else if (m.method === 'Runtime.exceptionThrown') {
    const d = m.params.exceptionDetails;
    errors.push(`exception: ${d.exception?.description ?? d.text}`);
  } else if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error') {
    errors.push(`log (${m.params.entry.source}): ${m.params.entry.text} ${m.params.entry.url ?? ''}`);
  }
};
const send = (method, params = {}) =>
  new Promise((ok, fail) => {
    const id = nextId++;
    pending.set(id, { ok, fail });
    ws.send(JSON.stringify({ id, method, params }));
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const evaluate = async (expression) =>
  (await send('Runtime.evaluate', { expression, returnByValue: true })).result.value;

await send('Runtime.enable');
await send('Log.enable');
await send('Page.enable');
await send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 1800, deviceScaleFactor: 1, mobile: false });

const doc = await (await fetch(base + openapiPath)).json();
const paths = Object.keys(doc.paths);
const nav = await send('Page.navigate', { url: base + docsPath });
if (nav.errorText) throw new Error(`navigation failed: ${nav.errorText}`);

// Wait for Swagger UI to render an operation block for every path
// (deprecated operations have their own class).
let rendered = [];
for (;;) {
  rendered = await evaluate(
    "Array.from(document.querySelectorAll('.opblock-summary-path, .opblock-summary-path__deprecated')).map(e => e.getAttribute('data-path'))",
  ).catch(() => []);
  if (paths.every((p) => rendered.includes(p))) break;
  if (Date.now() > deadline) {
    throw new Error(`paths not rendered within 60 s: ${paths.filter((p) => !rendered.includes(p)).join(', ')}; errors: ${errors.join(' | ')}`);
  }
  await sleep(200);
}
const title = await evaluate("document.querySelector('.info .title')?.textContent ?? ''");
// Let late errors (failed loads after render) arrive.
await sleep(500);
const shot = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true });
writeFileSync(png, Buffer.from(shot.data, 'base64'));
ws.close();

const summary = { title, paths: paths.length, rendered: rendered.length, errors, screenshot: png };
console.log(JSON.stringify(summary));
if (!title.startsWith(doc.info.title)) {
  console.error(`title "${title}" does not show "${doc.info.title}"`);
  process.exit(1);
}
if (errors.length) {
  console.error(`console errors:\n  ${errors.join('\n  ')}`);
  process.exit(1);
}
