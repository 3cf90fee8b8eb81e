#!/usr/bin/env bash
# Task templates (multiprocessing's Process subclass): the config file's "tasks" define
# argv with {param} slots and defaults; params are substituted inside argv elements and
# never reach a shell; mistakes are 400s naming the param. allow_commands=false runs
# templates only (argv and command get 403).
source "$(dirname "$0")/lib.sh"
cat >"$T/config.json" <<'JSON'
{
  "tasks": {
    "greet": {"argv": ["/bin/sh", "-c", "echo \"$GREETING $0 from $1\"", "{who}", "{place}"],
              "queue": "greetings", "timeout": 30, "env": {"GREETING": "hello"}, "max_attempts": 2},
    "flag": {"argv": ["echo", "--value={v}", "{v}"]},
    "prog": {"argv": ["{p}", "x"], "cwd": "/tmp"}
  }
}
JSON
sp_start --config "$T/config.json"

expect 200 GET /v1/tasks
eq "templates listed" "$(jq -c '[.tasks[] | {name, params}]' <<<"$BODY")" \
    '[{"name":"greet","params":["who","place"]},{"name":"flag","params":["v"]},{"name":"prog","params":["p"]}]'
eq "commands allowed by default" "$(jq -r .allow_commands <<<"$BODY")" true
eq "each template's env and cwd defaults listed" "$(jq -c '[.tasks[] | [.env, .cwd]]' <<<"$BODY")" \
    '[[{"GREETING":"hello"},null],[{},null],[{},"/tmp"]]'

req POST /v1/jobs '{"task":"greet","params":{"who":"ann; rm -rf /tmp/x $(id)","place":"x y"}}'
eq "submitted from a template" "$STATUS" 201
ID=$(jq -r .id <<<"$BODY")
eq "template defaults" "$(jq -c '[.queue,.timeout,.max_attempts,.task]' <<<"$BODY")" '["greetings",30,2,"greet"]'
eq "params recorded" "$(jq -c .params <<<"$BODY")" '{"place":"x y","who":"ann; rm -rf /tmp/x $(id)"}'
wait_job "$ID" >/dev/null
eq "params reach argv whole, never a shell" "$(curl -s "$BASE/v1/jobs/$ID/output")" 'hello ann; rm -rf /tmp/x $(id) from x y'

req POST /v1/jobs '{"task":"flag","params":{"v":5},"priority":3,"env":{"GREETING":"x"}}'
eq "numbers are params too; fields override defaults" "$(jq -c '[.argv,.priority,.queue]' <<<"$BODY")" \
    '[["echo","--value=5","5"],3,"default"]'
req POST /v1/jobs '{"task":"greet","params":{"who":"a","place":"b"},"env":{"GREETING":"hey"}}'
ID=$(jq -r .id <<<"$BODY")
wait_job "$ID" >/dev/null
eq "the submitter's env beats the template's" "$(curl -s "$BASE/v1/jobs/$ID/output")" "hey a from b"

req POST /v1/jobs '{"task":"flag","params":{"v":0.1}}'
eq "a decimal param reads as written" "$(jq -c .argv <<<"$BODY")" '["echo","--value=0.1","0.1"]'
expect_error 400 invalid_argument params.p POST /v1/jobs '{"task":"prog","params":{"p":""}}'
expect_error 400 invalid_argument params.place POST /v1/jobs '{"task":"greet","params":{"who":"a"}}'
expect_error 400 invalid_argument params.zzz POST /v1/jobs '{"task":"flag","params":{"v":1,"zzz":2}}'
expect_error 400 invalid_argument params.v POST /v1/jobs '{"task":"flag","params":{"v":[1]}}'
expect_error 400 invalid_argument task POST /v1/jobs '{"task":"nope","params":{}}'
expect_error 400 invalid_argument task POST /v1/jobs '{"task":"flag","params":{"v":1},"argv":["true"]}'
expect_error 400 invalid_argument task POST /v1/jobs '{"params":{"v":1}}'
expect_error 400 invalid_argument params POST /v1/jobs '{"task":"flag","params":[1]}'
sp_stop

# templates only
cat >"$T/strict.json" <<'JSON'
{"allow_commands": false, "tasks": {"flag": {"argv": ["echo", "{v}"]}}}
JSON
sp_start --config "$T/strict.json"
expect_error 403 forbidden argv POST /v1/jobs '{"argv":["id"]}'
expect_error 403 forbidden command POST /v1/jobs '{"command":"id"}'
expect_error 403 forbidden argv POST /v1/jobs '{"task":"flag","params":{"v":1},"argv":["id"]}'
req POST /v1/jobs '{"task":"flag","params":{"v":"ok"}}'
eq "a template still runs" "$STATUS" 201
eq "allow_commands shown" "$(curl -s "$BASE/v1/tasks" | jq -r .allow_commands)" false
sp_stop

# a broken template is refused at start, saying which
echo '{"tasks": {"bad": {"argv": []}}}' >"$T/bad.json"
sp_refused "a template without argv" --config "$T/bad.json"
check "it names the task" grep -q "task bad" "$T/refused.err"

# defaults a job would inherit unchecked are checked at start (found by tests/fuzz/fuzz_config):
# a relative cwd, a queue name the API could never address, an out-of-range priority
for def in '"cwd": "tmp"' '"queue": "no such/queue"' '"priority": 99999999999' '"timeout": 1e12'; do
    echo "{\"tasks\": {\"t\": {\"argv\": [\"/bin/true\"], $def}}}" >"$T/bad.json"
    sp_refused "a template with $def" --config "$T/bad.json"
    key=${def%%:*}
    check "template with $def: names the key" grep -q "task t: bad or unknown key '${key//\"/}'" "$T/refused.err"
done
echo '{"queues": {"a b": {"concurrency": 1}}}' >"$T/bad.json"
sp_refused "a config queue with a space in its name" --config "$T/bad.json"
check "it names the queue" grep -q "queue 'a b'" "$T/refused.err"
