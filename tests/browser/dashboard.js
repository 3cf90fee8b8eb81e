// dashboard.js: headless Chromium (Debian's) through the dashboard at / of a running
// spawnpool server that has a token. Used by tests/e2e/test_dashboard.sh.
//
//   node dashboard.js BASE TOKEN WORK_DIR SHOT_DIR...
//
// Loads the page, types the token, and then, with jobs submitted through the API with
// curl: sees them appear and change state live (no reload), opens one and sees its output
// stream in, terminates one from the page, pauses a queue from the page. Runs axe-core in
// each view (serious or critical violations fail) and saves a screenshot of each view into
// every SHOT_DIR. WORK_DIR holds the files the jobs wait for. Prints "ok - ..." per step and
// a last line of JSON ({ids, violations, chromium}); exits 1 on the first failure.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const [base, token, work, ...shotDirs] = process.argv.slice(2);
if (!base || !token || !work || !shotDirs.length) {
  process.stderr.write('usage: dashboard.js BASE TOKEN WORK_DIR SHOT_DIR...\n');
  process.exit(2);
}
const WAIT = { timeout: 60000, polling: 50 };
const out = { ids: {}, violations: {} };

function ok(what) {
  process.stdout.write(`ok - ${what}\n`);
}

// curl, as a person at a shell would: the API with the token
function curl(method, p, body) {
  const args = ['-sS', '-X', method, '-H', `Authorization: Bearer ${token}`];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
  const text = execFileSync('curl', [...args, base + p], { encoding: 'utf8' });
  return text.trim() ? JSON.parse(text) : null;
}

function submit(spec) {
  const job = curl('POST', '/v1/jobs', spec);
  if (!job || !job.id) throw new Error('submit failed: ' + JSON.stringify(job));
  return job.id;
}

// a shell job that prints, then waits for WORK/<file> (the test's go-ahead), then prints
function gated(file, before, after) {
  const f = path.join(work, file);
  return ['sh', '-c', `${before}; while [ ! -e ${f} ]; do sleep 0.05; done; ${after}`];
}

async function shot(page, name) {
  for (const dir of shotDirs) {
    fs.mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
  }
}

// axe-core in the page (evaluated through DevTools, which the page's CSP does not govern)
async function audit(page, name) {
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!loaded) await page.evaluate(fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  out.violations[name] = result;
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) throw new Error(`axe: ${name}: ${JSON.stringify(bad)}`);
  ok(`axe-core: no serious or critical violation in the ${name} view (${result.length} minor)`);
}

// page.waitForFunction, and on a timeout an error that says what the page showed instead
async function until(page, what, fn, ...args) {
  try {
    await page.waitForFunction(fn, WAIT, ...args);
  } catch (e) {
    const shown = await page.evaluate(() => location.hash + ' ' + document.body.innerText.slice(0, 1500))
      .catch((err) => '? ' + err.message);
    throw new Error(`${what}: ${e.message}; the page showed: ${shown}`);
  }
}

async function stateOfRow(page, id) {
  return page.$eval(`#jobs-table tr[data-job="${id}"] .state`, (e) => e.dataset.state).catch(() => null);
}

