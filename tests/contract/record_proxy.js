#!/usr/bin/env node
// record_proxy: a TCP proxy in front of spawnpool for the e2e suite (tests/e2e/lib.sh starts
// it when SPAWNPOOL_RECORD_DIR is set). It forwards the bytes of each connection as they
// come, both ways and unchanged (malformed requests, slow clients, half-closes, TLS and
// streams behave as without it; one upstream connection per client connection), and parses
// a copy of each direction with Node's HTTP parser to append one JSON line per response to
// the record file: {method, url, status, type, body (JSON bodies only), partial}.
// tests/contract/validate.js checks them against api/openapi.json.
// Usage: record_proxy.js HOST:PORT RECORD_FILE   (prints "listening on PORT" when ready)
'use strict';
const net = require('net');
const fs = require('fs');
const zlib = require('zlib');
const { HTTPParser, methods } = require('_http_common');

const [target, recordFile] = process.argv.slice(2);
if (!target || !recordFile) {
    console.error('usage: record_proxy.js HOST:PORT RECORD_FILE');
    process.exit(2);
}
const [host, port] = [target.slice(0, target.lastIndexOf(':')), +target.slice(target.lastIndexOf(':') + 1)];
const MAX_BODY = 16 << 20; // JSON bodies kept up to this size (a 1000-job list is ~1.3 MB)

function record(r) {
    fs.appendFileSync(recordFile, JSON.stringify(r) + '\n');
}

// A parser of one direction; on(headers-complete / body / complete) as callbacks.
function parser(kind, onHead, onBody, onDone) {
    const p = new HTTPParser();
    p.initialize(kind, {});
    let hdrs = [], url = '';
    p[HTTPParser.kOnHeaders] = (h, u) => { hdrs = hdrs.concat(h); url += u || ''; };
    p[HTTPParser.kOnHeadersComplete] = (maj, min, headers, method, u, status) => {
        const h = headers || hdrs, fullUrl = u !== undefined && u !== '' ? u : url;
        hdrs = []; url = '';
        const map = {};
        for (let i = 0; i + 1 < h.length; i += 2) map[h[i].toLowerCase()] = h[i + 1];
        return onHead(methods[method], fullUrl, status, map) ? 1 : 0;
    };
    p[HTTPParser.kOnBody] = (b, start, len) => onBody(start === undefined ? b : b.slice(start, start + len));
    p[HTTPParser.kOnMessageComplete] = () => onDone();
    p[HTTPParser.kOnExecute] = () => {};
    let broken = false;
    return {
        feed(buf) {
            if (broken) return;
            const r = p.execute(buf);
            if (r instanceof Error) broken = true; // not HTTP (TLS, a hostile test): not recorded
        },
        get broken() { return broken; },
    };
}

function watch(client, upstream) {
    const asked = []; // requests whose answer has not come yet: {method, url}
    let cur = null; // the response being read
    const finish = (partial) => {
        if (!cur) return;
        const r = { method: cur.method, url: cur.url, status: cur.status, type: cur.type, partial };
        if (cur.sse !== undefined) { // the data of each complete `event: state`
            r.events = [];
            for (const block of cur.sse.split('\n\n').slice(0, -1)) {
                const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
                if (!/^event: state$/m.test(block) || !data) continue;
                try { r.events.push(JSON.parse(data)); } catch (e) { r.bodyError = 'event data: ' + e.message; }
            }
        }
        if (cur.chunks) {
            let buf = Buffer.concat(cur.chunks);
            try {
                if (/gzip/i.test(cur.encoding || '')) buf = zlib.gunzipSync(buf);
                r.body = buf.length ? JSON.parse(buf.toString('utf8')) : null;
            } catch (e) {
                if (!partial) r.bodyError = String(e.message || e);
            }
            if (cur.size > MAX_BODY) r.truncated = true;
        }
        record(r);
        cur = null;
    };
    const req = parser(HTTPParser.REQUEST, (method, url) => { asked.push({ method, url }); return false; },
        () => {}, () => {});
    const resp = parser(HTTPParser.RESPONSE, (_m, _u, status, h) => {
        if (status < 200) return false; // 100 Continue: the answer follows
        const q = asked.shift();
        if (!q) return false; // an answer before any request parsed (refused at the head)
        const type = h['content-type'] || null;
        cur = { method: q.method, url: q.url, status, type, encoding: h['content-encoding'], size: 0 };
        if (type && /^application\/json/i.test(type)) cur.chunks = [];
        if (type && /^text\/event-stream/i.test(type)) cur.sse = '';
        return q.method === 'HEAD'; // no body follows an answer to HEAD
    }, (b) => {
        if (cur && cur.sse !== undefined && cur.sse.length < MAX_BODY) cur.sse += b.toString('utf8');
        if (!cur || !cur.chunks) return;
        cur.size += b.length;
        if (cur.size <= MAX_BODY) cur.chunks.push(Buffer.from(b));
        else cur.chunks = null;
    }, () => finish(false));
    // A half-close (FIN) goes through as one. The client gone for good (closed, reset) closes
    // the upstream connection, so the server's next write fails as it would without the
    // proxy (that is how it learns an event stream's client left); the server gone ends the
    // client's side after what was already forwarded (a 431 before it closed still arrives).
    const pipe = (from, to, p, gone) => {
        from.on('data', (d) => {
            p.feed(d);
            if (!to.write(d)) {
                from.pause();
                to.once('drain', () => from.resume());
            }
        });
        from.on('end', () => to.end());
        from.on('error', () => gone(to));
        from.on('close', () => gone(to));
    };
    pipe(client, upstream, req, (up) => up.destroy());
    pipe(upstream, client, resp, (cl) => cl.end());
    upstream.on('close', () => finish(true));
}

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    upstream.setNoDelay(true);
    client.pause();
    upstream.on('connect', () => client.resume());
    watch(client, upstream);
});
server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening on ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
