#!/usr/bin/env bash
# Hostile input catalogue: broken and deeply nested JSON, huge numbers, NUL and invalid UTF-8
# in strings, unknown/duplicate fields, path tricks in ids and names, wrong methods, oversized
# bodies/headers/URLs, raw non-HTTP bytes and half-sent requests. Each gets its exact 4xx (and
# API.md's error code); afterwards the server is healthy, earlier jobs are unchanged, a
# running job is still running and a new job still succeeds.
source "$(dirname "$0")/lib.sh"
sp_start --max-body 256K
PORT=${BASE##*:}
N=0 # cases run

# --- jobs that must come through unharmed ---------------------------------------------
submit '{"argv":["/bin/sh","-c","echo keep"],"name":"ok"}'
OK=$ID
submit '{"command":"echo err >&2; exit 3","name":"bad"}'
BAD=$ID
submit '{"argv":["/no/such/program"],"name":"noexec"}'
NOEXEC=$ID
submit "{\"command\":\"$(hold runner)\",\"name\":\"runner\"}"
RUN=$ID
for id in $OK $BAD $NOEXEC; do wait_job "$id" >/dev/null; done
eq "seed states" "$(for id in $OK $BAD $NOEXEC; do job_field "$id" '[.state,.exit_code]|@csv'; done | tr '\n' ' ')" \
    '"succeeded",0 "failed",3 "failed",127 '
wait_for 60 state_is "$RUN" running || fail "job $RUN never started"
SNAP=$(for id in $OK $BAD $NOEXEC; do curl -s "$BASE/v1/jobs/$id"; done)

# hx STATUS CODE FIELD METHOD PATH [BODY]: one hostile request (path sent as is; BODY may be
# @file; extra curl args in the XA array). Checks status, API.md's error shape and code,
# the field unless FIELD is "-", and an Allow header on every 405.
XA=()
hx() {
    local status=$1 code=$2 field=$3 method=$4 path=$5
    local args=(-s --path-as-is -m 60 -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" "${XA[@]}")
    [ $# -ge 6 ] && args+=(-H 'Content-Type: application/json' --data-binary "$6")
    STATUS=$(curl "${args[@]}" "$BASE$path")
    BODY=$(cat "$T/body")
    N=$((N + 1))
    local b=${6:-}
    local what="#$N $method ${path:0:50} ${b:0:40}"
    [ "$STATUS" == "$status" ] || fail "$what: status $STATUS, want $status; body: ${BODY:0:300}"
    jq -e --arg c "$code" '.error.code == $c and (.error.message | type == "string" and length > 0)' \
        <<<"$BODY" >/dev/null || fail "$what: want code $code in API.md's shape, got ${BODY:0:300}"
    if [ "$field" != "-" ]; then
        [ "$(jq -r .error.field <<<"$BODY")" == "$field" ] || fail "$what: field in $BODY, want $field"
    fi
    if [ "$status" == 405 ]; then grep -qi '^Allow: ' "$T/headers" || fail "$what: 405 without Allow"; fi
    pass "$what -> $status $code"
}
BIG64=18446744073709551616 # 2^64

# ---- broken JSON -----------------------------------------------------------------------
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"]'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"]} x'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"]}{}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],}'
hx 400 invalid_json - POST /v1/jobs "{'argv':['true']}"
hx 400 invalid_json - POST /v1/jobs '{"argv":["tr\ue"]}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["\uZZZZ"]}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["\ud800"]}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"timeout":NaN}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"timeout":Infinity}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"timeout":01}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"timeout":.5}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"timeout":+1}'
hx 400 invalid_json - POST /v1/jobs '/* c */{"argv":["true"]}'
hx 400 invalid_json - POST /v1/jobs $'{"argv":["a\tb"]}'
hx 400 invalid_json - POST /v1/jobs $'\xef\xbb\xbf{"argv":["true"]}'
hx 400 invalid_json - POST /v1/jobs 'argv=true&name=x'
hx 400 invalid_json - POST /v1/jobs '<job argv="true"/>'
hx 400 invalid_json - POST "/v1/jobs/$OK/terminate" '{"signal":'
hx 400 invalid_json - PATCH /v1/queues/hq '{"paused":tru}'
# wrong top-level types
hx 400 invalid_argument - POST /v1/jobs 'null'
hx 400 invalid_argument - POST /v1/jobs 'true'
hx 400 invalid_argument - POST /v1/jobs '42'
hx 400 invalid_argument - POST /v1/jobs '[null]'
hx 400 invalid_argument - POST /v1/jobs '[[{"argv":["true"]}]]'
hx 400 invalid_argument - PATCH /v1/queues/hq '[]'
hx 400 invalid_argument - PATCH /v1/queues/hq 'null'

# ---- deeply nested JSON (under --max-body, so the parser must refuse it) ----------------
head -c 100000 /dev/zero | tr '\0' '[' >"$T/deep1.json"
hx 400 invalid_json - POST /v1/jobs "@$T/deep1.json"
python3 -c 'import sys; sys.stdout.write("{\"a\":" * 20000)' >"$T/deep2.json"
hx 400 invalid_json - POST /v1/jobs "@$T/deep2.json"
python3 -c 'import sys; sys.stdout.write("[" * 5000 + "]" * 5000)' >"$T/deep3.json"
hx 400 invalid_json - POST /v1/jobs "@$T/deep3.json"
python3 -c 'import sys; sys.stdout.write("{\"argv\":[\"true\"],\"env\":" + "[" * 5000 + "]" * 5000 + "}")' >"$T/deep4.json"
hx 400 invalid_json - POST /v1/jobs "@$T/deep4.json"
hx 400 invalid_json - PATCH /v1/queues/hq "@$T/deep1.json"

# ---- huge numbers -----------------------------------------------------------------------
# (out-of-range literals are refused by the parser: invalid_json, "real number overflow")
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"timeout":1e400}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"timeout":-1e400}'
hx 400 invalid_argument timeout POST /v1/jobs '{"argv":["true"],"timeout":1e-400}'
hx 400 invalid_argument timeout POST /v1/jobs '{"argv":["true"],"timeout":1e300}'
hx 400 invalid_json - POST /v1/jobs "{\"argv\":[\"true\"],\"timeout\":$BIG64}"
hx 400 invalid_json - POST /v1/jobs "{\"argv\":[\"true\"],\"priority\":$BIG64}"
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"priority":9223372036854775808}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"priority":-9223372036854775809}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"priority":1e400}'
hx 400 invalid_argument priority POST /v1/jobs '{"argv":["true"],"priority":2147483648}'
hx 400 invalid_json - POST /v1/jobs "{\"argv\":[\"true\"],\"max_attempts\":$BIG64}"
hx 400 invalid_argument max_attempts POST /v1/jobs '{"argv":["true"],"max_attempts":101}'
hx 400 invalid_argument max_attempts POST /v1/jobs '{"argv":["true"],"max_attempts":2.0}'
hx 400 invalid_json - POST /v1/jobs "{\"argv\":[\"true\"],\"stdin_from\":$BIG64}"
hx 400 invalid_json - POST /v1/jobs "{\"argv\":[\"true\"],\"after\":[$BIG64]}"
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"concurrency_key":"k","concurrency_limit":1e400}'
hx 400 invalid_json - POST "/v1/jobs/$OK/terminate" '{"grace":1e400}'
hx 400 invalid_json - POST "/v1/jobs/$OK/terminate" "{\"signal\":$BIG64}"
hx 400 invalid_argument signal POST "/v1/jobs/$OK/terminate" '{"signal":99}'
hx 400 invalid_json - PATCH /v1/queues/hq "{\"concurrency\":$BIG64}"
hx 400 invalid_json - PATCH /v1/queues/hq '{"concurrency":1e400}'
hx 400 invalid_argument timeout GET "/v1/jobs/$OK/wait?timeout=1e400"
hx 400 invalid_argument timeout GET "/v1/jobs/$OK/wait?timeout=nan"
hx 400 invalid_argument timeout GET "/v1/jobs/$OK/wait?timeout=inf"
hx 400 invalid_argument offset GET "/v1/jobs/$OK/output?offset=$BIG64"
hx 400 invalid_argument before GET "/v1/jobs?before=$BIG64"

