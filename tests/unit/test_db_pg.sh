#!/usr/bin/env bash
# test_db_pg.sh: runs test_db on a throwaway PostgreSQL: initdb into a temporary directory (as
# an unprivileged user when run as root: initdb refuses root), the server on a Unix socket in
# that directory only (no TCP), stopped and removed on exit whatever happens.
#   TEST_DB_BIN=build/tests/test_db tests/unit/test_db_pg.sh [--bench N]
# Exits 77 (skipped) when no PostgreSQL server is installed (Debian: postgresql).
set -euo pipefail

bin=${TEST_DB_BIN:?TEST_DB_BIN: the test_db program}
pgbin=${PG_BIN:-}
if [ -z "$pgbin" ]; then
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { pgbin=$d; break; }
    done
fi
[ -z "$pgbin" ] && command -v initdb >/dev/null && pgbin=$(dirname "$(command -v initdb)")
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "SKIP: no PostgreSQL server (initdb) installed"
    exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/spawnpool-pg.XXXXXX")
as=()
if [ "$(id -u)" -eq 0 ]; then
    user=${PG_TEST_USER:-nobody}
    chown "$user" "$dir"
    as=(runuser -u "$user" --)
fi
chmod 700 "$dir"
ctl=("${as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60)

cleanup() {
    local rc=$?
    if [ -f "$dir/data/postmaster.pid" ]; then
        "${ctl[@]}" stop -m immediate >/dev/null 2>&1 || true
    fi
    if [ $rc -ne 0 ] && [ -f "$dir/log" ]; then
        echo "--- PostgreSQL log (last 30 lines)"
        tail -n 30 "$dir/log"
    fi
    rm -rf "$dir"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cd "$dir" # (the server's user may not enter the caller's directory)
"${as[@]}" "$pgbin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = 20
shared_buffers = 16MB
EOF
"${ctl[@]}" start >/dev/null

url="postgresql:///postgres?host=$dir&user=postgres"
SP_TEST_PG_CTL="${ctl[*]}" "$bin" pg "$url" "$@"
