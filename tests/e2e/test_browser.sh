#!/usr/bin/env bash
# A web page cannot run commands: headless Chromium (Debian's package, driven by
# tests/browser/origin_attack.js with puppeteer-core) visits pages of another site and of
# another port of the same site, which try every way a page can POST a job to the default
# server (loopback, no token), and a page that plays DNS rebinding. No job may be created,
# nothing may run, and the server must have refused each request itself (its counters
# say so), not the browser. Then a page of an --allow-origin origin submits, waits for and
# reads a job. Without Chromium or the npm packages the test is skipped, unless
# SPAWNPOOL_REQUIRE_BROWSER=1 (CI) makes that a failure.
source "$(dirname "$0")/lib.sh"
BROWSER_DIR=$(cd "$(dirname "$0")/../browser" && pwd)
missing=""
command -v node >/dev/null || missing="node"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
[ -d "$BROWSER_DIR/node_modules/puppeteer-core" ] || missing="$missing puppeteer-core (cd tests/browser && npm ci)"
if [ -n "$missing" ]; then
    [ "${SPAWNPOOL_REQUIRE_BROWSER:-0}" = 1 ] && fail "missing: $missing"
    echo "# SKIP: missing:$missing"
    exit 0
fi

read -r ALLOWED_PORT ATTACK_PORT < <(node "$BROWSER_DIR/origin_attack.js" ports)
ALLOWED="http://127.0.0.1:$ALLOWED_PORT"
sp_start --allow-origin "$ALLOWED"
MARKERS="$T/markers"
mkdir -p "$MARKERS"
refused() { curl -s "$BASE/metrics" | awk -v r="$1" '$1 == "spawnpool_http_refused_total{reason=\"" r "\"}" {print $2}'; }
eq "no request refused yet" "$(refused origin)+$(refused host)" "0+0"

OUT=$(node "$BROWSER_DIR/origin_attack.js" run "$BASE" "$ALLOWED_PORT" "$ATTACK_PORT" "$MARKERS") ||
    fail "the browser driver failed: $OUT"
echo "# $(jq -c '{chromium, crosssite, samesite, rebind}' <<<"$OUT")"

for site in crosssite samesite; do
    # sent without a preflight; the 403 carries no CORS header, so the page cannot read it
    [[ $(jq -r ".$site.fetch_text_plain" <<<"$OUT") == error:* ]] ||
        fail "$site: a text/plain fetch could read its answer: $(jq -c ".$site" <<<"$OUT")"
    pass "$site: a text/plain fetch gets no readable answer"
    eq "$site: a no-cors fetch gets an opaque answer" "$(jq -r ".$site.fetch_no_cors" <<<"$OUT")" opaque
    eq "$site: the form was posted" "$(jq -r ".$site.form" <<<"$OUT")" submitted
    # the preflight is refused, so the browser never sends the POST (fetch rejects)
    [[ $(jq -r ".$site.fetch_json" <<<"$OUT") == error:* ]] ||
        fail "$site: a JSON fetch got through its preflight: $(jq -c ".$site" <<<"$OUT")"
    pass "$site: a JSON fetch fails at its preflight"
done
eq "rebinding: the page of a foreign name is refused" "$(jq -r .rebind.navigation_status <<<"$OUT")" 421
eq "rebinding: its same-origin POST is refused" "$(jq -r .rebind.post_status <<<"$OUT")" 421

# the server itself refused them: 2 pages x (text/plain, no-cors, form, preflight)
ORIGIN_REFUSED=$(refused origin)
check "the server refused the 8 cross-origin requests ($ORIGIN_REFUSED)" [ "$ORIGIN_REFUSED" -ge 8 ]
HOST_REFUSED=$(refused host)
check "and the 2 rebinding requests by Host ($HOST_REFUSED)" [ "$HOST_REFUSED" -ge 2 ]

eq "the allowed origin submitted a job" "$(jq -r .allowed.submit_status <<<"$OUT")" 201
eq "saw its Location" "$(jq -r .allowed.location <<<"$OUT")" "/v1/jobs/$(jq -r .allowed.id <<<"$OUT")"
eq "waited for it" "$(jq -r .allowed.state <<<"$OUT")" succeeded
eq "and read its output" "$(jq -r .allowed.output <<<"$OUT")" from-allowed

eq "the only job is the allowed page's" "$(curl -s "$BASE/v1/jobs" | jq -c '[.jobs[].name]')" '["allowed"]'
eq "no attack ran (marker files)" "$(ls "$MARKERS")" allowed
eq "the server is healthy" "$(curl -s "$BASE/healthz" | jq -r .status)" ok
sp_stop
