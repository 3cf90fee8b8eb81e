#!/usr/bin/env bash
# smoke.sh - build the project's Dockerfile with the shared container smoke tool, run the
# image as the README shows, and check what the README says about it:
#
#   1. the tool builds the image and runs it with its own CMD: GET /healthz answers;
#   2. the image keeps its HEALTHCHECK (built in docker format: podman's OCI format drops it),
#      and in step 3's container the check passes;
#   3. a replaced command, `IMAGE serve --workers 2` on a named volume, keeps the image's
#      listen address, token file and data dir (they are ENV, not CMD): /healthz answers
#      with 2 workers, /v1 without the token is 401, the token read with `podman exec ... cat
#      /var/lib/spawnpool/token` submits a job that succeeds;
#   4. `podman stop` with its default timeout (10 s, then SIGKILL) while two jobs run, a
#      `sleep 600` and one that ignores SIGTERM (the longest a drain takes: shutdown grace +
#      kill grace), exits 0 and the container exits 0, before the SIGKILL;
#   5. the same container started again on the same volume says both jobs are `terminated`
#      (never `lost`) and that the first job still `succeeded`.
#
# Steps 2-5 drive podman directly the way the tool does (rootful, runc, the tool's
# containers.conf with its ulimits, --pull=never), on the image the tool built.
#
# Usage: tests/container/smoke.sh            (as root; the tool installs podman etc. itself)
#
# Environment (all optional):
#   SMOKE_TOOL=path      the smoke tool (default: <repo>/../shared/tools/container-smoke.sh)
#   SMOKE_TAG=spawnpool:smoke   image tag to build
#   SMOKE_PORT=18080     host port published on 127.0.0.1 for step 1 (steps 3-5: SMOKE_PORT+1)
#   SMOKE_*              passed through to the tool (SMOKE_READY_TIMEOUT, SMOKE_VERBOSE, ...;
#                        see `container-smoke.sh --help`)
# Exit status: 0 = all passed; the tool's status if it failed (see its --help); 3 if the tool
# is missing; 8 if a check of steps 2-5 failed. Everything the tool prints is shown.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tool=${SMOKE_TOOL:-$(dirname "$repo")/shared/tools/container-smoke.sh}
tag=${SMOKE_TAG:-spawnpool:smoke}
port=${SMOKE_PORT:-18080}
port2=$((port + 1))
keep_image=${SMOKE_KEEP_IMAGE:-1}

if [[ ! -f $tool ]]; then
  echo "smoke.sh: FAIL: container smoke tool not found at $tool (set SMOKE_TOOL=/path/to/container-smoke.sh)" >&2
  exit 3
fi
if [[ ! -x $tool ]]; then
  echo "smoke.sh: note: $tool is not executable; running it with bash" >&2
fi
if [[ ! -f $repo/Dockerfile ]]; then
  echo "smoke.sh: FAIL: no Dockerfile at $repo/Dockerfile" >&2
  exit 2
fi

# Keep HEALTHCHECK in the image: podman's default OCI image format drops it.
export BUILDAH_FORMAT=${BUILDAH_FORMAT:-docker}

# ------------------------------------------------------------ 1. build, default CMD answers
echo "smoke.sh: $tool $repo/Dockerfile $repo $tag $port:8080 /healthz" >&2
start=$SECONDS
rc=0
# the image must outlive the tool's run for the checks below; removed at the end if asked.
# The tool removes its container but not the anonymous volume of the image's VOLUME: give it
# a named one, removed below.
vol1=spawnpool-smoke-$$-1
SMOKE_KEEP_IMAGE=1 SMOKE_RUN_OPTS="${SMOKE_RUN_OPTS:-} -v $vol1:/var/lib/spawnpool" \
  bash "$tool" "$repo/Dockerfile" "$repo" "$tag" "$port:8080" /healthz || rc=$?
podman ${SMOKE_PODMAN_OPTS:-} volume rm -f "$vol1" >/dev/null 2>&1 || true
if ((rc != 0)); then
  echo "smoke.sh: FAIL: container smoke test exited with status $rc after $((SECONDS - start))s" >&2
  exit "$rc"
