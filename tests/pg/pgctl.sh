#!/usr/bin/env bash
# usage: pgctl.sh start DIR | createdb DIR NAME | restart DIR | stop DIR | available
#
# A throwaway PostgreSQL cluster for the tests, all of it in DIR (Debian's postgresql
# package; never a system cluster):
#   start DIR         initdb into DIR (unless done before), start the server on a Unix
#                     socket in DIR/sock, wait until it answers; print the base URL (the
#                     `postgres` database). Already running: print the URL again.
#   createdb DIR NAME a fresh, empty database NAME (dropped first if it exists); print its
#                     URL: postgresql:///NAME?host=DIR/sock&user=spawnpool
#   restart DIR       stop (fast) and start again (started if it was stopped)
#   stop DIR          stop (fast), then remove DIR. Nothing there: nothing to do.
#   available         exit 0 and print the server binaries' directory if initdb is there
#
# Layout: DIR/data (the cluster), DIR/sock (its socket), DIR/server.log, DIR/.pgctl (the
# mark that DIR is this script's: stop removes no directory without it). DIR must be short
# enough for a Unix socket path (about 90 bytes).
# As root (initdb refuses root) the server runs as PGCTL_USER (default: spawnpool-pg, a system
# user made on first use; not nobody, whose processes the tests count), and DIR is
# chowned to it; every directory above DIR must be traversable by that user.
# Settings for a test suite: fsync off, small shared_buffers, max_connections 300 (many
# servers at once), pg_stat_statements loaded; trust authentication (no password). The superuser role is
# `spawnpool`. PGCTL_PORT=N at the first start also listens on 127.0.0.1:N (default: the
# socket only); DIR/.pgctl keeps the port for the later commands, and the URLs name it.
# PG_BINDIR names the server's binaries (default: the newest /usr/lib/postgresql/*/bin).
# PGCTL_TIMEOUT: seconds to wait for a start or stop (default 60).
set -euo pipefail

usage() {
    sed -n '2s/^# //p' "$0" >&2
    exit 2
}
die() {
    echo "pgctl: $*" >&2
    exit 1
}

ROLE=spawnpool
TIMEOUT=${PGCTL_TIMEOUT:-60}

bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        echo "$PG_BINDIR"
        return
    fi
    local d
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n 1)
    if [ -n "$d" ]; then
        echo "$d"
    elif command -v initdb >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}
BIN=$(bindir)

need_server() {
    if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ] || [ ! -x "$BIN/pg_ctl" ]; then
        die "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql (or set PG_BINDIR)"
    fi
}

# the user the server runs as: ourselves, or PGCTL_USER when we are root
RUN_USER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    # a user of its own (made once), not nobody: tests count nobody's processes (--run-as)
    RUN_USER=${PGCTL_USER:-spawnpool-pg}
    if [ "$RUN_USER" == spawnpool-pg ] && ! id "$RUN_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER" 2>/dev/null ||
            id "$RUN_USER" >/dev/null 2>&1 || RUN_USER=nobody
    fi
    id "$RUN_USER" >/dev/null 2>&1 || die "no user $RUN_USER to run PostgreSQL as (set PGCTL_USER)"
fi

# as_user CMD...: CMD as the server's user, from DIR (the caller's cwd may be closed to it)
as_user() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$DIR" && runuser -u "$RUN_USER" -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

# the postmaster's pid if it is alive: a postgres process, not a zombie (a postmaster killed
# hard may wait a while for its reaper, and pg_ctl status would still call it running)
postmaster() {
    local pid
    pid=$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    local stat comm
    read -r stat comm < <(ps -o stat=,comm= -p "$pid" 2>/dev/null || true)
    [ "$comm" = postgres ] && [ "${stat:0:1}" != Z ] || return 1
    echo "$pid"
}

running() { postmaster >/dev/null; }

# the port: the one DIR/.pgctl recorded at its first start, else PGCTL_PORT, else 5432 (on
# the socket alone it only names the socket file)
port() {
    local p
    p=$(sed -n 's/^port=//p' "$DIR/.pgctl" 2>/dev/null || true)
    echo "${p:-${PGCTL_PORT:-5432}}"
}

url() {
    local p
    p=$(port)
    printf 'postgresql:///%s?host=%s/sock&user=%s%s\n' "$1" "$DIR" "$ROLE" \
        "$([ "$p" = 5432 ] || echo "&port=$p")"
}

# waits until the server accepts connections (pg_ctl -w saw its pid file; this sees it answer)
wait_ready() {
    local deadline=$((SECONDS + TIMEOUT))
    until "$BIN/pg_isready" -q -h "$DIR/sock" -p "$(port)" -U "$ROLE" -d postgres; do
        if ((SECONDS >= deadline)); then
            tail -n 20 "$DIR/server.log" >&2 2>/dev/null || true
            die "the server in $DIR did not answer within ${TIMEOUT}s (log: $DIR/server.log)"
        fi
        sleep 0.1
    done
}

