#!/usr/bin/env bash
# The guard on every request's head, rule by rule with curl (the browser's view is
# test_browser.sh): a JSON Content-Type on bodies (415), Sec-Fetch-Site and Origin (403),
# Host (421), CORS preflights and headers for allowed origins only, strict framing (400 and
# closed), 413 before the body is sent (Expect: 100-continue), the token before the body
# limit, and HEAD in Allow. Nothing refused creates a job.
source "$(dirname "$0")/lib.sh"
ALLOWED=http://app.example:3000
sp_start --allow-origin "$ALLOWED" --allow-origin https://OTHER.example:443 --allow-host spawn.internal
PORT=${BASE##*:}
JOB='{"argv":["true"]}'

# hdr METHOD PATH [CURL ARGS...]: sets STATUS, BODY and $T/headers
hdr() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" "$@" "$BASE$path")
    BODY=$(cat "$T/body")
}
# error_is STATUS CODE WHAT: the last answer was STATUS with API.md's error shape and CODE
error_is() {
    [ "$STATUS" == "$1" ] || fail "$3: status $STATUS, want $1; body: $BODY"
    [ "$(jq -r .error.code <<<"$BODY")" == "$2" ] || fail "$3: code in $BODY, want $2"
    [ -n "$(jq -r '.error.message // empty' <<<"$BODY")" ] || fail "$3: no message in $BODY"
    pass "$3 -> $1 $2"
}
has_header() { grep -qi "^$1:" "$T/headers"; }
header() { grep -i "^$1:" "$T/headers" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }

# ---- Content-Type on bodies ----------------------------------------------------------------
hdr POST /v1/jobs -d "$JOB"
error_is 415 unsupported_media_type "curl -d (form-urlencoded)"
eq "the 415 names the header" "$(jq -r .error.field <<<"$BODY")" Content-Type
for type in text/plain multipart/form-data application/jsonx "application/json-seq" ""; do
    hdr POST /v1/jobs -H "Content-Type: $type" --data-binary "$JOB"
    error_is 415 unsupported_media_type "Content-Type '$type'"
done
hdr PATCH /v1/queues/q1 -H 'Content-Type: text/plain' --data-binary '{"paused":true}'
error_is 415 unsupported_media_type "PATCH with text/plain"
hdr POST /v1/jobs/1/terminate -H 'Content-Type: text/plain' --data-binary '{}'
error_is 415 unsupported_media_type "terminate with a text/plain body"
hdr POST /v1/jobs -H 'Content-Type: text/plain' -H 'Transfer-Encoding: chunked' --data-binary "$JOB"
error_is 415 unsupported_media_type "a chunked text/plain body"
eq "no job was created" "$(curl -s "$BASE/v1/jobs" | jq '.jobs | length')" 0
for type in 'application/json' 'application/json; charset=utf-8' 'Application/JSON;charset=UTF-8'; do
    hdr POST /v1/jobs -H "Content-Type: $type" --data-binary "$JOB"
    eq "Content-Type '$type' is accepted" "$STATUS" 201
done
hdr POST /v1/jobs --json '{"argv":["sleep","600"]}'
eq "curl --json is accepted" "$STATUS" 201
ID=$(jq -r .id <<<"$BODY")
hdr POST "/v1/jobs/$ID/terminate"
[[ $STATUS == 200 || $STATUS == 202 ]] || fail "a terminate without a body: $STATUS $BODY"
pass "a POST without a body needs no Content-Type"

# ---- Sec-Fetch-Site and Origin -------------------------------------------------------------
COUNT=$(curl -s "$BASE/v1/jobs" | jq '.jobs | length')
for site in cross-site same-site; do
    hdr POST /v1/jobs --json "$JOB" -H "Sec-Fetch-Site: $site"
    error_is 403 forbidden "Sec-Fetch-Site: $site"
    hdr GET /v1/jobs -H "Sec-Fetch-Site: $site"
    error_is 403 forbidden "a GET with Sec-Fetch-Site: $site (a link or an <img>)"
done
for site in same-origin none; do
    hdr POST /v1/jobs --json "$JOB" -H "Sec-Fetch-Site: $site"
    eq "Sec-Fetch-Site: $site is let in" "$STATUS" 201
done
for origin in http://evil.example null "http://127.0.0.1:$((PORT + 1))" "https://127.0.0.1:$PORT" "$ALLOWED.evil.example"; do
    hdr POST /v1/jobs --json "$JOB" -H "Origin: $origin"
    error_is 403 forbidden "Origin: $origin"
    has_header Access-Control-Allow-Origin && fail "a refused origin got a CORS header"
