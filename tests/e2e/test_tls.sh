#!/usr/bin/env bash
# TLS: --tls-cert / --tls-key serve the same API over HTTPS (a self-signed certificate made
# here); plain HTTP to it fails without harming the server; the two flags go together.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "# SKIP: no openssl to make a certificate"; exit 0; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null || fail "openssl req"
sp_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
[[ $BASE == https://127.0.0.1:* ]] || fail "address line says $BASE"
pass "the first line says https"
TLS=(--cacert "$T/cert.pem")
eq "healthz over TLS" "$(curl -s "${TLS[@]}" "$BASE/healthz" | jq -r .status)" ok
ID=$(curl -s "${TLS[@]}" -X POST --json '{"argv":["echo","over tls"]}' "$BASE/v1/jobs" | jq -r .id)
eq "a job over TLS" "$(curl -s "${TLS[@]}" "$BASE/v1/jobs/$ID/wait?timeout=60" | jq -r .state)" succeeded
eq "its output" "$(curl -s "${TLS[@]}" "$BASE/v1/jobs/$ID/output")" "over tls"
eq "an untrusted certificate is refused by the client" "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" 000
eq "plain HTTP gets no answer" "$(curl -s -o /dev/null -w '%{http_code}' "${BASE/https/http}/healthz")" 000
eq "and the server is fine" "$(curl -s "${TLS[@]}" "$BASE/healthz" | jq -r .status)" ok
sp_stop
sp_refused "a certificate without its key" --tls-cert "$T/cert.pem"
check "saying why" grep -q "go together" "$T/refused.err"