fi
echo "smoke.sh: PASS: $tag answered /healthz on 127.0.0.1:$port with its own CMD ($((SECONDS - start))s)" >&2

# ------------------------------------------------------------ podman as the tool runs it
export CONTAINERS_CONF=${SMOKE_STATE_DIR:-/var/tmp/container-smoke}/containers.conf
read -r -a podman_opts <<<"${SMOKE_PODMAN_OPTS:-}"
read -r -a run_opts <<<"${SMOKE_RUN_OPTS:-}"
# without systemd, podman logs an error for the HEALTHCHECK's timer at run, start and stop
# (harmless: `podman healthcheck run` below runs the check itself); that line is dropped
pm() {
  timeout --kill-after=10 120 podman "${podman_opts[@]}" "$@" 2> >(grep -v 'unable to get systemd connection' >&2)
}
ctr=spawnpool-smoke-$$
vol=spawnpool-smoke-$$
base=http://127.0.0.1:$port2
T=""
log() { echo "smoke.sh: $*" >&2; }
fail() {
  log "FAIL: $*"
  log "last container log lines ($ctr):"
  pm logs --tail 30 "$ctr" 2>&1 | sed 's/^/  | /' >&2 || true
  exit 8
}
pass() { log "PASS: $*"; }
cleanup() {
  local rc=$?
  set +e
  pm rm -f -t 0 "$ctr" >/dev/null 2>&1
  pm volume rm -f "$vol" >/dev/null 2>&1
  [[ $keep_image == 0 ]] && pm rmi -f "$tag" >/dev/null 2>&1
  exit "$rc"
}
trap cleanup EXIT

api() { curl -sS --max-time 10 -H "Authorization: Bearer $T" "$@"; }
wait_healthz() {   # until /healthz answers 200, or fail
  local i
  for i in $(seq 1 120); do
    if curl -fsS --max-time 2 -o /dev/null "$base/healthz" 2>/dev/null; then return 0; fi
    [[ $(pm inspect --format '{{.State.Running}}' "$ctr" 2>/dev/null) == true ]] ||
      fail "the container stopped before /healthz answered"
    sleep 0.5
  done
  fail "$base/healthz did not answer within 60 s"
}
job_state() { api "$base/v1/jobs/$1" | jq -r .state; }
wait_state() {   # ID STATE: until the job is in STATE (20 s at most)
  local i s
  for i in $(seq 1 40); do
    s=$(job_state "$1")
    [[ $s == "$2" ]] && return 0
    sleep 0.5
  done
  fail "job $1 is '$s', not '$2', after 20 s"
}

# ------------------------------------------------------------ 2. HEALTHCHECK kept
hc=$(pm image inspect --format '{{json .HealthCheck}}' "$tag" 2>/dev/null || true)
[[ $hc == *healthz* ]] || fail "the image has no HEALTHCHECK (got: ${hc:-nothing}); build it with --format docker"
pass "the image keeps its HEALTHCHECK: $hc"

# ------------------------------------------------------------ 3. a replaced command keeps the defaults
if ss -Hltn "sport = :$port2" 2>/dev/null | grep -q .; then fail "port $port2 is already in use"; fi
log "podman run -d --name $ctr -p 127.0.0.1:$port2:8080 -v $vol:/var/lib/spawnpool $tag serve --workers 2"
pm run -d --pull=never --name "$ctr" -p "127.0.0.1:$port2:8080" -v "$vol:/var/lib/spawnpool" \
  "${run_opts[@]}" "$tag" serve --workers 2 >/dev/null || fail "podman run failed"