done
hdr GET /healthz -H "Origin: http://evil.example"
error_is 403 forbidden "/healthz from a foreign origin"
check "the log says why a page was refused" grep -q "refused a request with 403: a request made by another site's page (Sec-Fetch-Site: cross-site" "$T/server.err"
eq "once per 10 s, not once per request (10 refused so far)" "$(grep -c 'refused a request with 403' "$T/server.err")" 1
hdr POST /v1/jobs --json "$JOB" -H "Origin: http://127.0.0.1:$PORT"
eq "the server's own origin is let in" "$STATUS" 201
has_header Access-Control-Allow-Origin && pass "(and told so)"
hdr POST /v1/jobs --json "$JOB" -H "Origin: $ALLOWED" -H "Sec-Fetch-Site: cross-site"
eq "an --allow-origin origin is let in, even cross-site" "$STATUS" 201
eq "with Access-Control-Allow-Origin" "$(header Access-Control-Allow-Origin)" "$ALLOWED"
eq "and Vary: Origin" "$(header Vary)" Origin
check "and Location exposed to its scripts" grep -qi '^Access-Control-Expose-Headers:.*Location' "$T/headers"
hdr GET /v1/jobs -H "Origin: https://other.example"
eq "an allowed origin's default port and case are normalised" "$STATUS" 200
hdr GET /v1/jobs
has_header Access-Control-Allow-Origin && fail "a request without Origin got a CORS header"
pass "no CORS header without Origin"
eq "refused requests created no job" "$(curl -s "$BASE/v1/jobs" | jq '.jobs | length')" $((COUNT + 4))

# ---- CORS preflights ------------------------------------------------------------------------
hdr OPTIONS /v1/jobs -H "Origin: $ALLOWED" -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: content-type, authorization' \
    -H 'Access-Control-Request-Private-Network: true'
eq "preflight of an allowed origin" "$STATUS" 204
eq "  Allow-Origin" "$(header Access-Control-Allow-Origin)" "$ALLOWED"
check "  Allow-Methods has POST and DELETE" bash -c "grep -i '^Access-Control-Allow-Methods:' '$T/headers' | grep POST | grep -q DELETE"
check "  Allow-Headers has Authorization and Content-Type" bash -c "grep -i '^Access-Control-Allow-Headers:' '$T/headers' | grep Authorization | grep -q Content-Type"
eq "  Allow-Private-Network" "$(header Access-Control-Allow-Private-Network)" true
eq "  Vary" "$(header Vary)" Origin
hdr OPTIONS /v1/jobs -H "Origin: http://evil.example" -H 'Access-Control-Request-Method: POST'
error_is 403 forbidden "preflight of a foreign origin"
has_header Access-Control-Allow-Origin && fail "a refused preflight got a CORS header"
hdr OPTIONS /v1/jobs
eq "a plain OPTIONS lists the methods" "$STATUS" 204
check "  in Allow" grep -qi '^Allow: .*POST' "$T/headers"

# ---- Host -----------------------------------------------------------------------------------
for host in evil.example "evil.example:$PORT" 127.0.0.2 "localhost.evil.example:$PORT" '[::2]:1'; do
    hdr GET /healthz -H "Host: $host"
    error_is 421 misdirected_request "Host: $host"
done
hdr POST /v1/jobs --json "$JOB" -H "Host: rebind.example:$PORT"
error_is 421 misdirected_request "a submit to a foreign Host"
for host in "127.0.0.1:$PORT" "localhost:$PORT" "LOCALHOST" "[::1]:$PORT" "spawn.internal:$PORT" "Spawn.Internal"; do
    hdr GET /healthz -H "Host: $host"
    eq "Host: $host is a name of this server" "$STATUS" 200
done

# ---- framing ----------------------------------------------------------------------------------
# raw REQUEST: the status line's code, and whether the server then closed the connection
raw() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "cannot connect"
    (printf '%b' "$1" >&3) 2>/dev/null
    RAW=$(timeout 10 cat <&3 | tr -d '\0\r')
    exec 3<&- 3>&-
    RAW_STATUS=$(head -n 1 <<<"$RAW" | cut -d' ' -f2)
}
raw "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 17\r\nContent-Length: 17\r\n\r\n$JOB"
eq "two equal Content-Length headers: 400" "$RAW_STATUS" 400
eq "  with the error shape" "$(sed -n '/^{/p' <<<"$RAW" | jq -r .error.code)" invalid_request
check "  and the connection closed (cat ended before its 10 s)" grep -qi '^Connection: close' <<<"$RAW"
raw "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 17\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n$JOB\r\n0\r\n\r\n"
eq "Content-Length with Transfer-Encoding: 400" "$RAW_STATUS" 400
raw "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n${JOB}GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
eq "a pipelined request after a good one still works" "$(grep -c '^HTTP/1.1 ' <<<"$RAW")" 2
raw "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 17\r\nTransfer-Encoding : chunked\r\n\r\n11\r\n$JOB\r\n0\r\n\r\n"
eq "whitespace before a header's colon: 400 (RFC 9112 section 5.1)" "$RAW_STATUS $(sed -n '/^{/p' <<<"$RAW" | jq -r .error.code)" "400 invalid_request"
raw "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length : 17\r\n\r\n$JOB"
eq "the same before Content-Length's colon" "$RAW_STATUS $(sed -n '/^{/p' <<<"$RAW" | head -n 1 | jq -r .error.code)" "400 invalid_request"
START=$SECONDS
raw "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: identity\r\n\r\n$JOB"
eq "a Transfer-Encoding other than chunked: 501, at once" "$RAW_STATUS $(((SECONDS - START) < 5))" "501 1"
raw "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n11\r\n$JOB\r\n0\r\n\r\n"
eq "chunked, identity: 501" "$RAW_STATUS" 501
eq "smuggling attempts created no job" "$(curl -s "$BASE/v1/jobs" | jq '.jobs | length')" $((COUNT + 5))

