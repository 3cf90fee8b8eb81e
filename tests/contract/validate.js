#!/usr/bin/env node
// validate: checks every response the e2e suite recorded (tests/contract/record_proxy.js,
// one RECORD_DIR/test_*.jsonl per test) against api/openapi.json: each record is matched to
// its operation by path template, method and status, and a JSON body is validated against
// the response's schema (JSON Schema 2020-12, as OpenAPI 3.1 uses, with ajv). An unknown
// route or method is only valid with an answer of the document's x-any-route (404, 405, the
// guard's refusals); an undocumented status, content type or body fails.
// Usage: validate.js RECORD_DIR [OPENAPI_JSON]   (exit 1 on any mismatch, or no records)
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const dir = process.argv[2];
const docFile = process.argv[3] || path.join(__dirname, '..', '..', 'api', 'openapi.json');
if (!dir) {
    console.error('usage: validate.js RECORD_DIR [OPENAPI_JSON]');
    process.exit(2);
}
const doc = JSON.parse(fs.readFileSync(docFile, 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');

const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const at = (ptr) => ptr.split('/').slice(1).reduce((o, k) => o && o[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
// A response (maybe a $ref) at JSON pointer ptr -> {ptr, obj} of the response itself.
function response(ptr) {
    let obj = at(ptr);
    while (obj && obj.$ref) {
        ptr = obj.$ref.slice(1);
        obj = at(ptr);
    }
    return obj ? { ptr, obj } : null;
}
const validators = new Map();
function validator(ptr) {
    if (!validators.has(ptr)) validators.set(ptr, ajv.getSchema('openapi.json#' + ptr));
    return validators.get(ptr);
}

// path templates, literal ones first (/v1/jobs/wait before /v1/jobs/{id})
const routes = Object.keys(doc.paths)
    .map((t) => ({ t, params: (t.match(/{/g) || []).length,
        re: new RegExp('^' + t.replace(/[.]/g, '\\.').replace(/{[^}]+}/g, '[^/]+') + '$') }))
    .sort((a, b) => a.params - b.params);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const seen = new Map(); // "METHOD template status" -> count
const failures = new Map(); // reason -> {count, example}
let total = 0, files = 0;
function fail(reason, rec, test, detail) {
    const f = failures.get(reason) || { count: 0, example: null };
    f.count++;
    if (!f.example) f.example = `${test}: ${rec.method} ${rec.url} -> ${rec.status} ${rec.type || ''}` + (detail ? `\n      ${detail}` : '');
    failures.set(reason, f);
}

// Checks a record's body against response r (at ptr), for a record of key.
function checkBody(key, r, rec, test) {
    if (rec.method === 'HEAD') return;
    const content = r.obj.content;
    if (!content) {
        if (rec.type) fail(`${key}: a body (${rec.type}) where the document has none`, rec, test);
        return;
    }
    const media = (rec.type || '').split(';')[0].trim().toLowerCase();
    if (!content[media]) {
        fail(`${key}: content type ${media || '(none)'} not in the document (${Object.keys(content).join(', ')})`, rec, test);
        return;
    }
    if (media === 'text/event-stream' && rec.events) { // each event's data (even of a cut stream)
        const v = validator('/x-state-event');
        for (const ev of rec.events)
            if (!v(ev)) fail(`${key}: an event's data does not match x-state-event`, rec, test, JSON.stringify(v.errors.slice(0, 3)) + ' | ' + JSON.stringify(ev));
        if (rec.bodyError) fail(`${key}: an event's data does not parse`, rec, test, rec.bodyError);
        return;
    }
    if (media !== 'application/json' || rec.partial || rec.truncated) return;
    if (rec.bodyError) {
        fail(`${key}: the JSON body does not parse`, rec, test, rec.bodyError);
        return;
    }
    const v = validator(`${r.ptr}/content/${esc(media)}/schema`);
    if (!v(rec.body)) {
        const errs = v.errors.slice(0, 4).map((e) => `${e.instancePath || '/'} ${e.message}` +
            (e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : '') +
            (e.params && e.params.allowedValues ? ` (${e.params.allowedValues})` : '')).join('; ');
        fail(`${key}: body does not match the schema`, rec, test, errs + ' | body: ' + JSON.stringify(rec.body).slice(0, 300));
    }
}

// libmicrohttpd's own answer to a malformed request: a short HTML body (or none), not JSON
const fromMHD = (rec) => doc['x-any-route']['x-libmicrohttpd'].includes(rec.status) &&
    !/^application\/json/i.test(rec.type || '');

function checkRecord(rec, test) {
    total++;
    const pathname = rec.url.split('?')[0]; // as sent: no normalisation of %2e%2e or ..
    const route = routes.find((r) => r.re.test(pathname));
    const method = rec.method === 'HEAD' ? 'get' : rec.method.toLowerCase();
    const any = doc['x-any-route'];
    if (method === 'options' || !route || !doc.paths[route.t][method]) {
        const key = `${rec.method} ${route ? route.t : '(unknown route)'} ${rec.status}`;
        seen.set(key, (seen.get(key) || 0) + 1);
        if (fromMHD(rec)) return;
        const table = method === 'options' ? any.options : any;
        if (!table[String(rec.status)]) return fail(`${key}: not documented (no such operation)`, rec, test);
        const ptr = method === 'options' ? `/x-any-route/options/${rec.status}` : `/x-any-route/${rec.status}`;
        return checkBody(key, response(ptr), rec, test);
    }
    const key = `${rec.method === 'HEAD' ? 'GET' : rec.method} ${route.t} ${rec.status}`;
    seen.set(key, (seen.get(key) || 0) + 1);
    if (fromMHD(rec)) return;
    const ptr = `/paths/${esc(route.t)}/${method}/responses/${rec.status}`;
    const r = response(ptr);
    if (!r) return fail(`${key}: status not documented`, rec, test);
    checkBody(key, r, rec, test);
}

for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
    if (!f.endsWith('.jsonl')) continue;
    files++;
    const test = f.replace(/\.jsonl$/, '');
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
        if (!line) continue;
        checkRecord(JSON.parse(line), test);
    }
}
const documented = [];
for (const [t, item] of Object.entries(doc.paths))
    for (const m of METHODS)
        if (item[m]) for (const s of Object.keys(item[m].responses)) documented.push(`${m.toUpperCase()} ${t} ${s}`);
const unseen = documented.filter((k) => !seen.has(k));
const seenOps = new Set([...seen.keys()].map((k) => k.split(' ').slice(0, 2).join(' ')));
const allOps = new Set(documented.map((k) => k.split(' ').slice(0, 2).join(' ')));
const missedOps = [...allOps].filter((o) => !seenOps.has(o));
console.log(`contract: ${total} responses from ${files} tests; ${seen.size} method+route+status kinds; ` +
    `${allOps.size - missedOps.length} of ${allOps.size} operations exercised` +
    (missedOps.length ? ` (not: ${missedOps.join(', ')})` : '') +
    `; ${documented.length - unseen.length} of ${documented.length} documented responses seen`);
if (total === 0) {
    console.log('FAIL: no responses recorded in ' + dir + ' (is SPAWNPOOL_RECORD_DIR set for the suite?)');
    process.exit(1);
}
if (failures.size) {
    for (const [reason, f] of failures) console.log(`FAIL: ${reason} (${f.count}x)\n    e.g. ${f.example}`);
    console.log(`contract: ${failures.size} kinds of mismatch against ${path.relative(process.cwd(), docFile)}`);
    process.exit(1);
}
console.log('contract: every recorded response matches the document');
