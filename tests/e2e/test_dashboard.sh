#!/usr/bin/env bash
# The dashboard at /: the page and its files come from the binary with a strict
# Content-Security-Policy, nosniff and an ETag, need no token (the API behind them does),
# and headless Chromium (tests/browser/dashboard.js, puppeteer-core) uses it as a person
# would: types the token, watches jobs submitted with curl appear and change state live,
# follows a job's output, terminates a job and pauses a queue from the page, with axe-core
# finding no serious accessibility violation in any view. Screenshots of each view go to
# $SPAWNPOOL_SCREENSHOTS (CI prints it) when set. Without Chromium or the npm packages the
# browser half is skipped, unless SPAWNPOOL_REQUIRE_BROWSER=1 (CI) makes that a failure.
source "$(dirname "$0")/lib.sh"
BROWSER_DIR=$(cd "$(dirname "$0")/../browser" && pwd)
CSP="default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

echo "dashboard-token-$$" >"$T/token"
TOKEN=$(cat "$T/token")
sp_start --token-file "$T/token"
header() { tr -d '\r' <"$T/headers" | awk -v h="$1" 'tolower($0) ~ "^" tolower(h) ": " {sub(/^[^:]*: /, ""); print}'; }

# the page and its files: no token needed, typed, locked down, cacheable by ETag
for f in / /ui/app.js /ui/style.css /ui/icon.svg; do
    expect 200 GET "$f"
    eq "$f: CSP" "$(header Content-Security-Policy)" "$CSP"
    eq "$f: nosniff" "$(header X-Content-Type-Options)" nosniff
done
req GET /
eq "/ is HTML" "$(header Content-Type)" "text/html; charset=utf-8"
check "/ is the dashboard" grep -q '<script type="module" src="/ui/app.js"></script>' "$T/body"
check "no inline script in the page" bash -c "! grep -Eq '<script>|<script [^>]*>[^<]' '$T/body'"
check "no inline style in the page" bash -c "! grep -Eq '<style|style=' '$T/body'"
req GET /ui/app.js
eq "/ui/app.js is JavaScript" "$(header Content-Type)" "text/javascript; charset=utf-8"
ETAG=$(header ETag)
check "an ETag ($ETAG)" grep -Eq '^"[0-9a-f]{20}"$' <<<"$ETAG"
eq "revalidated each load" "$(header Cache-Control)" no-cache
eq "If-None-Match of it: 304" "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$BASE/ui/app.js")" 304
eq "another ETag: 200" "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "x"' "$BASE/ui/app.js")" 200
expect_error 404 not_found - GET /ui/nope.js
expect_error 404 not_found - GET /ui/index.html
expect_error 405 method_not_allowed - POST / '{}'
expect_error 401 unauthorized - GET /v1/jobs
# the API's own answers on the dashboard's origin: a job's output is anyone's bytes (HTML
# with script, say); opened in the dashboard's tab it must never run as a page there (it
# would read the token from sessionStorage): nosniff and a CSP sandbox on every answer
auth=(-H "Authorization: Bearer $TOKEN")
XSS='<html><script>alert(1)</script>'
OUT_JOB=$(jq -n --arg p "$XSS" '{argv: ["printf", "%s", $p]}' | curl -s "${auth[@]}" --json @- "$BASE/v1/jobs" | jq -r .id)
wait_for 60 bash -c "curl -s -H 'Authorization: Bearer $TOKEN' '$BASE/v1/jobs/$OUT_JOB/output' | grep -q script" ||
    fail "job $OUT_JOB never wrote its output"
for path in "/v1/jobs/$OUT_JOB/output" "/v1/jobs/$OUT_JOB" "/v1/nothing/<script>" /healthz; do
    curl -s "${auth[@]}" -o "$T/body" -D "$T/headers" "$BASE$path"
    eq "$path: nosniff" "$(header X-Content-Type-Options)" nosniff
    eq "$path: CSP sandbox" "$(header Content-Security-Policy)" "sandbox; default-src 'none'; frame-ancestors 'none'"
done
eq "a foreign Host is refused at / too" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.test' "$BASE/")" 421

missing=""
command -v node >/dev/null || missing="node"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
[ -d "$BROWSER_DIR/node_modules/puppeteer-core" ] || missing="$missing puppeteer-core (cd tests/browser && npm ci)"
[ -d "$BROWSER_DIR/node_modules/axe-core" ] || missing="$missing axe-core (cd tests/browser && npm ci)"
if [ -n "$missing" ]; then
    [ "${SPAWNPOOL_REQUIRE_BROWSER:-0}" = 1 ] && fail "missing: $missing"
    echo "# SKIP: the browser half: missing:$missing"
    sp_stop
    exit 0
fi

auth=(-H "Authorization: Bearer $TOKEN")
curl -sf "${auth[@]}" --json '{"name": "nightly", "cron": "0 3 * * *", "job": {"argv": ["true"]}}' \
    "$BASE/v1/schedules" >/dev/null || fail "could not make the schedule"
mkdir -p "$T/work" "$T/shots"
SHOTS=("$T/shots")
[ -n "${SPAWNPOOL_SCREENSHOTS:-}" ] && SHOTS+=("$SPAWNPOOL_SCREENSHOTS")
node "$BROWSER_DIR/dashboard.js" "$BASE" "$TOKEN" "$T/work" "${SHOTS[@]}" >"$T/browser.out" 2>"$T/browser.err"
rc=$?
grep '^ok - ' "$T/browser.out" | sed 's/^/# browser: /'
[ "$rc" -eq 0 ] || fail "the browser test failed: $(grep -v '^ok - ' "$T/browser.out" | head -c 3000) $(tail -n 5 "$T/browser.err")"
pass "the browser went through every view ($(grep -c '^ok - ' "$T/browser.out") steps)"
RESULT=$(tail -n 1 "$T/browser.out")
echo "# $(jq -c '{chromium, ids}' <<<"$RESULT")"

# what the page did, as the server recorded it
auth_field() { curl -s "${auth[@]}" "$BASE/v1/jobs/$1" | jq -r "$2"; }
eq "the job the page terminated ended terminated" "$(auth_field "$(jq -r .ids.c <<<"$RESULT")" .state)" terminated
eq "the job it watched succeeded" "$(auth_field "$(jq -r .ids.a <<<"$RESULT")" .state)" succeeded
eq "the queue it paused is paused" \
    "$(curl -s "${auth[@]}" "$BASE/v1/queues" | jq -r '.queues[] | select(.name == "web") | .paused')" true
for v in jobs job queues workers schedules jobs-narrow; do
    check "screenshot of the $v view" test -s "$T/shots/$v.png"
done
[ -n "${SPAWNPOOL_SCREENSHOTS:-}" ] && echo "# screenshots in $SPAWNPOOL_SCREENSHOTS"
sp_stop