# ---- NUL and invalid UTF-8 in strings ------------------------------------------------------
hx 400 invalid_json - POST /v1/jobs '{"argv":["a\u0000b"]}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"env":{"A":"x\u0000y"}}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"env":{"A\u0000B":"1"}}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"queue":"q\u0000x"}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"idempotency_key":"k\u0000x"}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"name":"n\u0000x"}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"cwd":"/tmp\u0000/etc"}'
hx 400 invalid_json - POST /v1/jobs '{"command":"true\u0000; rm -rf /"}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"stdin":"a\u0000b"}'
printf '{"argv":["a\0b"]}' >"$T/nul.json" # a raw NUL byte
hx 400 invalid_json - POST /v1/jobs "@$T/nul.json"
hx 400 invalid_json - POST /v1/jobs $'{"argv":["true"],"env":{"A":"\xc3\x28"}}'
hx 400 invalid_json - POST /v1/jobs $'{"argv":["true"],"env":{"\xff":"1"}}'
hx 400 invalid_json - POST /v1/jobs $'{"argv":["\xf8\x88\x80\x80\x80"]}'
hx 400 invalid_json - POST /v1/jobs $'{"argv":["true"],"queue":"\xff\xfe"}'
hx 400 invalid_json - POST /v1/jobs $'{"argv":["true"],"idempotency_key":"\xed\xa0\x80"}'
hx 400 invalid_json - POST /v1/jobs $'{"argv":["true"],"name":"\xc0\xaf"}'
hx 400 invalid_json - POST /v1/jobs $'{"argv":["true"]\xff}'
hx 400 invalid_argument idempotency_key POST /v1/jobs "{\"argv\":[\"true\"],\"idempotency_key\":\"$(printf 'k%.0s' $(seq 256))\"}"
XA=(-H "Idempotency-Key: $(printf 'k%.0s' $(seq 300))")
hx 400 invalid_argument Idempotency-Key POST /v1/jobs '{"argv":["true"]}'
XA=(-H 'Idempotency-Key;') # present and empty
hx 400 invalid_argument Idempotency-Key POST /v1/jobs '{"argv":["true"]}'
XA=()

