#!/usr/bin/env bash
# cluster.sh - contrib/cluster/compose.yaml with podman: PostgreSQL (Debian's postgresql-15 on
# our Dockerfile's base) and two spawnpool nodes on one database, as docs/cluster.md shows.
#
#   1. the images are built as the shared smoke tool builds (its local Debian base, rootful
#      podman with runc, --network=host for apt, docker format for HEALTHCHECK);
#   2. `podman-compose up -d` starts db, node-a and node-b; both nodes answer /healthz;
#   3. GET /v1/nodes through each node lists a and b, alive, with `this` right and each
#      node's advertised URL;
#   4. node-b shares node-a's notify-secret (it made none of its own); a job submitted to
#      node-a (with node-a's token, which node-b shares) is read through
#      node-b: it succeeds, its output is readable there, and the node that ran it is named;
#      jobs submitted to node-b all end too;
#   5. `podman-compose down -v` removes the containers and volumes, and the network is
#      removed (always, by trap).
#
# Usage: tests/container/cluster.sh   (as root; podman and podman-compose from Debian)
# Environment (optional): SMOKE_TOOL (default <repo>/../shared/tools/container-smoke.sh, for
# the base image), CLUSTER_PORT (default 18281: node-a there, node-b at +1), CLUSTER_KEEP=1
# (leave the project up for a look).
# Exit status: 0 passed; 3 a prerequisite missing; 5 a build failed; 8 a check failed.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tool=${SMOKE_TOOL:-$(dirname "$repo")/shared/tools/container-smoke.sh}
compose=$repo/contrib/cluster/compose.yaml
project=spawnpool-cluster-test-$$
port_a=${CLUSTER_PORT:-18281}
port_b=$((port_a + 1))
export SPAWNPOOL_PORT_A=$port_a SPAWNPOOL_PORT_B=$port_b
export SPAWNPOOL_DB_PASSWORD=cluster-test-$RANDOM$RANDOM
export BUILDAH_FORMAT=docker # (keep HEALTHCHECK)
start=$SECONDS

say() { echo "cluster.sh: $*" >&2; }
fail() {
    say "FAIL: $*"
    exit 8
}
ok() { echo "ok - $*"; }

command -v podman >/dev/null || { say "FAIL: podman is missing"; exit 3; }
command -v podman-compose >/dev/null || { say "FAIL: podman-compose is missing (apt-get install podman-compose)"; exit 3; }
command -v jq >/dev/null || { say "FAIL: jq is missing"; exit 3; }
[ -f "$tool" ] || { say "FAIL: the smoke tool is not at $tool (SMOKE_TOOL=...)"; exit 3; }

# ------------------------------------------------------------ 1. images
bash "$tool" --base-only >&2 || { say "FAIL: no base image"; exit 5; }
export CONTAINERS_CONF=${SMOKE_STATE_DIR:-/var/tmp/container-smoke}/containers.conf
build() { # build TAG DOCKERFILE CONTEXT
    local t0=$SECONDS
    timeout 1800 podman build --pull=never --network=host -t "$1" -f "$2" "$3" >"/tmp/$project.build.log" 2>&1 ||
        { tail -n 30 "/tmp/$project.build.log" >&2; say "FAIL: building $1"; exit 5; }
    ok "built $1 ($((SECONDS - t0)) s)"
}
build localhost/spawnpool-postgres:15 "$repo/contrib/cluster/postgres.Dockerfile" "$repo/contrib/cluster"
build localhost/spawnpool:cluster "$repo/Dockerfile" "$repo"
rm -f "/tmp/$project.build.log"

# ------------------------------------------------------------ 2. up
pc() { timeout 300 podman-compose -p "$project" -f "$compose" "$@"; }
finish() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        for s in db node-a node-b; do
            say "--- logs of $s"
            podman logs --tail 20 "${project}_${s}_1" >&2 2>&1 || true
        done
    fi
    if [ "${CLUSTER_KEEP:-0}" != 1 ]; then
        pc down -v >/dev/null 2>&1 || true
        podman network rm -f "${project}_default" >/dev/null 2>&1 || true # (down leaves it)
    fi
    say "$([ "$rc" -eq 0 ] && echo PASS || echo "FAIL ($rc)") after $((SECONDS - start)) s"
    exit "$rc"
}
trap finish EXIT
pc up -d >"/tmp/$project.up.log" 2>&1 || { cat "/tmp/$project.up.log" >&2; fail "podman-compose up"; }
rm -f "/tmp/$project.up.log"

