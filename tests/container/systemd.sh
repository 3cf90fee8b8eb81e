#!/usr/bin/env bash
# systemd.sh - prove the installed systemd unit under a real systemd (podman --systemd=always):
#
#   1. `make install PREFIX=/usr/local DESTDIR=<tmp>/stage` puts the binary, the unit, the
#      sysusers.d snippet, the default config and the bash completion where they belong;
#      an image FROM debian:bookworm with systemd gets them (tests/container/systemd.Dockerfile:
#      systemd-sysusers makes the user, `systemctl enable spawnpool`);
#   2. systemd boots; spawnpool.service becomes active, which for Type=notify means the
#      server sent READY=1 (its STATUS= text is the unit's StatusText); a job runs through
#      curl with the generated token, without $NOTIFY_SOCKET in its environment, and the
#      hardening leaves it a writable /tmp and cwd;
#   3. `systemctl reload` with a new token file: the new token works, the old one is 401,
#      StatusText says "reloaded" (RELOADING=1 then READY=1), the main pid is the same;
#   4. `systemctl stop` while a `sleep 600` and a job that ignores SIGTERM run: the drain
#      (shutdown_grace 3 + kill_grace 2 in the test's config) ends well within
#      TimeoutStopSec, the unit's Result is success (exit 0, no SIGKILL by systemd);
#   5. `systemctl start` again on the same data dir: both jobs are `terminated` (never
#      `lost`), the first still `succeeded`.
#
# The base image comes from the shared container smoke tool (--base-only: a local debootstrap
# of bookworm, tagged debian:bookworm), podman runs as that tool runs it (rootful, runc, its
# containers.conf). Run as root after a build (make build): `bash tests/container/systemd.sh`.
#
# Environment (optional): SMOKE_TOOL (the tool), SYSTEMD_TAG=spawnpool:systemd-test,
# SYSTEMD_KEEP=1 (leave the container running after a failure, to look inside).
# Exit status: 0 all passed, 3 tool missing, 5 build failed, 8 a check failed.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tool=${SMOKE_TOOL:-$(dirname "$repo")/shared/tools/container-smoke.sh}
tag=${SYSTEMD_TAG:-spawnpool:systemd-test}
ctr=spawnpool-systemd-$$
tmp=$(mktemp -d /var/tmp/spawnpool-systemd.XXXXXX)
log() { echo "systemd.sh: $*" >&2; }
pass() { log "PASS: $*"; }

[[ -f $tool ]] || { log "FAIL: container smoke tool not found at $tool (set SMOKE_TOOL)"; exit 3; }
[[ $(id -u) -eq 0 ]] || { log "FAIL: run as root (rootful podman)"; exit 3; }

export CONTAINERS_CONF=${SMOKE_STATE_DIR:-/var/tmp/container-smoke}/containers.conf
pm() { timeout --kill-after=10 180 podman "$@"; }
inside() { pm exec "$ctr" "$@"; }   # a command inside the container
fail() {
  log "FAIL: $*"
  log "journal of spawnpool.service (last 40 lines):"
  inside journalctl -u spawnpool --no-pager -n 40 2>&1 | sed 's/^/  | /' >&2 || true
  inside systemctl status spawnpool --no-pager 2>&1 | sed 's/^/  | /' >&2 || true
  exit 8
}
cleanup() {
  local rc=$?
  set +e
  if [[ $rc -ne 0 && ${SYSTEMD_KEEP:-0} == 1 ]]; then
    log "kept container $ctr (SYSTEMD_KEEP=1): podman exec -it $ctr bash"
  else
    pm rm -f -t 5 "$ctr" >/dev/null 2>&1
  fi
  rm -rf --one-file-system "$tmp"
  exit "$rc"
}
trap cleanup EXIT

# ------------------------------------------------------------ 1. install into a stage, build
log "make install PREFIX=/usr/local DESTDIR=$tmp/stage"
make -C "$repo" install PREFIX=/usr/local DESTDIR="$tmp/stage" JOBS=2 >"$tmp/install.log" 2>&1 ||
  { tail -20 "$tmp/install.log" >&2; log "FAIL: make install"; exit 5; }