init() {
    if [ -e "$DIR" ] && [ ! -f "$DIR/.pgctl" ] && [ -n "$(ls -A "$DIR")" ]; then
        die "$DIR exists, is not empty and is not a pgctl.sh cluster: refusing to use it"
    fi
    local sock
    sock="$DIR/sock/.s.PGSQL.$(port)"
    [ "${#sock}" -le 107 ] || die "$DIR is too long for a Unix socket path ($sock: ${#sock} > 107 bytes)"
    mkdir -p "$DIR/sock"
    [ -s "$DIR/.pgctl" ] || echo "port=$(port)" >"$DIR/.pgctl"
    [ "$(id -u)" -ne 0 ] || chown -R "$RUN_USER" "$DIR"
    as_user test -w "$DIR" ||
        die "$RUN_USER cannot write $DIR (is every directory above it traversable by $RUN_USER?)"
    [ -f "$DIR/data/PG_VERSION" ] && return
    rm -rf "$DIR/data" # a half-made one, from an initdb that failed
    if ! as_user "$BIN/initdb" -D "$DIR/data" -U "$ROLE" -A trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$DIR/initdb.log" 2>&1; then
        cat "$DIR/initdb.log" >&2
        die "initdb into $DIR/data failed"
    fi
    local listen="''"
    [ -z "${PGCTL_PORT:-}" ] || listen="'127.0.0.1'"
    cat >>"$DIR/data/postgresql.conf" <<EOF

# pgctl.sh: a throwaway cluster for the tests
listen_addresses = $listen
port = $(port)
unix_socket_directories = '$DIR/sock'
max_connections = 300
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
}

start() {
    need_server
    if running; then
        wait_ready
        url postgres
        return
    fi
    init
    # a server killed hard leaves its lock files naming its pid, which may still be a zombie
    # the new postmaster would take for a server still running
    rm -f "$DIR/data/postmaster.pid" "$DIR"/sock/.s.PGSQL.*.lock
    # (pg_stat_statements: test_cluster_claims.sh counts the claims' statements; given here,
    # not in postgresql.conf, so that a cluster made before this line has it too)
    if ! as_user "$BIN/pg_ctl" start -D "$DIR/data" -l "$DIR/server.log" -w -t "$TIMEOUT" \
        -o "-c shared_preload_libraries=pg_stat_statements" >/dev/null; then
        tail -n 20 "$DIR/server.log" >&2 2>/dev/null || true
        die "pg_ctl start failed (log: $DIR/server.log)"
    fi
    wait_ready
    url postgres
}

stop() {
    [ -e "$DIR" ] || return 0
    [ -f "$DIR/.pgctl" ] || die "$DIR is not a pgctl.sh cluster (no $DIR/.pgctl): not removing it"
    if [ -n "$BIN" ] && running; then
        if ! as_user "$BIN/pg_ctl" stop -D "$DIR/data" -m fast -w -t "$TIMEOUT" >/dev/null; then
            # still up after the timeout: the postmaster by its pid, immediate shutdown
            local pid
            if pid=$(postmaster); then
                kill -QUIT "$pid" 2>/dev/null || true
                local deadline=$((SECONDS + TIMEOUT))
                while postmaster >/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
                ! postmaster >/dev/null || die "the server in $DIR (pid $pid) does not stop"
            fi
        fi
    fi
    rm -rf "$DIR"
}

restart() {
    need_server
    if running; then
        if ! as_user "$BIN/pg_ctl" restart -D "$DIR/data" -m fast -l "$DIR/server.log" -w \
            -t "$TIMEOUT" >/dev/null; then
            tail -n 20 "$DIR/server.log" >&2 2>/dev/null || true
            die "pg_ctl restart failed (log: $DIR/server.log)"
        fi
        wait_ready
        url postgres
    else
        start
    fi
}

createdb() {
    local name=$1
    [[ "$name" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
        die "database name '$name': use lower-case letters, digits and _ (at most 63)"
    need_server
    running || die "no server running in $DIR (pgctl.sh start $DIR first)"
    local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/sock" -p "$(port)" -U "$ROLE" -d postgres)
    "${psql[@]}" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 ||
        die "could not drop the database $name in $DIR"
    "${psql[@]}" -c "CREATE DATABASE $name" >/dev/null || die "could not create the database $name in $DIR"
    url "$name"
}

[ $# -ge 1 ] || usage
cmd=$1
if [ "$cmd" = available ]; then
    [ $# -eq 1 ] || usage
    [ -n "$BIN" ] && [ -x "$BIN/initdb" ] || exit 1
    echo "$BIN"
    exit 0
fi
[ $# -ge 2 ] || usage
[ -n "$2" ] || usage
DIR=$(realpath -m -- "$2")
case "$cmd" in
start | stop | restart) [ $# -eq 2 ] || usage ;;
createdb) [ $# -eq 3 ] || usage ;;
*) usage ;;
esac
case "$cmd" in
start) start ;;
stop) stop ;;
restart) restart ;;
createdb) createdb "$3" ;;
esac