# shellcheck source=tests/container/wait.sh
source "$here/wait.sh" # wait_until
A=http://127.0.0.1:$port_a
B=http://127.0.0.1:$port_b
healthy() { curl -fs "$1/healthz" >/dev/null; }
wait_until 120 healthy "$A" || fail "node-a never answered /healthz"
wait_until 120 healthy "$B" || fail "node-b never answered /healthz"
ok "node-a ($A) and node-b ($B) answer /healthz ($((SECONDS - start)) s from the start)"

TOKEN=$(podman exec "${project}_node-a_1" grep -m1 -v '^#' /var/lib/spawnpool/token)
[ -n "$TOKEN" ] || fail "no token in node-a's volume"
api() { curl -s -H "Authorization: Bearer $TOKEN" "$@"; }
# the key that signs notify_url callbacks is node-a's on both nodes: node-b, given node-a's
# (SPAWNPOOL_NOTIFY_SECRET_FILE), made no secret of its own in its data dir
podman exec "${project}_node-a_1" test -s /var/lib/spawnpool/notify-secret ||
    fail "node-a made no notify-secret in its volume"
! podman exec "${project}_node-b_1" test -e /var/lib/spawnpool/notify-secret ||
    fail "node-b made a notify-secret of its own: its callbacks would be signed with another key"
ok "node-b signs callbacks with node-a's notify-secret (none of its own)"

# ------------------------------------------------------------ 3. the nodes
listing() { api "$1/v1/nodes" | jq -c '[.nodes[] | [.name, .alive, .this, .url]]'; }
both_listed() { [ "$(listing "$1")" == "$2" ]; }
want_a="[[\"a\",true,true,\"$A\"],[\"b\",true,false,\"$B\"]]"
want_b="[[\"a\",true,false,\"$A\"],[\"b\",true,true,\"$B\"]]"
wait_until 60 both_listed "$A" "$want_a" || fail "node-a lists: $(listing "$A"), want $want_a"
wait_until 60 both_listed "$B" "$want_b" || fail "node-b lists: $(listing "$B"), want $want_b"
ok "each node lists a and b, alive, itself as this, with their URLs"

# ------------------------------------------------------------ 4. a job through the other node
# shellcheck disable=SC2016 # (the $(hostname) is the job's, run in the container)
ID=$(api "$A/v1/jobs" --json '{"command": "echo hello from $(hostname)"}' | jq -r .id)
[[ $ID =~ ^[0-9]+$ ]] || fail "submit to node-a: $ID"
JOB=$(api "$B/v1/jobs/$ID/wait?timeout=60")
[ "$(jq -r .state <<<"$JOB")" == succeeded ] || fail "job $ID through node-b: $JOB"
NODE=$(jq -r .node <<<"$JOB")
[ "$NODE" == a ] || [ "$NODE" == b ] || fail "job $ID ran on node '$NODE'"
ok "job $ID submitted to node-a succeeded, seen through node-b (it ran on node $NODE)"
has_output() { api "$B/v1/jobs/$ID/output" | grep -q '^hello from '; }
wait_until 60 has_output || fail "job $ID's output through node-b: '$(api "$B/v1/jobs/$ID/output")'"
ok "its output through node-b: $(api "$B/v1/jobs/$ID/output")"
IDS=$(for _ in 1 2 3 4 5 6; do api "$B/v1/jobs" --json '{"argv": ["sleep", "0.5"]}' | jq -r .id; done | paste -sd, -)
DONE=$(api "$A/v1/jobs/wait?ids=$IDS&timeout=60")
[ "$(jq -r .done <<<"$DONE")" == true ] || fail "jobs $IDS (submitted to node-b) did not all end: $DONE"
RAN=$(api "$A/v1/jobs?limit=6" | jq -r '[.jobs[] | select(.state == "succeeded") | .node] | group_by(.) | map("\(.[0]): \(length)") | join(", ")')
ok "6 jobs submitted to node-b all succeeded, waited for through node-a (ran on $RAN)"
