// api.js: the server's HTTP API as the page uses it. The token lives in sessionStorage
// (this tab only) and goes out as Authorization: Bearer; never a cookie. Event streams are
// read with fetch (EventSource cannot send that header).
const KEY = 'spawnpool.token';

export function token() {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

// Signals the app that the token is missing or wrong (it shows the sign-in form).
function unauthorized() {
  window.dispatchEvent(new CustomEvent('spawnpool:unauthorized'));
}

async function failure(res) {
  let code = 'http_' + res.status;
  let message = res.status + ' ' + res.statusText;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code;
      message = body.error.message;
    }
  } catch (e) {
    /* not JSON: keep the status line */
  }
  if (res.status === 401) unauthorized();
  return new ApiError(res.status, code, message);
}

// A JSON request; resolves to the parsed body (null for 204), rejects with ApiError.
export async function api(method, path, body, signal) {
  const init = { method, headers: headers(), signal, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return null;
  return res.json();
}

// GET path as text (e.g. /metrics).
export async function text(path, signal) {
  const res = await fetch(path, { headers: headers(), signal, cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return res.text();
}

// Streams path's body: onChunk(string) for each piece until it ends (onOpen() first, once
// the server has answered). Resolves at the end.
export async function stream(path, onChunk, signal, onOpen) {
  const res = await fetch(path, { headers: headers(), signal, cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  if (onOpen) onOpen();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    onChunk(decoder.decode(value, { stream: true }));
  }
  const rest = decoder.decode();
  if (rest) onChunk(rest);
}

// Follows server-sent events at path until signal aborts, reconnecting after a drop from
// the last event id seen. onEvent({id, event, data}) with data parsed as JSON;
// onState('live' | 'retrying', detail) reports the connection.
export async function events(path, onEvent, onState, signal) {
  let last = null;
  while (!signal.aborted) {
    let buffer = '';
    let ev = { data: [] };
    let url = path;
    if (last !== null) {
      const u = new URL(path, location.href);
      u.searchParams.set('last_event_id', last);
      url = u.pathname + u.search;
    }
    try {
      await stream(url, (chunk) => {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (ev.data.length) {
              if (ev.id !== undefined) last = ev.id;
              let data = ev.data.join('\n');
              try {
                data = JSON.parse(data);
              } catch (e) {
                /* keep the text */
              }
              onEvent({ id: ev.id, event: ev.event || 'message', data });
            }
            ev = { data: [] };
          } else if (!line.startsWith(':')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') ev.data.push(value);
            else if (field === 'id') ev.id = value;
            else if (field === 'event') ev.event = value;
          }
        }
      }, signal, () => onState('live'));
    } catch (e) {
      if (signal.aborted) return;
      onState('retrying', e.message);
      if (e instanceof ApiError && e.status === 401) return;
    }
    if (signal.aborted) return;
    onState('retrying', 'the stream ended');
    await sleep(1000, signal);
  }
}

// Resolves after ms, or at once when signal aborts.
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
