// app.js: the dashboard's shell. Hash routes (#/jobs, #/jobs/42, #/queues, #/workers,
// #/schedules) each render into #view; leaving a view aborts its streams and timers.
// Without a usable token the sign-in form shows instead.
import { api, setToken, token } from './api.js';
import { startChart } from './chart.js';
import { fill } from './dom.js';
import { renderJob } from './job.js';
import { renderJobs } from './jobs.js';
import { renderQueues, renderSchedules, renderWorkers } from './pool.js';

const routes = [
  [/^#\/jobs\/(\d+)$/, (m) => ['jobs', 'Job ' + m[1], (el, sig) => renderJob(el, Number(m[1]), sig)]],
  [/^#\/queues$/, () => ['queues', 'Queues', renderQueues]],
  [/^#\/workers$/, () => ['workers', 'Workers', renderWorkers]],
  [/^#\/schedules$/, () => ['schedules', 'Schedules', renderSchedules]],
  [/^#\/jobs(\?.*)?$/, () => ['jobs', 'Jobs', renderJobs]],
];

let current = null; // the AbortController of the view shown
let chartStarted = false;

function live(text, ok) {
  const el = document.getElementById('live');
  el.textContent = text;
  el.classList.toggle('bad', !ok);
}
window.addEventListener('spawnpool:live', (e) => live(e.detail.text, e.detail.ok));

function route() {
  if (current) current.abort();
  current = new AbortController();
  const hash = location.hash || '#/jobs';
  let match = null;
  for (const [re, make] of routes) {
    const m = hash.match(re);
    if (m) {
      match = make(m);
      break;
    }
  }
  if (!match) {
    match = routes[routes.length - 1][1]();
  }
  const [section, title, render] = match;
  document.title = title + ' · spawnpool';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = document.getElementById('view');
  fill(view);
  render(view, current.signal);
  if (!chartStarted) {
    chartStarted = true;
    startChart();
  }
}

function showLogin(message) {
  if (current) current.abort();
  current = null;
  fill(document.getElementById('view'));
  const form = document.getElementById('login');
  form.hidden = false;
  document.getElementById('login-error').textContent = message || '';
  document.getElementById('forget').hidden = true;
  live('Signed out', false);
  document.getElementById('token').focus();
}

// Tries the token (or none) on a cheap authenticated call; shows the app or the form.
async function start() {
  try {
    await api('GET', '/v1/queues');
  } catch (e) {
    if (e.status === 401) {
      showLogin(token() ? 'The server refused this token.' : '');
      return;
    }
    live('Server unreachable: ' + e.message, false);
  }
  document.getElementById('login').hidden = true;
  document.getElementById('forget').hidden = !token();
  route();
}

document.getElementById('login').addEventListener('submit', (e) => {
  e.preventDefault();
  setToken(document.getElementById('token').value.trim());
  document.getElementById('token').value = '';
  start();
});
document.getElementById('forget').addEventListener('click', () => {
  setToken('');
  showLogin('');
});
window.addEventListener('spawnpool:unauthorized', () => {
  if (!document.getElementById('login').hidden) return;
  showLogin(token() ? 'The server refused this token.' : '');
});
// the skip link moves focus only: its #main is no route
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', () => {
  if (document.getElementById('login').hidden) {
    route();
    document.getElementById('main').focus();
  }
});
start();