# ---- 413 at once, before the body is sent ---------------------------------------------------
head -c $((50 * 1024 * 1024)) /dev/zero >"$T/big"
read -r CODE UPLOADED < <(curl -s -o "$T/body" -w '%{http_code} %{size_upload}\n' -H 'Expect: 100-continue' \
    -H 'Content-Type: application/json' --data-binary "@$T/big" "$BASE/v1/jobs")
eq "a 50 MB body with Expect: 100-continue: 413" "$CODE" 413
check "  before any of it was sent ($UPLOADED bytes)" [ "$UPLOADED" -lt 1048576 ]
eq "  in the error shape" "$(jq -r .error.code "$T/body")" payload_too_large
read -r CODE UPLOADED < <(curl -s -o "$T/body" -w '%{http_code} %{size_upload}\n' -H 'Expect:' \
    -H 'Content-Type: application/json' --data-binary "@$T/big" "$BASE/v1/jobs")
eq "without Expect it is 413 too" "$CODE" 413

# ---- 405 lists HEAD where HEAD works --------------------------------------------------------
hdr PUT /v1/jobs
error_is 405 method_not_allowed "PUT /v1/jobs"
eq "  Allow" "$(header Allow)" "GET, HEAD, POST, DELETE"
hdr POST /healthz
eq "POST /healthz: Allow" "$(header Allow)" "GET, HEAD"
eq "HEAD /healthz works" "$(curl -s -o /dev/null -w '%{http_code}' -I "$BASE/healthz")" 200
sp_stop

# ---- bad values are refused at start, with the reason -----------------------------------------
for bad in "ftp://x.example" "http://x.example/path" "http://x.example:99999" "x.example" "http://"; do
    sp_refused "--allow-origin $bad" --allow-origin "$bad"
    check "  and says why" grep -q "allow-origin must be scheme://host" "$T/refused.err"
done
for bad in "x.example:8080" "a b" "x/y" ""; do
    sp_refused "--allow-host '$bad'" --allow-host "$bad"
done

# ---- the token comes before the body limit; lists from the environment ------------------------
echo secret-token >"$T/tokens"
SPAWNPOOL_ALLOW_ORIGIN="http://a.example, http://b.example:8000" sp_start --token-file "$T/tokens"
hdr GET /healthz -H "Origin: http://b.example:8000"
eq "SPAWNPOOL_ALLOW_ORIGIN takes a comma-separated list" "$STATUS" 200
hdr GET /healthz -H "Origin: http://c.example"
eq "  and nothing else" "$STATUS" 403
head -c $((2 * 1024 * 1024)) /dev/zero >"$T/2m"
hdr POST /v1/jobs -H 'Content-Type: application/json' --data-binary "@$T/2m"
error_is 401 unauthorized "a 2 MB body without a token"
hdr POST /v1/jobs -H 'Content-Type: text/plain' --data-binary "$JOB"
error_is 401 unauthorized "a text/plain body without a token"
hdr POST /v1/jobs -H 'Authorization: Bearer secret-token' -H 'Content-Type: application/json' --data-binary "@$T/2m"
error_is 413 payload_too_large "the same body with the token"
hdr OPTIONS /v1/jobs
eq "a preflight needs no token (browsers send none)" "$STATUS" 204
sp_stop

# one HTTP thread is MHD's own polling thread: served, and no warning about a pool of size 0
sp_start --http-threads 1
eq "--http-threads 1 serves" "$(curl -s "$BASE/healthz" | jq -r .status)" ok
grep -qi "thread pool" "$T/server.err" && fail "a warning about the thread pool: $(grep -i 'thread pool' "$T/server.err")"
pass "and logs no thread-pool warning"
sp_stop