wait_healthz
workers=$(curl -sS --max-time 5 "$base/healthz" | jq -r .workers.total)
[[ $workers == 2 ]] || fail "/healthz says $workers workers, not the 2 of --workers 2"
pass "serve --workers 2 listens on 0.0.0.0:8080 (from ENV) with 2 workers"
pm healthcheck run "$ctr" >/dev/null || fail "podman healthcheck run $ctr: the HEALTHCHECK fails"
pass "the HEALTHCHECK passes (podman healthcheck run)"
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$base/v1/jobs")
[[ $code == 401 ]] || fail "GET /v1/jobs without a token answered $code, not 401"
T=$(pm exec "$ctr" grep -m1 -v '^#' /var/lib/spawnpool/token) || fail "podman exec $ctr grep ... /var/lib/spawnpool/token failed"
[[ $T =~ ^[0-9a-f]{64}$ ]] || fail "the token file does not hold one generated token"
pm exec "$ctr" test -f /var/lib/spawnpool/spawnpool.db || fail "no database in the volume /var/lib/spawnpool"
pass "the token file and the database are in the volume; /v1 without the token is 401"
ok=$(api -X POST "$base/v1/jobs" --json '{"argv": ["echo", "hi"]}' | jq -r .id)
[[ $ok =~ ^[0-9]+$ ]] || fail "an authenticated submit did not return a job id"
wait_state "$ok" succeeded
[[ $(api "$base/v1/jobs/$ok/output?stream=stdout") == hi ]] || fail "job $ok's output is not 'hi'"
pass "a submit with the token from podman exec ran: job $ok succeeded, printed hi"

# ------------------------------------------------------------ 4. podman stop with running jobs
sleeper=$(api -X POST "$base/v1/jobs" --json '{"argv": ["sleep", "600"], "name": "sleeper"}' | jq -r .id)
stubborn=$(api -X POST "$base/v1/jobs" --json '{"command": "trap \"\" TERM; sleep 600", "name": "stubborn"}' | jq -r .id)
wait_state "$sleeper" running
wait_state "$stubborn" running
log "podman stop $ctr (default timeout) with job $sleeper (sleep 600) and $stubborn (ignores SIGTERM) running"
t0=$(date +%s%N)
out=$(pm stop "$ctr" 2>&1) && stop_rc=0 || stop_rc=$?
stop_ms=$((($(date +%s%N) - t0) / 1000000))
exit_code=$(pm inspect --format '{{.State.ExitCode}}' "$ctr")
log "podman stop: exit $stop_rc after $((stop_ms / 1000)).$(printf '%03d' $((stop_ms % 1000)))s; container exit code $exit_code"
[[ -n $out && $out != "$ctr" ]] && printf '%s\n' "$out" | sed 's/^/  | /' >&2
((stop_rc == 0)) || fail "podman stop exited $stop_rc"
[[ $out != *SIGKILL* ]] || fail "podman stop had to SIGKILL the container"
[[ $exit_code == 0 ]] || fail "the container exited $exit_code, not 0 (137: SIGKILLed by podman stop)"
logs=$(pm logs "$ctr" 2>&1) || true
[[ $logs == *"drained: every job"* ]] || fail "the server's log does not say it drained"
pass "podman stop exited 0 in $((stop_ms / 1000)).$(printf '%03d' $((stop_ms % 1000)))s, the server drained and exited 0"

# ------------------------------------------------------------ 5. the states, read back after a restart
pm start "$ctr" >/dev/null || fail "podman start $ctr (same volume) failed"
wait_healthz
for id in "$sleeper" "$stubborn"; do
  j=$(api "$base/v1/jobs/$id")
  s=$(jq -r .state <<<"$j")
  log "job $id: $(jq -c '{name, state, exit_code, signal, error}' <<<"$j")"
  [[ $s == terminated ]] || fail "job $id was recorded '$s' by podman stop, not 'terminated'"
done
[[ $(job_state "$ok") == succeeded ]] || fail "job $ok is no longer 'succeeded' after the restart"
logs=$(pm logs "$ctr" 2>&1) || true
[[ $logs != *"were running when the server last stopped"* ]] ||
  fail "the restarted server found jobs left running (recorded lost)"
pass "after podman stop: job $sleeper and job $stubborn terminated, none lost; job $ok still succeeded"
pm stop "$ctr" >/dev/null 2>&1 || true

echo "smoke.sh: PASS: $tag: built, answered with its own CMD and with 'serve --workers 2', kept its token and HEALTHCHECK, stopped cleanly ($((SECONDS - start))s)" >&2