# ---- unknown and duplicate fields --------------------------------------------------------
hx 400 invalid_argument Argv POST /v1/jobs '{"argv":["true"],"Argv":["x"]}'
hx 400 invalid_argument __proto__ POST /v1/jobs '{"argv":["true"],"__proto__":{}}'
hx 400 invalid_argument - POST /v1/jobs '{"argv":["true"],"":1}'
hx 400 invalid_argument "[1].nope" POST /v1/jobs '[{"argv":["true"]},{"argv":["true"],"nope":1}]'
hx 400 invalid_argument bogus PATCH /v1/queues/hq '{"paused":true,"bogus":1}'
hx 400 invalid_argument force POST "/v1/jobs/$OK/terminate" '{"force":true}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"env":{"A":"1","A":"2"}}'
hx 400 invalid_json - POST /v1/jobs '{"argv":["true"],"timeout":1,"timeout":2}'
hx 400 invalid_json - POST /v1/jobs '[{"argv":["true"],"queue":"a","queue":"b"}]'
hx 400 invalid_json - POST "/v1/jobs/$OK/terminate" '{"signal":"SIGTERM","signal":"SIGKILL"}'
hx 400 invalid_json - PATCH /v1/queues/hq '{"paused":true,"paused":false}'
python3 -c 'import json; print(json.dumps([{"argv": ["true"]}] * 1001))' >"$T/batch.json"
hx 400 invalid_argument - POST /v1/jobs "@$T/batch.json"

