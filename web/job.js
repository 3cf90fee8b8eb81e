// job.js: one job. Its fields, its state timeline (every event of the job since the first,
// live from /v1/events?job=ID&last_event_id=0), its output followed live
// (/output?follow=1) in stdout/stderr tabs, and terminate / rerun / delete after a
// confirmation.
import { api, events, stream } from './api.js';
import { command, confirmAction, duration, ENDED, errorBox, fill, h, stateBadge, timeEl } from './dom.js';

function fields(job) {
  const rows = [
    ['State', stateBadge(job.state)],
    ['Name', job.name || ''],
    ['Command', h('code', {}, command(job))],
    ['Queue', job.queue || 'default'],
    ['Priority', job.priority],
    ['Created', timeEl(job.created_at)],
    ['Started', timeEl(job.started_at)],
    ['Finished', timeEl(job.finished_at)],
    ['Duration', duration(job.started_at, job.finished_at)],
    ['Exit code', job.exit_code],
    ['Signal', job.signal],
    ['Attempt', job.attempt && job.max_attempts ? job.attempt + ' of ' + job.max_attempts : job.attempt],
    ['Worker', job.worker],
    ['PID', job.pid],
    ['Rerun of', job.rerun_of ? h('a', { href: '#/jobs/' + job.rerun_of }, '#' + job.rerun_of) : null],
    ['Schedule', job.schedule],
    ['Error', job.error],
  ];
  return h('dl', { class: 'fields', id: 'job-fields' }, rows
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v instanceof Node ? v : String(v))]));
}

function outputPanel(id, signal) {
  const names = ['stdout', 'stderr'];
  const tabs = [];
  const panels = [];
  const controllers = {};
  const list = h('div', { role: 'tablist', 'aria-label': 'Output streams', class: 'tabs' });
  const box = h('section', { class: 'output', 'aria-labelledby': 'output-title' },
    h('h2', { id: 'output-title' }, 'Output'), list);

  function follow(name, pre) {
    if (controllers[name]) return;
    const ctl = new AbortController();
    controllers[name] = ctl;
    signal.addEventListener('abort', () => ctl.abort(), { once: true });
    pre.dataset.following = 'yes';
    stream('/v1/jobs/' + id + '/output?stream=' + name + '&follow=1', (chunk) => {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(chunk);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }, ctl.signal).then(() => {
      pre.dataset.following = 'ended';
    }, (e) => {
      if (!ctl.signal.aborted) pre.after(errorBox('Output ' + name + ': ' + e.message));
    });
  }

  function select(i) {
    tabs.forEach((t, j) => {
      t.setAttribute('aria-selected', String(i === j));
      t.tabIndex = i === j ? 0 : -1;
      panels[j].hidden = i !== j;
    });
    follow(names[i], panels[i].querySelector('pre'));
  }

  names.forEach((name, i) => {
    const tab = h('button', { type: 'button', role: 'tab', id: 'tab-' + name, 'aria-controls': 'panel-' + name, class: 'tab' }, name);
    tab.addEventListener('click', () => select(i));
    tab.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        const next = (i + (e.key === 'ArrowRight' ? 1 : names.length - 1)) % names.length;
        select(next);
        tabs[next].focus();
      }
    });
    tabs.push(tab);
    list.append(tab);
    const panel = h('div', { role: 'tabpanel', id: 'panel-' + name, 'aria-labelledby': 'tab-' + name, tabindex: '0' },
      h('pre', { class: 'log', id: 'out-' + name, 'aria-live': 'off' }));
    panels.push(panel);
    box.append(panel);
  });
  select(0);
  return box;
}

export function renderJob(view, id, signal) {
  const title = h('h1', {}, 'Job #' + id);
  const fieldBox = h('div', {});
  const errors = h('div', {});
  const notice = h('p', { role: 'status', class: 'muted', id: 'job-notice' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const terminate = h('button', { type: 'button', id: 'btn-terminate', class: 'danger' }, 'Terminate');
  const rerun = h('button', { type: 'button', id: 'btn-rerun' }, 'Rerun');
  const del = h('button', { type: 'button', id: 'btn-delete', class: 'danger' }, 'Delete');
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Job actions' }, terminate, rerun, del);
  let job = null;

  fill(view, h('p', {}, h('a', { href: '#/jobs' }, '← All jobs')), title, actions, notice, errors,
    h('div', { class: 'job-grid' },
      h('section', { 'aria-labelledby': 'fields-title' }, h('h2', { id: 'fields-title' }, 'Fields'), fieldBox),
      h('section', { 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), timeline)),
    outputPanel(id, signal));

  function show(j) {
    job = j;
    title.textContent = 'Job #' + j.id + (j.name ? ' · ' + j.name : '');
    fill(fieldBox, fields(j));
    const ended = ENDED.includes(j.state);
    terminate.disabled = ended;
    del.disabled = !ended;
  }

  async function load() {
    try {
      show(await api('GET', '/v1/jobs/' + id, undefined, signal));
    } catch (e) {
      if (!signal.aborted) fill(errors, errorBox('Could not read job #' + id + ': ' + e.message));
    }
  }

  async function act(what, ask, okLabel, fn) {
    if (!(await confirmAction(ask, okLabel))) return;
    try {
      await fn();
      notice.textContent = what;
    } catch (e) {
      fill(errors, errorBox(e.message));
    }
  }

  terminate.addEventListener('click', () => act('Termination requested.',
    'Terminate job #' + id + '? A running job gets SIGTERM; a queued one is canceled.', 'Terminate',
    async () => { await api('POST', '/v1/jobs/' + id + '/terminate'); }));
  rerun.addEventListener('click', () => act('', 'Run job #' + id + ' again as a new job?', 'Rerun',
    async () => {
      const j = await api('POST', '/v1/jobs/' + id + '/rerun');
      location.hash = '#/jobs/' + j.id;
    }));
  del.addEventListener('click', () => act('', 'Delete job #' + id + ' and its output? This cannot be undone.', 'Delete',
    async () => {
      await api('DELETE', '/v1/jobs/' + id);
      location.hash = '#/jobs';
    }));

  load();
  events('/v1/events?job=' + id + '&last_event_id=0', (ev) => {
    if (ev.event !== 'state' || typeof ev.data !== 'object') return;
    const d = ev.data;
    timeline.append(h('li', { 'data-state': d.state },
      stateBadge(d.state), ' ', timeEl(d.at), d.from ? h('span', { class: 'muted' }, ' from ' + d.from) : '',
      d.detail ? h('span', { class: 'detail' }, ' ' + d.detail) : ''));
    if (!job || job.state !== d.state) load();
  }, () => {}, signal);
}