async function main() {
  const puppeteer = require('puppeteer-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spawnpool-dashboard-'));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  out.chromium = await browser.version();
  const problems = []; // CSP violations, page errors, failed requests of the page's own
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__csp = (window.__csp || []).concat(e.violatedDirective + ' ' + e.blockedURI);
      });
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) problems.push('console: ' + m.text());
    });

    // 1. the page loads without a token and asks for one
    const res = await page.goto(base + '/', { waitUntil: 'load' });
    if (res.status() !== 200) throw new Error('GET / answered ' + res.status());
    await page.waitForSelector('#login:not([hidden])', { visible: true, timeout: 60000 });
    ok('the page loads without a token and shows the sign-in form');
    await page.type('#token', 'not-the-token');
    await page.click('#login button[type=submit]');
    await until(page, 'the sign-in form says the token was refused', () => /refused/.test(document.getElementById('login-error').textContent));
    ok('a wrong token is refused and said so');
    await page.type('#token', token);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#jobs-table', { timeout: 60000 });
    const stored = await page.evaluate(() => [sessionStorage.getItem('spawnpool.token'), document.cookie]);
    if (stored[0] !== token || stored[1] !== '') throw new Error('token storage: ' + JSON.stringify(stored));
    ok('the token is kept in sessionStorage, no cookie');
    await until(page, 'the jobs view goes live', () => document.getElementById('live').textContent === 'Live');
    ok('the jobs view is live (its event stream is open)');

    // 2. jobs submitted with curl appear and change state, without a reload
    await page.evaluate(() => { window.__noReload = 'still here'; });
    const a = submit({ argv: gated('go-a', 'echo a-started', 'echo a-done'), name: 'live-a', queue: 'web' });
    out.ids.a = a;
    await until(page, 'job a shows running', (id) => {
      const s = document.querySelector(`#jobs-table tr[data-job="${id}"] .state`);
      return s && s.dataset.state === 'running';
    }, a);
    ok(`job ${a} appeared running without a reload`);
    fs.writeFileSync(path.join(work, 'go-a'), '');
    await until(page, 'job a shows succeeded', (id) => {
      const s = document.querySelector(`#jobs-table tr[data-job="${id}"] .state`);
      return s && s.dataset.state === 'succeeded';
    }, a);
    if ((await page.evaluate(() => window.__noReload)) !== 'still here') throw new Error('the page reloaded');
    ok(`job ${a} turned succeeded live, the page never reloaded (${await stateOfRow(page, a)})`);
    await until(page, 'job a shows exit code 0', (id) => {
      const td = document.querySelector(`#jobs-table tr[data-job="${id}"] .exit`);
      return td && td.textContent === '0';
    }, a);
    ok(`its row filled in its exit code`);
    await shot(page, 'jobs');
    await audit(page, 'jobs');

    // filters: by name
    await page.type('#f-name', 'live-a');
    await page.click('.filters button[type=submit]');
    await until(page, 'the name filter', (id) => {
      const rows = document.querySelectorAll('#jobs-table tbody tr');
      return rows.length === 1 && rows[0].dataset.job === String(id);
    }, a);
    ok('the name filter shows only that job');
    await page.$eval('#f-name', (e) => { e.value = ''; });
    await page.click('.filters button[type=submit]');

    // 3. open a job and see its output stream in
    const b = submit({ argv: gated('go-b', 'echo line-one; echo err-one >&2', 'echo line-two'), name: 'streamer' });
    out.ids.b = b;
    await page.waitForSelector(`#jobs-table tr[data-job="${b}"] a`, { timeout: 60000 });
    // a click in the page, not at coordinates: the live list may redraw meanwhile
    await page.$eval(`#jobs-table tr[data-job="${b}"] a`, (link) => link.click());
    await until(page, 'stdout shows line-one', () => /line-one/.test(document.getElementById('out-stdout').textContent));
    ok(`opened job ${b} from the list: its stdout shows line-one while it runs`);
    fs.writeFileSync(path.join(work, 'go-b'), '');
    await until(page, 'stdout shows line-two', () => /line-two/.test(document.getElementById('out-stdout').textContent));
    ok('line-two streamed in after the job went on (follow=1)');
    await until(page, 'the timeline ends running, succeeded', () => {
      const states = [...document.querySelectorAll('#timeline li')].map((l) => l.dataset.state);
      return states.includes('running') && states.indexOf('running') < states.indexOf('succeeded');
    });
    await until(page, 'the fields say succeeded', () => {
      const s = document.querySelector('#job-fields .state');
      return s && s.dataset.state === 'succeeded';
    });
    ok('its timeline ends running, succeeded and its fields say succeeded');
    await page.click('#tab-stderr');
    await until(page, 'the stderr tab shows err-one', () => /err-one/.test(document.getElementById('out-stderr').textContent) &&
      !document.getElementById('panel-stderr').hidden);
    ok('the stderr tab shows err-one');
    await page.click('#tab-stdout');
    await shot(page, 'job');
    await audit(page, 'job');

    // 4. terminate one from the page
    const c = submit({ argv: ['sleep', '300'], name: 'sleeper', queue: 'web' });
    out.ids.c = c;
    await page.goto(base + '/#/jobs/' + c, { waitUntil: 'load' });
    await until(page, 'the fields say running', () => {
      const s = document.querySelector('#job-fields .state');
      return s && s.dataset.state === 'running';
    });
    await page.click('#btn-terminate');
    await page.waitForSelector('#confirm[open]', { visible: true, timeout: 60000 });
    await page.click('#confirm-ok');
    await until(page, 'the fields say terminated', () => {
      const s = document.querySelector('#job-fields .state');
      return s && s.dataset.state === 'terminated';
    });
    ok(`terminated job ${c} from the page (after its confirmation): it shows terminated`);

    // 5. pause a queue from the page
    await page.click('nav a[href="#/queues"]');
    await page.waitForSelector('#queues-table tr[data-queue="web"] button.pause', { timeout: 60000 });
    await page.click('#queues-table tr[data-queue="web"] button.pause');
    await until(page, 'queue web shows paused', () => {
      const td = document.querySelector('#queues-table tr[data-queue="web"] .paused');
      return td && td.textContent === 'paused';
    });
    ok('paused queue web from the page');
    await shot(page, 'queues');
    await audit(page, 'queues');

    // 6. workers and schedules
    await page.click('nav a[href="#/workers"]');
    await page.waitForSelector('#workers-table tbody tr', { timeout: 60000 });
    ok('the workers view lists ' + (await page.$$eval('#workers-table tbody tr', (r) => r.length)) + ' workers');
    await shot(page, 'workers');
    await audit(page, 'workers');
    await page.click('nav a[href="#/schedules"]');
    await page.waitForSelector('#schedules-table tr[data-schedule="nightly"]', { timeout: 60000 });
    ok('the schedules view lists nightly');
    await shot(page, 'schedules');
    await audit(page, 'schedules');

    // 7. keyboard: Tab from the top reaches the skip link and the navigation
    await page.goto(base + '/#/jobs', { waitUntil: 'load' });
    await page.reload({ waitUntil: 'load' }); // focus starts at the top of a fresh page
    await page.waitForSelector('#jobs-table', { timeout: 60000 });
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => document.activeElement.textContent);
    if (first !== 'Skip to content') throw new Error('first Tab stop: ' + first);
    let reached = false;
    for (let i = 0; i < 8 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement.getAttribute('href') === '#/queues');
    }
    if (!reached) throw new Error('Tab never reached the Queues link');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#queues-table', { timeout: 60000 });
    ok('the keyboard alone reaches and opens the queues view');

    // 8. a phone-width window
    await page.setViewport({ width: 375, height: 740, isMobile: true });
    await page.goto(base + '/#/jobs', { waitUntil: 'load' });
    await page.waitForSelector(`#jobs-table tr[data-job="${a}"]`, { timeout: 60000 });
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    if (widths[0] > widths[1] + 1) throw new Error('the narrow page scrolls sideways: ' + widths.join(' > '));
    ok(`at phone width the page fits (${widths[0]} <= ${widths[1]} px)`);
    await shot(page, 'jobs-narrow');
    await audit(page, 'jobs-narrow');

    const csp = await page.evaluate(() => window.__csp || []);
    problems.push(...csp.map((v) => 'CSP violation: ' + v));
    if (problems.length) throw new Error(problems.join('; '));
    ok('no CSP violation and no script error in any view');
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stdout.write(`FAIL: ${e.message}\n`);
  process.stderr.write(`dashboard.js: ${e.stack || e}\n`);
  process.exit(1);
});
