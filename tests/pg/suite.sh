#!/usr/bin/env bash
# usage: suite.sh start DIR | stop DIR
# The PostgreSQL cluster the e2e suite's second run (pg_test_*: SPAWNPOOL_TEST_DB=postgres)
# shares: the ctest fixture `pg` starts it before them and stops it after. Without
# PostgreSQL (no initdb) it says so and exits 0 (the tests then skip), unless
# SPAWNPOOL_REQUIRE_POSTGRES=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
start)
    if ! bash "$here/pgctl.sh" available >/dev/null 2>&1; then
        [ "${SPAWNPOOL_REQUIRE_POSTGRES:-0}" != 1 ] || {
            echo "FAIL: no PostgreSQL server (initdb) and SPAWNPOOL_REQUIRE_POSTGRES=1"
            exit 1
        }
        echo "SKIPPED: no PostgreSQL server (initdb): the suite's PostgreSQL run is skipped"
        exit 0
    fi
    bash "$here/pgctl.sh" stop "$2" >/dev/null 2>&1 || true # (a cluster a killed run left)
    bash "$here/pgctl.sh" start "$2"
    ;;
stop) bash "$here/pgctl.sh" stop "$2" ;;
*)
    sed -n '2s/^# //p' "$0" >&2
    exit 2
    ;;
esac