for f in bin/spawnpool lib/systemd/system/spawnpool.service lib/sysusers.d/spawnpool.conf \
  etc/spawnpool/spawnpool.json share/bash-completion/completions/spawnpool; do
  [[ -f $tmp/stage/usr/local/$f ]] || { log "FAIL: make install did not write /usr/local/$f"; exit 8; }
done
grep -q '^ExecStart=/usr/local/bin/spawnpool serve --config /usr/local/etc/spawnpool/spawnpool.json$' \
  "$tmp/stage/usr/local/lib/systemd/system/spawnpool.service" ||
  { log "FAIL: the installed unit does not name the prefix's binary and config"; exit 8; }
pass "make install PREFIX=/usr/local DESTDIR=stage: binary, unit, sysusers.d, config, completion"

bash "$tool" --base-only >"$tmp/base.log" 2>&1 || { tail -20 "$tmp/base.log" >&2; log "FAIL: base image"; exit 5; }
cp "$here/systemd.Dockerfile" "$tmp/Dockerfile"
log "podman build -t $tag (FROM debian:bookworm + systemd + the stage)"
pm build --pull=never --network host -t "$tag" "$tmp" >"$tmp/build.log" 2>&1 ||
  { tail -30 "$tmp/build.log" >&2; log "FAIL: podman build"; exit 5; }

# shellcheck source=tests/container/wait.sh
source "$here/wait.sh" # wait_until

# ------------------------------------------------------------ 2. boot, readiness, a job
pm run -d --pull=never --systemd=always --name "$ctr" "$tag" >/dev/null || fail "podman run --systemd=always"
# until systemd has settled (running, or degraded by some other unit)
settled() { state=$(inside systemctl is-system-running 2>/dev/null || true); [[ $state == running || $state == degraded ]]; }
wait_until 60 settled || fail "systemd did not boot (is-system-running: $state)"
active=$(inside systemctl is-active spawnpool || true)
[[ $active == active ]] || fail "spawnpool.service is '$active', not active, once boot is over"
show() { inside systemctl show -P "$1" spawnpool; }
[[ $(show Type) == notify ]] || fail "the unit is Type=$(show Type)"
status=$(show StatusText)
[[ $status == "listening on port 8080 with "*" workers" ]] ||
  fail "StatusText is '$status': the server's READY=1/STATUS= did not reach systemd"
pid=$(show MainPID)
pass "systemd booted ($state); spawnpool.service active after READY=1 (pid $pid, status: $status)"
inside sh -c 'systemctl status spawnpool --no-pager | head -12' | sed 's/^/  | /' >&2 || true

