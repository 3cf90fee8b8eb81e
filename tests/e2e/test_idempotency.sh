#!/usr/bin/env bash
# Idempotency: the same Idempotency-Key (or "idempotency_key") within 24 h returns the first
# job with 200 instead of creating another, if the request is the same (however written);
# another request under the key is 409 idempotency_mismatch; concurrent retries create one
# job; it survives a restart.
source "$(dirname "$0")/lib.sh"
sp_start
DB="$T/data/spawnpool.db"
count() { sqlite3 "$DB" "SELECT count(*) FROM jobs"; }

post_key() { # KEY BODY: sets STATUS and BODY
    STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Idempotency-Key: $1" --json "$2" "$BASE/v1/jobs")
    BODY=$(cat "$T/body")
}
post_key k1 '{"argv":["true"]}'
eq "first: 201" "$STATUS" 201
FIRST=$(jq -r .id <<<"$BODY")
post_key k1 '{"argv":["true"]}'
eq "again: 200" "$STATUS" 200
eq "again: the first job" "$(jq -r .id <<<"$BODY")" "$FIRST"
eq "one job in all" "$(count)" 1
eq "the key is shown in the job" "$(jq -r .idempotency_key <<<"$BODY")" k1
eq "and by GET" "$(job_field "$FIRST" .idempotency_key)" k1
eq "and in the list" "$(curl -s "$BASE/v1/jobs?limit=1" | jq -r '.jobs[0].idempotency_key')" k1

req POST /v1/jobs '{"argv":["true"],"idempotency_key":"k2"}'
eq "field: 201" "$STATUS" 201
eq "the field's key is shown at submit" "$(jq -r .idempotency_key <<<"$BODY")" k2
K2=$(jq -r .id <<<"$BODY")
req POST /v1/jobs '{"argv":["true"],"idempotency_key":"k2"}'
eq "field again: 200 and the first job" "$STATUS $(jq -r .id <<<"$BODY")" "200 $K2"
post_key k3 '{"argv":["true"]}'
check "another key: another job" test "$(jq -r .id <<<"$BODY")" -gt "$K2"
submit '{"argv":["true"]}'
eq "no key: null" "$(jq -c .idempotency_key <<<"$BODY")" null

# arrays: a key per job; known keys give the earlier job, the others are created
req POST /v1/jobs '[{"argv":["true"],"idempotency_key":"k2"},{"argv":["true"],"idempotency_key":"k4"}]'
eq "array with one known key: 201" "$STATUS" 201
eq "the known one is the earlier job" "$(jq -r '.jobs[0].id' <<<"$BODY")" "$K2"
check "the other is new" test "$(jq -r '.jobs[1].id' <<<"$BODY")" -gt "$K2"
req POST /v1/jobs '[{"argv":["true"],"idempotency_key":"k2"},{"argv":["true"],"idempotency_key":"k4"}]'
eq "all known: 200" "$STATUS" 200

# the same key with another body: 409 idempotency_mismatch (as Stripe answers), nothing made
BEFORE=$(count)
post_key k1 '{"argv":["false"]}'
eq "another body under a used key: 409" "$STATUS" 409
eq "its code and field" "$(jq -r '[.error.code, .error.field] | join(" ")' <<<"$BODY")" "idempotency_mismatch idempotency_key"
check "the message names the key" jq -e '.error.message | test("k1")' <<<"$BODY"
expect_error 409 idempotency_mismatch idempotency_key POST /v1/jobs '{"argv":["true"],"idempotency_key":"k2","priority":1}'
eq "nothing made" "$(count)" "$BEFORE"
# the same request written otherwise (key order, spacing, the key as header or field) is the same
post_key k7 '{"argv":["true"],"name":"n","env":{"A":"1","B":"2"},"timeout":5}'
eq "k7: 201" "$STATUS" 201
K7=$(jq -r .id <<<"$BODY")
post_key k7 '{ "timeout": 5, "env": {"B": "2", "A": "1"},
  "name": "n", "argv": ["true"] }'
eq "reordered and respaced: the first job" "$STATUS $(jq -r .id <<<"$BODY")" "200 $K7"
req POST /v1/jobs '{"argv":["true"],"name":"n","env":{"A":"1","B":"2"},"timeout":5,"idempotency_key":"k7"}'
eq "the key as a field: the first job" "$STATUS $(jq -r .id <<<"$BODY")" "200 $K7"
# a job stored before fingerprints were kept (an older database) matches any request
sqlite3 "$DB" "UPDATE jobs SET idempotency_fingerprint = NULL WHERE id = $K7"
post_key k7 '{"argv":["false"]}'
eq "a key without a fingerprint: the first job, as before" "$STATUS $(jq -r .id <<<"$BODY")" "200 $K7"
# arrays: a job whose key names another request refuses the whole array
expect_error 409 idempotency_mismatch "[1].idempotency_key" POST /v1/jobs '[{"argv":["true"],"idempotency_key":"k9"},{"argv":["false"],"idempotency_key":"k2"}]'
check "the message names the key" jq -e '.error.message | test("k2")' <<<"$BODY"
eq "nothing of the array made" "$(count)" "$((BEFORE + 1))"

# bad uses
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Idempotency-Key: k5" --json '[{"argv":["true"]}]' "$BASE/v1/jobs")
eq "header on an array: 400" "$STATUS $(jq -r .error.field "$T/body")" "400 Idempotency-Key"
post_key k5 '{"argv":["true"],"idempotency_key":"k6"}'
eq "header and field differ: 400" "$STATUS $(jq -r .error.field <<<"$BODY")" "400 idempotency_key"
expect_error 400 invalid_argument idempotency_key POST /v1/jobs '{"argv":["true"],"idempotency_key":""}'
BEFORE=$(count)
expect_error 400 invalid_argument "[2].idempotency_key" POST /v1/jobs '[{"argv":["true"],"idempotency_key":"k2"},{"argv":["true"],"idempotency_key":"k8"},{"argv":["true"],"idempotency_key":"k8"}]'
eq "nothing of it stored" "$(count)" "$BEFORE"

# concurrent retries with one key: one job
BEFORE=$(count)
PIDS=()
for i in $(seq 10); do
    curl -s -o /dev/null -H "Idempotency-Key: race" --json '{"argv":["true"]}' "$BASE/v1/jobs" &
    PIDS+=($!)
done
wait "${PIDS[@]}" # (not a bare wait: the server is a child of this shell too)
eq "10 concurrent submits with one key make one job" "$(( $(count) - BEFORE ))" 1

# after 24 h the key is free again (the first job's time moved back by a day)
sqlite3 "$DB" "UPDATE jobs SET created_at = created_at - 90000000 WHERE id = $FIRST"
post_key k1 '{"argv":["true"]}'
eq "an expired key makes a new job" "$STATUS" 201
NEWER=$(jq -r .id <<<"$BODY")

# the key survives a restart
sp_stop
sp_start
post_key k1 '{"argv":["true"]}'
eq "after a restart: 200 and the same job" "$STATUS $(jq -r .id <<<"$BODY")" "200 $NEWER"
post_key k1 '{"argv":["true"],"name":"other"}'
eq "after a restart another body is still refused" "$STATUS $(jq -r .error.code <<<"$BODY")" "409 idempotency_mismatch"
sp_stop
