// dom.js: building the page from data without innerHTML (job names and commands are
// anyone's text), and the small formatting helpers the views share.

// h('a', {href: '#/jobs', class: 'x'}, 'text', child...): an element. Attributes starting
// with "on" are listeners; false/null/undefined attributes and children are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces el's children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A job's state as a badge (colour by class; the word is the text, for everyone).
export function stateBadge(state) {
  return h('span', { class: 'state state-' + state, 'data-state': state }, state);
}

export const ENDED = ['succeeded', 'failed', 'timed_out', 'terminated', 'canceled', 'lost'];

// "2026-01-02T03:04:05.678Z" -> local "03:04:05" today, else "Jan 2 03:04".
export function when(t) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

// A time element with the full date for machines and tooltips.
export function timeEl(t) {
  if (!t) return '';
  return h('time', { datetime: t, title: t }, when(t));
}

// Seconds between two times, as "1.2 s", "3 min 4 s".
export function duration(from, to) {
  if (!from) return '';
  const ms = (to ? new Date(to) : new Date()) - new Date(from);
  if (!(ms >= 0)) return '';
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
  const m = Math.floor(ms / 60000);
  return m + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
}

// The command a job runs, for display.
export function command(job) {
  if (job.task) return 'task ' + job.task;
  if (Array.isArray(job.argv)) return job.argv.join(' ');
  return job.command || '';
}

// An error or notice line (role=alert so screen readers hear it).
export function errorBox(message) {
  return h('p', { class: 'error', role: 'alert' }, message);
}

// Calls fn every ms until signal aborts (and once now).
export function every(ms, fn, signal) {
  fn();
  const t = setInterval(fn, ms);
  signal.addEventListener('abort', () => clearInterval(t), { once: true });
}

// Asks to confirm with the page's <dialog>; resolves true for Confirm.
export function confirmAction(message, okLabel) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = message;
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  ok.textContent = okLabel || 'Confirm';
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const done = (answer) => {
      ok.removeEventListener('click', yes);
      cancel.removeEventListener('click', no);
      dlg.removeEventListener('cancel', no);
      dlg.close();
      if (opener && opener.focus) opener.focus();
      resolve(answer);
    };
    const yes = () => done(true);
    const no = (e) => {
      if (e) e.preventDefault();
      done(false);
    };
    ok.addEventListener('click', yes);
    cancel.addEventListener('click', no);
    dlg.addEventListener('cancel', no);
    dlg.showModal();
    cancel.focus();
  });
}
