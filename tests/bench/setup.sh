#!/usr/bin/env bash
# Set-up of the benchmark harness (Debian 12, as root; sudo is used otherwise):
#  1. installs what is missing of the peers and tools (GNU parallel, task-spooler, wrk, the
#     sqlite3 shell, curl, jq, procps, the PostgreSQL server for cluster.sh) and of the build
#     dependencies;
#  2. builds the harness's C programs (spawn_loop, bench_client, bare_server, cluster_client) into
#     tests/bench/build/ (BENCH_BUILD overrides) with tests/bench/CMakeLists.txt;
#  3. builds spawnpool itself into build/ if SPAWNPOOL_BIN is unset and build/spawnpool is
#     missing (a fresh clone); an existing binary is left as it is.
# Then: bash tests/bench/run.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BENCH_BUILD:-$HERE/build}

PACKAGES=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
          libpq-dev postgresql sqlite3 curl jq procps parallel task-spooler wrk)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "setup: every package is installed"
fi

# task-spooler's binary is tsp on Debian (moreutils has a ts of its own); older packages say ts
tsp_bin=$(dpkg -L task-spooler | grep -E '/bin/(tsp|ts)$' | head -n1 || true)
[ -x "$tsp_bin" ] || { echo "setup: task-spooler installed no tsp/ts binary" >&2; exit 1; }
echo "setup: task-spooler is $tsp_bin"

cmake -S "$HERE" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
echo "setup: harness programs in $BUILD"

if [ -z "${SPAWNPOOL_BIN:-}" ] && [ ! -x "$ROOT/build/spawnpool" ]; then
    echo "setup: building spawnpool into $ROOT/build"
    cmake -S "$ROOT" -B "$ROOT/build" >/dev/null
    cmake --build "$ROOT/build" -j"$(nproc)"
fi
echo "setup: done; run: bash tests/bench/run.sh (and bash tests/bench/cluster.sh)"