# ---- path tricks in job ids, queue names, streams --------------------------------------------
hx 400 invalid_argument id GET /v1/jobs/%2e%2e
hx 404 not_found - GET /v1/jobs/%2e%2e/1
hx 404 not_found - GET /v1/jobs/../healthz
hx 404 not_found - GET "/v1/jobs/$OK/../$OK"
hx 404 not_found - GET "/v1/jobs/$OK%2f.."
hx 404 not_found - GET /v1/%2e%2e/healthz
hx 404 not_found - GET /HEALTHZ
hx 404 not_found - GET "/v1/jobs/$OK/"
hx 404 not_found - GET "/v1/jobs//$OK"
hx 400 invalid_argument id GET /v1/jobs/%00
# %00 must not end the path early: "1%00junk" is not job 1 (it once deleted job 1)
hx 400 invalid_argument id GET "/v1/jobs/$OK%00"
hx 400 invalid_argument id DELETE "/v1/jobs/$OK%00junk"
hx 404 not_found - GET "/v1/jobs/$OK%00/whatever"
hx 400 invalid_argument id POST "/v1/jobs/$RUN%00/terminate" '{}'
hx 400 invalid_argument name PATCH /v1/queues/hq%00b '{"paused":true}'
hx 400 invalid_argument stream GET "/v1/jobs/$OK/output?stream=stdout%00x"
hx 400 invalid_argument limit GET '/v1/jobs?limit=5%00junk'
hx 400 invalid_argument id GET /v1/jobs/+1
hx 400 invalid_argument id GET /v1/jobs/%201
hx 400 invalid_argument id GET /v1/jobs/1%20
hx 400 invalid_argument id GET /v1/jobs/0x10
hx 400 invalid_argument id GET /v1/jobs/9223372036854775808
hx 404 not_found id GET /v1/jobs/9223372036854775807 # the largest id: valid, just not there
hx 404 not_found id GET /v1/jobs/1000000000000000000
hx 400 invalid_argument id GET "/v1/jobs/$(printf '9%.0s' $(seq 10000))"
hx 404 not_found - DELETE /v1/jobs/..%2f..%2fetc
hx 400 invalid_argument id POST /v1/jobs/%2e%2e/terminate '{}'
hx 400 invalid_argument stream GET "/v1/jobs/$OK/output?stream=../../etc/passwd"
hx 400 invalid_argument stream GET "/v1/jobs/$OK/output?stream=%2e%2e%2fspawnpool.db"
hx 400 invalid_argument stream GET "/v1/jobs/$OK/output?stream="
hx 400 invalid_argument queue POST /v1/jobs '{"argv":["true"],"queue":"../etc"}'
hx 400 invalid_argument queue POST /v1/jobs '{"argv":["true"],"queue":"a/b"}'
hx 400 invalid_argument queue POST /v1/jobs "{\"argv\":[\"true\"],\"queue\":\"$(printf 'q%.0s' $(seq 5000))\"}"
hx 400 invalid_argument name PATCH /v1/queues/a%2fb '{"paused":true}'
hx 400 invalid_argument name PATCH /v1/queues/..%2f..%2fetc '{"paused":true}'
hx 400 invalid_argument name PATCH "/v1/queues/$(printf 'q%.0s' $(seq 65))" '{"paused":true}'
hx 400 invalid_argument name PATCH /v1/queues/%ff '{"paused":true}'
hx 400 invalid_argument job GET '/v1/events?job=%2e%2e'
hx 400 invalid_argument ids GET '/v1/jobs/wait?ids=1,,2'
hx 400 invalid_argument ids GET "/v1/jobs/wait?ids=$(seq -s, 1 101)"
hx 400 invalid_argument - GET '/v1/jobs?%zz=1'
hx 400 invalid_argument limit GET '/v1/jobs?limit=1%'

# ---- wrong methods (405 with Allow) -------------------------------------------------------
for m in PUT PATCH TRACE FOO; do hx 405 method_not_allowed - "$m" /v1/jobs; done
hx 400 invalid_argument - DELETE /v1/jobs # a bulk delete needs a filter or all=1: none deletes nothing
for m in PUT POST; do hx 405 method_not_allowed - "$m" "/v1/jobs/$OK"; done
# PATCH of a job: bad bodies are refused, and a finished one is a conflict (nothing changes)
hx 400 invalid_json - PATCH "/v1/jobs/$OK"
hx 400 invalid_json - PATCH "/v1/jobs/$OK" '{"priority":1e400}'
hx 400 invalid_json - PATCH "/v1/jobs/$OK" "{\"priority\":$BIG64}"
hx 409 conflict - PATCH "/v1/jobs/$OK" '{"priority":1}'
for m in GET PUT DELETE; do hx 405 method_not_allowed - "$m" "/v1/jobs/$OK/terminate"; done
for p in "/v1/jobs/$OK/wait" "/v1/jobs/$OK/output" /v1/jobs/wait /v1/workers /v1/queues /v1/events /v1/tasks /healthz /metrics; do
    hx 405 method_not_allowed - POST "$p" '{}'
done
for m in GET DELETE POST; do hx 405 method_not_allowed - "$m" /v1/queues/hq; done

# ---- oversized body, headers, URL -----------------------------------------------------------
head -c 300000 /dev/zero | tr '\0' a | sed 's/^/{"argv":["echo","/; s/$/"]}/' >"$T/big.json"
hx 413 payload_too_large - POST /v1/jobs "@$T/big.json"
hx 413 payload_too_large - POST "/v1/jobs/$OK/terminate" "@$T/big.json"
hx 413 payload_too_large - PATCH /v1/queues/hq "@$T/big.json"
# headers and URLs too big for the HTTP layer: a plain status (libmicrohttpd's own page), then
# the connection closes; the server goes on
status_only() { # WANT DESCRIPTION CURL-ARGS...
    local want=$1 what=$2
    shift 2
    N=$((N + 1))
    eq "#$N $what" "$(curl -s -m 60 -o /dev/null -w '%{http_code}' "$@")" "$want"
}
# (to the server itself: the server answers and closes on a client still sending, and the
# reset it draws could drop the answer at the recording proxy's extra hop, lib.sh)
status_only 431 "one 100 KB header" -H "X-Big: $(head -c 102400 /dev/zero | tr '\0' a)" "$SP_BASE/healthz"
HS=()
for i in $(seq 500); do HS+=(-H "X-H$i: $(printf 'b%.0s' $(seq 100))"); done
status_only 431 "500 headers of 100 bytes" "${HS[@]}" "$SP_BASE/healthz"
status_only 431 "a 100 KB Idempotency-Key" -H "Idempotency-Key: $(head -c 102400 /dev/zero | tr '\0' k)" \
    --json '{"argv":["true"]}' "$SP_BASE/v1/jobs"
