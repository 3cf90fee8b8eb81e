// chart.js: a small live chart (inline SVG, no library) of throughput (jobs finished per
// second, from /metrics' spawnpool_jobs_finished_total) and queue depth (/healthz' jobs
// queued), sampled every 2 s over the last 2 minutes. A text line says the same for screen
// readers.
import { text } from './api.js';

const N = 60;
const W = 300;
const H = 80;
const SVG = 'http://www.w3.org/2000/svg';

function finishedTotal(metrics) {
  let sum = 0;
  for (const line of metrics.split('\n'))
    if (line.startsWith('spawnpool_jobs_finished_total')) sum += Number(line.split(' ').pop()) || 0;
  return sum;
}

function line(values, max, cls) {
  const el = document.createElementNS(SVG, 'polyline');
  const step = W / (N - 1);
  const offset = N - values.length;
  el.setAttribute('points', values.map((v, i) =>
    ((offset + i) * step).toFixed(1) + ',' + (H - 2 - (v / max) * (H - 6)).toFixed(1)).join(' '));
  el.setAttribute('class', cls);
  el.setAttribute('fill', 'none');
  return el;
}

export function startChart() {
  const svg = document.getElementById('chart');
  const caption = document.getElementById('chart-text');
  const rate = [];
  const depth = [];
  let last = null;
  async function sample() {
    try {
      const [m, health] = await Promise.all([text('/metrics'), fetch('/healthz', { cache: 'no-store' }).then((r) => r.json())]);
      const total = finishedTotal(m);
      const now = performance.now();
      if (last) rate.push(Math.max(0, (total - last.total) / ((now - last.at) / 1000)));
      last = { total, at: now };
      depth.push((health.jobs && health.jobs.queued) || 0);
      while (rate.length > N) rate.shift();
      while (depth.length > N) depth.shift();
      const max = Math.max(1, ...rate, ...depth);
      svg.replaceChildren(line(depth, max, 'depth'), line(rate, max, 'done'));
      const r = rate.length ? rate[rate.length - 1] : 0;
      caption.textContent = 'Now ' + r.toFixed(1) + ' jobs finished per second, ' +
        depth[depth.length - 1] + ' queued (scale 0 to ' + Math.ceil(max) + ').';
    } catch (e) {
      caption.textContent = 'Chart paused: ' + e.message;
    }
  }
  sample();
  setInterval(sample, 2000);
}
