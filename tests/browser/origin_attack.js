// origin_attack.js: headless Chromium (Debian's) against a running spawnpool server, as a
// web page the machine's user happens to visit. Used by tests/e2e/test_browser.sh.
//
//   node origin_attack.js ports                     prints two free local ports
//   node origin_attack.js run BASE ALLOWED_PORT ATTACK_PORT MARKER_DIR
//
// `run` serves pages on 127.0.0.1:ALLOWED_PORT (the server was started with
// --allow-origin http://127.0.0.1:ALLOWED_PORT) and 127.0.0.1:ATTACK_PORT, reached by the
// browser both as http://attacker.test:ATTACK_PORT (cross-site: Chromium maps the name to
// 127.0.0.1) and as http://127.0.0.1:ATTACK_PORT (same-site, another port). From each
// attacking page it tries every way a page can POST a job (fetch text/plain, fetch no-cors,
// a text/plain form whose field name makes the body JSON, fetch application/json with its
// preflight); each job would touch MARKER_DIR/<vector>. It also plays DNS rebinding (a page
// of http://rebind.test:PORT, the name mapped to the server, posting same-origin), and
// finally the allowed origin submits a job, waits for it and reads it back.
// Prints one JSON object with what each attempt saw; the shell test judges it against
// what the server recorded.
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');
const os = require('os');
const path = require('path');

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// The attacking page: every vector runs on load; window.results holds what it saw.
function attackPage(base, markerDir, label) {
  const job = (vector) => JSON.stringify({ argv: ['touch', `${markerDir}/${label}-${vector}`] });
  // a form field named `{"argv":[...],"pad":"` with value `"}` posts `{"argv":[...],"pad":"="}`
  const formJob = JSON.stringify({ argv: ['touch', `${markerDir}/${label}-form`], pad: '' });
  const formName = formJob.slice(0, -2); // up to and with the opening quote of pad's value
  return `<!doctype html><html><head><meta charset="utf-8"><title>attack</title></head><body>
<iframe name="sink" id="sink"></iframe>
<form id="f" method="post" enctype="text/plain" action="${base}/v1/jobs" target="sink">
<input type="hidden" name='${formName.replace(/'/g, '&#39;')}' value='"}'>
</form>
<script>
window.results = {};
async function attempt(name, fn) {
  try { window.results[name] = await fn(); } catch (e) { window.results[name] = 'error: ' + e.message; }
}
window.done = (async () => {
  await attempt('fetch_text_plain', async () => (await fetch(${JSON.stringify(base + '/v1/jobs')},
    { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: ${JSON.stringify(job('text'))} })).status);
  await attempt('fetch_no_cors', async () => (await fetch(${JSON.stringify(base + '/v1/jobs')},
    { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: ${JSON.stringify(job('nocors'))} })).type);
  await attempt('fetch_json', async () => (await fetch(${JSON.stringify(base + '/v1/jobs')},
    { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: ${JSON.stringify(job('json'))} })).status);
  await attempt('form', () => new Promise((resolve) => {
    document.getElementById('sink').addEventListener('load', () => resolve('submitted'), { once: true });
    document.getElementById('f').submit();
  }));
  return window.results;
})();
</script></body></html>`;
}

// The allowed origin's page: a normal cross-origin client of the API.
function allowedPage(base, markerDir) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>allowed</title></head><body><script>
window.done = (async () => {
  const r = {};
  const post = await fetch(${JSON.stringify(base + '/v1/jobs')}, { method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: ${JSON.stringify(JSON.stringify({ argv: ['sh', '-c', `echo from-allowed; touch ${markerDir}/allowed`], name: 'allowed' }))} });
  r.submit_status = post.status;
  r.location = post.headers.get('Location');
  const job = await post.json();
  r.id = job.id;
  const waited = await (await fetch(${JSON.stringify(base)} + '/v1/jobs/' + job.id + '/wait?timeout=60')).json();
  r.state = waited.state;
  r.output = await (await fetch(${JSON.stringify(base)} + '/v1/jobs/' + job.id + '/output')).text();
  return r;
})();
</script></body></html>`;
}

function servePages(port, pages) {
  const server = http.createServer((req, res) => {
    const host = (req.headers.host || '').split(':')[0];
    const page = pages(host, req.url);
    if (page === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function visit(browser, url, timeoutMs) {
  const page = await browser.newPage();
  const log = [];
  page.on('console', (m) => log.push(m.text()));
  let result;
  try {
    await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
    result = await page.evaluate(() => window.done);
  } catch (e) {
    result = { error: e.message, console: log };
  }
  await page.close();
  return result;
}

async function run(base, allowedPort, attackPort, markerDir) {
  const puppeteer = require('puppeteer-core');
  const serverPort = new URL(base).port;
  const pageServers = [
    await servePages(allowedPort, (host, url) => (url === '/allowed.html' ? allowedPage(base, markerDir) : null)),
    await servePages(attackPort, (host, url) =>
      url === '/attack.html' ? attackPage(base, markerDir, host === 'attacker.test' ? 'crosssite' : 'samesite') : null),
  ];
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spawnpool-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP attacker.test 127.0.0.1, MAP rebind.test 127.0.0.1'],
  });
  const out = { chromium: await browser.version() };
  try {
    out.crosssite = await visit(browser, `http://attacker.test:${attackPort}/attack.html`, 30000);
    out.samesite = await visit(browser, `http://127.0.0.1:${attackPort}/attack.html`, 30000);
    // DNS rebinding: the page's own origin now resolves to the server; same-origin requests
    // need no CORS, so only the Host check stands between it and the API
    const rebind = await browser.newPage();
    // the real attacker's page comes from the attacker (before the name moved): the
    // server's own CSP (sandbox, connect-src 'none') on the answer it navigates to is not
    // what stands in the way here, the Host check is
    await rebind.setBypassCSP(true);
    try {
      const nav = await rebind.goto(`http://rebind.test:${serverPort}/healthz`, { timeout: 30000 });
      out.rebind = { navigation_status: nav.status() };
      out.rebind.post_status = await rebind.evaluate(async (dir) => (await fetch('/v1/jobs', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ argv: ['touch', `${dir}/rebind`] }) })).status, markerDir);
    } catch (e) {
      out.rebind = { error: e.message };
    }
    await rebind.close();
    out.allowed = await visit(browser, `http://127.0.0.1:${allowedPort}/allowed.html`, 90000);
  } finally {
    await browser.close();
    pageServers.forEach((s) => s.close());
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

(async () => {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'ports') {
    const first = await freePort();
    let second = await freePort();
    while (second === first) second = await freePort();
    process.stdout.write(`${first} ${second}\n`);
  } else if (mode === 'run' && args.length === 4) {
    await run(args[0], Number(args[1]), Number(args[2]), args[3]);
  } else {
    process.stderr.write('usage: origin_attack.js ports | run BASE ALLOWED_PORT ATTACK_PORT MARKER_DIR\n');
    process.exit(2);
  }
})().catch((e) => {
  process.stderr.write(`origin_attack.js: ${e.stack || e}\n`);
  process.exit(1);
});