expect 200 GET /healthz

# ---- not HTTP at all, malformed framing, half-sent requests (raw TCP) -------------------------
# raw WANT BYTES: sends BYTES (printf %b escapes) on a fresh connection; WANT is the status
# of the answer's first line, "closed" when the server closes without answering, "silent"
# when it still waits for more after 5 s (the client gives up). An answer or a close is
# waited for up to 60 s (a loaded machine), a silence for the 5 s it claims.
raw() {
    local want=$1 got rc=0 wait=60
    [ "$want" == silent ] && wait=5
    N=$((N + 1))
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "#$N: cannot connect"
    (printf '%b' "$2" >&3) 2>/dev/null # (a subshell: the server may close first, SIGPIPE)
    timeout "$wait" head -c 12 <&3 >"$T/raw" || rc=$?
    exec 3<&- 3>&-
    got=$(tr -d '\0' <"$T/raw")
    if [ -n "$got" ]; then
        got=${got#HTTP/1.1 }
    elif [ "$rc" == 124 ]; then
        got=silent
    else
        got=closed
    fi
    eq "#$N raw $(printf '%q' "${2:0:50}")" "$got" "$want"
}
raw closed 'GARBAGE\r\n\r\n'
raw silent '\x00\x01\x02\xff\xfe\xfd\r\n\r\n'
raw silent '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' # a TLS ClientHello on the plain port
raw 400 'GET /healthz\r\n\r\n'
raw 505 'GET /healthz HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n'
raw 400 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n' # HTTP/1.1 without Host (RFC 9112)
raw 400 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHeader\r\n\r\n'
raw 400 'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n'
raw 400 'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello'
raw 400 'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
raw 413 'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n'
# half-sent: headers promise 100 bytes, 9 arrive, then the client goes away; headers cut in
# the middle, then closed; and one cut in the middle and left open (a slow client) while
# others are served. Nothing may be created, crash or block.
N=$((N + 3))
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
(printf 'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"argv":[' >&3) 2>/dev/null
exec 3<&- 3>&-
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
(printf 'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le' >&3) 2>/dev/null
exec 3<&- 3>&-
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
(printf 'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"argv"' >&4) 2>/dev/null
expect 200 GET /healthz
expect 200 GET "/v1/jobs/$OK"
exec 4<&- 4>&-

# ---- afterwards: alive, nothing changed, still works -------------------------------------------
eq "$N hostile requests sent" "$([ "$N" -ge 60 ] && echo yes)" yes
check "server pid $SP_PID still alive" kill -0 "$SP_PID"
req GET /healthz
eq "/healthz status ok" "$STATUS $(jq -r .status <<<"$BODY")" "200 ok"
eq "earlier finished jobs unchanged" "$(for id in $OK $BAD $NOEXEC; do curl -s "$BASE/v1/jobs/$id"; done)" "$SNAP"
eq "their output unchanged" "$(curl -s "$BASE/v1/jobs/$OK/output")|$(curl -s "$BASE/v1/jobs/$BAD/output?stream=stderr")" "keep|err"
eq "the running job still runs" "$(job_field "$RUN" .state)" running
eq "no job created by hostile input" "$(curl -s "$BASE/v1/jobs?limit=1000" | jq '.jobs | length')" 4
eq "queue hq never created" "$(curl -s "$BASE/v1/queues" | jq '[.queues[] | select(.name == "hq")] | length')" 0
submit '{"argv":["/bin/sh","-c","echo still fine"]}'
NEW=$ID
eq "a new job succeeds" "$(wait_job "$NEW" | jq -r '[.state,.exit_code]|@csv')" '"succeeded",0'
eq "with its output" "$(curl -s "$BASE/v1/jobs/$NEW/output")" "still fine"
expect 202 POST "/v1/jobs/$RUN/terminate" '{"grace":1}'
eq "the running job terminates on request" "$(wait_job "$RUN" | jq -r .state)" terminated
sp_stop
