// pool.js: the queues, workers and schedules views, each polled every 2 s while shown.
// Queues pause/resume and take a concurrency; schedules pause/resume.
import { api } from './api.js';
import { errorBox, every, fill, h, timeEl } from './dom.js';

function table(id, caption, heads, rows) {
  return h('div', { class: 'scroll' }, h('table', { id },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}

// Renders title + a table polled from path; build(list, refresh) makes its rows.
function polled(view, signal, title, path, key, build) {
  const box = h('div', {});
  const errors = h('div', {});
  const status = h('p', { role: 'status', class: 'muted' });
  fill(view, h('h1', {}, title), errors, status, box);
  let busy = false; // no refresh while a change is being sent
  async function refresh() {
    try {
      const res = await api('GET', path, undefined, signal);
      if (!busy) fill(box, build(res[key], refresh, status, errors));
    } catch (e) {
      if (!signal.aborted) fill(errors, errorBox('Could not read ' + path + ': ' + e.message));
    }
  }
  every(2000, () => {
    if (!box.contains(document.activeElement) || document.activeElement.tagName === 'BUTTON') refresh();
  }, signal);
  return refresh;
}

async function change(path, body, status, errors, done, refresh) {
  try {
    await api('PATCH', path, body);
    status.textContent = done;
    fill(errors);
  } catch (e) {
    fill(errors, errorBox(e.message));
  }
  refresh();
}

export function renderQueues(view, signal) {
  polled(view, signal, 'Queues', '/v1/queues', 'queues', (queues, refresh, status, errors) => {
    if (!queues.length) return h('p', {}, 'No queues yet: a queue appears with its first job or setting.');
    return table('queues-table', 'Queues', ['Queue', 'Queued', 'Running', 'Concurrency', 'Paused', 'Actions'],
      queues.map((q) => {
        const path = '/v1/queues/' + encodeURIComponent(q.name);
        const inputId = 'conc-' + q.name.replace(/[^A-Za-z0-9_-]/g, '_');
        const conc = h('input', { id: inputId, type: 'number', min: '1', inputmode: 'numeric', class: 'num',
          value: q.concurrency === null ? '' : q.concurrency, placeholder: 'no limit' });
        const set = h('form', { class: 'inline' },
          h('label', { for: inputId, class: 'sr-only' }, 'Concurrency of queue ' + q.name),
          conc, h('button', { type: 'submit', 'aria-label': 'Set the concurrency of queue ' + q.name }, 'Set'));
        set.addEventListener('submit', (e) => {
          e.preventDefault();
          const v = conc.value.trim();
          change(path, { concurrency: v === '' ? null : Number(v) }, status, errors,
            'Queue ' + q.name + ': concurrency ' + (v || 'no limit') + '.', refresh);
        });
        const toggle = h('button', { type: 'button', 'data-queue': q.name, class: 'pause',
          'aria-label': (q.paused ? 'Resume' : 'Pause') + ' queue ' + q.name }, q.paused ? 'Resume' : 'Pause');
        toggle.addEventListener('click', () => change(path, { paused: !q.paused }, status, errors,
          'Queue ' + q.name + (q.paused ? ' resumed.' : ' paused.'), refresh));
        return h('tr', { 'data-queue': q.name },
          h('th', { scope: 'row' }, q.name), h('td', {}, String(q.queued)), h('td', {}, String(q.running)),
          h('td', {}, set), h('td', { class: 'paused' }, q.paused ? 'paused' : 'no'), h('td', {}, toggle));
      }));
  });
}

export function renderWorkers(view, signal) {
  polled(view, signal, 'Workers', '/v1/workers', 'workers', (workers) =>
    table('workers-table', 'Workers', ['Worker', 'State', 'Current job', 'Jobs done', 'PID', 'Started'],
      workers.map((w) => h('tr', {},
        h('th', { scope: 'row' }, '#' + w.index),
        h('td', {}, h('span', { class: 'wstate wstate-' + w.state }, w.state)),
        h('td', {}, w.job ? h('a', { href: '#/jobs/' + w.job }, '#' + w.job) : '—'),
        h('td', {}, String(w.jobs_done)),
        h('td', {}, w.pid ? String(w.pid) : ''),
        h('td', {}, timeEl(w.started_at))))));
}

export function renderSchedules(view, signal) {
  polled(view, signal, 'Schedules', '/v1/schedules', 'schedules', (schedules, refresh, status, errors) => {
    if (!schedules.length) return h('p', {}, 'No schedules. Make one with POST /v1/schedules or spawnpool schedule add.');
    return table('schedules-table', 'Schedules',
      ['Schedule', 'Cron', 'Time zone', 'Next run', 'Last job', 'Runs', 'Skipped', 'Paused', 'Actions'],
      schedules.map((s) => {
        const toggle = h('button', { type: 'button', 'aria-label': (s.paused ? 'Resume' : 'Pause') + ' schedule ' + s.name },
          s.paused ? 'Resume' : 'Pause');
        toggle.addEventListener('click', () => change('/v1/schedules/' + encodeURIComponent(s.name),
          { paused: !s.paused }, status, errors, 'Schedule ' + s.name + (s.paused ? ' resumed.' : ' paused.'), refresh));
        return h('tr', { 'data-schedule': s.name },
          h('th', { scope: 'row' }, s.name), h('td', {}, h('code', {}, s.cron)), h('td', {}, s.timezone),
          h('td', {}, timeEl(s.next_run_at)),
          h('td', {}, s.last_job_id ? h('a', { href: '#/jobs/' + s.last_job_id }, '#' + s.last_job_id) : '—'),
          h('td', {}, String(s.runs ?? '')), h('td', {}, String(s.skipped ?? '')),
          h('td', {}, s.paused ? 'paused' : 'no'), h('td', {}, toggle));
      }));
  });
}
