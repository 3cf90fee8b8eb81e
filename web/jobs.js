// jobs.js: the jobs list. GET /v1/jobs with the filters, then live: each state event of
// /v1/events updates its row in place, and a job not shown yet brings a reload of the first
// page. Paging goes back with next_before.
import { api, events } from './api.js';
import { command, duration, errorBox, fill, h, stateBadge, timeEl } from './dom.js';

const STATES = ['queued', 'scheduled', 'running', 'succeeded', 'failed', 'timed_out', 'terminated',
  'canceled', 'lost'];

function liveStatus(text, ok) {
  window.dispatchEvent(new CustomEvent('spawnpool:live', { detail: { text, ok } }));
}

function row(job) {
  return h('tr', { 'data-job': job.id },
    h('td', {}, h('a', { href: '#/jobs/' + job.id, 'aria-label': 'Job ' + job.id + (job.name ? ', ' + job.name : '') }, '#' + job.id)),
    h('td', { class: 'st' }, stateBadge(job.state)),
    h('td', { class: 'name' }, job.name || ''),
    h('td', { class: 'cmd' }, h('code', {}, command(job))),
    h('td', {}, job.queue || 'default'),
    h('td', { class: 'wide' }, timeEl(job.started_at || job.created_at)),
    h('td', { class: 'wide' }, duration(job.started_at, job.finished_at)),
    h('td', { class: 'exit' }, job.exit_code === null || job.exit_code === undefined ? '' : String(job.exit_code)));
}

export function renderJobs(view, signal) {
  const filters = { state: '', queue: '', name: '' };
  const pages = []; // the before= of each page shown (null: the newest)
  let before = null;
  let reloadTimer = null;

  const stateSel = h('select', { id: 'f-state', name: 'state' },
    h('option', { value: '' }, 'any'), STATES.map((s) => h('option', { value: s }, s)));
  const queueIn = h('input', { id: 'f-queue', name: 'queue', type: 'text', autocomplete: 'off' });
  const nameIn = h('input', { id: 'f-name', name: 'name', type: 'text', autocomplete: 'off', placeholder: 'exact, or prefix*' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    h('div', {}, h('label', { for: 'f-state' }, 'State'), stateSel),
    h('div', {}, h('label', { for: 'f-queue' }, 'Queue'), queueIn),
    h('div', {}, h('label', { for: 'f-name' }, 'Name'), nameIn),
    h('button', { type: 'submit' }, 'Filter'));
  const body = h('tbody', {});
  const table = h('table', { class: 'jobs', id: 'jobs-table' },
    h('caption', { class: 'sr-only' }, 'Jobs, newest first; states change live'),
    h('thead', {}, h('tr', {},
      ['Job', 'State', 'Name', 'Command', 'Queue', 'Started', 'Duration', 'Exit'].map((t, i) =>
        h('th', { scope: 'col', class: i === 5 || i === 6 ? 'wide' : i === 3 ? 'cmd' : null }, t)))),
    body);
  const status = h('p', { class: 'muted', role: 'status', id: 'jobs-status' });
  const newer = h('button', { type: 'button', id: 'page-newer', disabled: true }, 'Newer');
  const older = h('button', { type: 'button', id: 'page-older', disabled: true }, 'Older');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' }, newer, older);
  const errors = h('div', {});
  fill(view, h('h1', {}, 'Jobs'), form, errors, h('div', { class: 'scroll' }, table), status, pager);

  function query() {
    const q = new URLSearchParams();
    if (filters.state) q.set('state', filters.state);
    if (filters.queue) q.set('queue', filters.queue);
    if (filters.name) q.set('name', filters.name);
    q.set('limit', '50');
    if (before) q.set('before', before);
    return '/v1/jobs?' + q;
  }

  async function load() {
    try {
      const res = await api('GET', query(), undefined, signal);
      fill(errors);
      fill(body, res.jobs.map(row));
      const n = res.jobs.length;
      status.textContent = n ? n + (n === 1 ? ' job shown' : ' jobs shown') : 'No jobs match.';
      older.disabled = !res.next_before;
      older.dataset.before = res.next_before || '';
      newer.disabled = pages.length === 0;
    } catch (e) {
      if (!signal.aborted) fill(errors, errorBox('Could not list the jobs: ' + e.message));
    }
  }

  function scheduleReload() {
    if (before !== null || reloadTimer) return; // only the newest page grows
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      if (!signal.aborted) load();
    }, 200);
  }
  signal.addEventListener('abort', () => clearTimeout(reloadTimer), { once: true });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    filters.state = stateSel.value;
    filters.queue = queueIn.value.trim();
    filters.name = nameIn.value.trim();
    pages.length = 0;
    before = null;
    load();
  });
  older.addEventListener('click', () => {
    pages.push(before);
    before = older.dataset.before;
    load();
  });
  newer.addEventListener('click', () => {
    before = pages.pop() || null;
    load();
  });

  load();
  events('/v1/events', (ev) => {
    if (ev.event !== 'state' || typeof ev.data !== 'object') return;
    const tr = body.querySelector('tr[data-job="' + Number(ev.data.id) + '"]');
    const filtered = filters.state && filters.state !== ev.data.state;
    if (tr && !filtered) {
      fill(tr.querySelector('.st'), stateBadge(ev.data.state));
      scheduleReload(); // times, exit code
    } else {
      scheduleReload();
    }
  }, (state, detail) => {
    liveStatus(state === 'live' ? 'Live' : 'Reconnecting… ' + (detail || ''), state === 'live');
  }, signal);
}