S=http://127.0.0.1:8080
api() { local tok=$1; shift; inside curl -sS --max-time 10 -H "Authorization: Bearer $tok" "$@"; }
code() { local tok=$1; shift; inside curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$@"; }
job_is() { s=$(api "$1" "$S/v1/jobs/$2" | jq -r .state); [[ $s == "$3" ]]; } # TOKEN ID STATE
wait_state() { wait_until 30 job_is "$@" || fail "job $2 is '$s', not '$3', after 30 s"; }
T=$(inside grep -m1 -v '^#' /var/lib/spawnpool/token) || fail "no token file at /var/lib/spawnpool/token"
[[ $T =~ ^[0-9a-f]{64}$ ]] || fail "the token file does not hold one generated token"
owner=$(inside stat -c %U /var/lib/spawnpool/spawnpool.db)
[[ $owner == spawnpool ]] || fail "the database belongs to $owner, not spawnpool"
id=$(api "$T" -X POST "$S/v1/jobs" --json \
  '{"command": "echo hi; env | grep -c NOTIFY_SOCKET; echo t > /tmp/x && cat /tmp/x; echo w > f && cat f; id -un"}' | jq -r .id)
[[ $id =~ ^[0-9]+$ ]] || fail "a submit with the token did not return a job id"
wait_state "$T" "$id" succeeded
out=$(api "$T" "$S/v1/jobs/$id/output?stream=stdout" | tr '\n' ' ')
[[ $out == "hi 0 t w spawnpool " ]] ||
  fail "job $id printed '$out', not 'hi 0 t w spawnpool ' (echo; NOTIFY_SOCKET count; /tmp; cwd; user)"
mech=$(inside curl -sS "$S/healthz" | jq -r .kill_mechanism)
pass "job $id succeeded as spawnpool, no NOTIFY_SOCKET in its env, /tmp and cwd writable (kill mechanism: $mech)"

# ------------------------------------------------------------ 3. reload rotates tokens
T2=$(openssl rand -hex 32 2>/dev/null || inside sh -c 'head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n"')
inside sh -c "umask 077; printf '%s\n' '$T2' >/var/lib/spawnpool/token.new && chown spawnpool: /var/lib/spawnpool/token.new && mv /var/lib/spawnpool/token.new /var/lib/spawnpool/token"
inside systemctl reload spawnpool || fail "systemctl reload spawnpool failed"
token_works() { [[ $(code "$1" "$S/v1/jobs") == 200 ]]; }
wait_until 30 token_works "$T2" || fail "the new token is refused after systemctl reload"
[[ $(code "$T" "$S/v1/jobs") == 401 ]] || fail "the old token still works after systemctl reload"
reloaded() { [[ $(show StatusText) == reloaded ]]; }
wait_until 10 reloaded || fail "StatusText is '$(show StatusText)', not 'reloaded' (RELOADING=1, READY=1)"
[[ $(show ActiveState) == active ]] || fail "after the reload the unit is $(show ActiveState)"
[[ $(show MainPID) == "$pid" ]] || fail "the reload restarted the server (pid $pid -> $(show MainPID))"
pass "systemctl reload: new token 200, old 401, same pid $pid, status 'reloaded'"
T=$T2

# ------------------------------------------------------------ 4. stop drains
sleeper=$(api "$T" -X POST "$S/v1/jobs" --json '{"argv": ["sleep", "600"], "name": "sleeper"}' | jq -r .id)
stubborn=$(api "$T" -X POST "$S/v1/jobs" --json '{"command": "trap \"\" TERM; sleep 600", "name": "stubborn"}' | jq -r .id)
wait_state "$T" "$sleeper" running
wait_state "$T" "$stubborn" running
t0=$(date +%s%N)
inside systemctl stop spawnpool || fail "systemctl stop spawnpool failed"
ms=$((($(date +%s%N) - t0) / 1000000))
result=$(show Result) main_status=$(show ExecMainStatus) active=$(show ActiveState)
log "systemctl stop took $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s; Result=$result ExecMainStatus=$main_status ActiveState=$active"
[[ $result == success && $main_status == 0 && $active == inactive ]] ||
  fail "the stop did not end cleanly (Result=$result, exit status $main_status, $active)"
((ms < 40000)) || fail "the stop took ${ms} ms: the drain did not end within the graces"
inside journalctl -u spawnpool --no-pager -o cat | grep -q 'drained: every job' ||
  fail "the journal does not say the drain recorded every job"
pass "systemctl stop drained with two jobs running (one ignoring SIGTERM): exit 0, Result=success"

# ------------------------------------------------------------ 5. the data dir after a restart
inside systemctl start spawnpool || fail "systemctl start spawnpool (again) failed"
[[ $(show ActiveState) == active ]] || fail "the second start is $(show ActiveState)"
for j in "$sleeper" "$stubborn"; do
  s=$(api "$T" "$S/v1/jobs/$j" | jq -r .state)
  [[ $s == terminated ]] || fail "after the restart job $j is '$s', not 'terminated'"
done
s=$(api "$T" "$S/v1/jobs/$id" | jq -r .state)
[[ $s == succeeded ]] || fail "after the restart job $id is '$s', not 'succeeded'"
pass "after systemctl start: jobs $sleeper and $stubborn terminated (not lost), job $id succeeded"
log "all checks passed"
