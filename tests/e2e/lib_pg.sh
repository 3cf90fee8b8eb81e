# lib_pg.sh: the e2e suite on PostgreSQL (sourced by lib.sh). With SPAWNPOOL_TEST_DB=postgres
# every server a test starts (sp_start, sp_refused) keeps its store in a PostgreSQL database of
# its own, one per data dir (a restart with the same data dir finds its jobs again, as with
# the SQLite file there). The cluster is $SPAWNPOOL_PG_DIR, started once for the whole suite
# (the ctest fixture pg_start, tests/pg/pgctl.sh); without it a test starts a private one in
# $T/pg and stops it at exit. A test's own look into the store goes through `sqlite3 "$DB"
# "SQL"`, which here runs SQL on the test's database with psql (the test database has
# SQLite's group_concat(text, text) and instr(): tests/pg/test_compat.sql).
SP_PG_OWN="" # the private cluster this test started ("" if none)
SP_PG_URL="" # the database of the last server started

sp_on_postgres() { [ "${SPAWNPOOL_TEST_DB:-sqlite}" == postgres ]; }

# sp_sqlite_only REASON: the test looks at what only SQLite has (its file, its locks): on
# PostgreSQL it is skipped, saying why.
sp_sqlite_only() {
    sp_on_postgres || return 0
    echo "SKIPPED: SQLite only: $*"
    exit 0
}

# sp_pg_cluster: sets SP_PG_CLUSTER, the cluster's dir, started here if the suite did not
# start one.
SP_PG_CLUSTER=""
sp_pg_cluster() {
    if [ -n "${SPAWNPOOL_PG_DIR:-}" ]; then
        SP_PG_CLUSTER=$SPAWNPOOL_PG_DIR
        if [ ! -f "$SP_PG_CLUSTER/.pgctl" ] && [ "${SPAWNPOOL_REQUIRE_POSTGRES:-0}" != 1 ]; then
            echo "SKIPPED: no PostgreSQL cluster in $SP_PG_CLUSTER (tests/pg/suite.sh start)"
            exit 0
        fi
    elif [ -z "$SP_PG_OWN" ]; then
        SP_PG_OWN=$T/pg
        SP_PG_CLUSTER=$SP_PG_OWN
        chmod 0711 "$T" # (the cluster runs as an unprivileged user: it must reach its dir)
        "$SP_PGCTL" start "$SP_PG_OWN" >/dev/null ||
            fail "could not start a PostgreSQL cluster in $SP_PG_OWN"
    fi
}
SP_PGCTL=$(cd "$(dirname "${BASH_SOURCE[0]}")/../pg" && pwd)/pgctl.sh

# sp_pg_stop: stops the private cluster (cleanup).
sp_pg_stop() {
    [ -n "$SP_PG_OWN" ] || return 0
    "$SP_PGCTL" stop "$SP_PG_OWN" >/dev/null 2>&1
    SP_PG_OWN=""
}

# sp_pg_url DATA_DIR: sets SP_PG_URL to the URL of DATA_DIR's database, made (with the
# test's SQL helpers) on first use. Its URL is kept in DATA_DIR/.test-database: a test that
# removes the data dir to start afresh gets a fresh database too.
sp_pg_url() {
    local dir name
    sp_pg_cluster
    dir=$(realpath -m "$1")
    # (a name of its own each time: a server may still use the database of a data dir that
    # was removed under it)
    name="t_$(printf '%s' "$dir" | sha256sum | cut -c1-12)_$$_$RANDOM$RANDOM"
    if [ ! -f "$dir/.test-database" ]; then
        local url
        url=$("$SP_PGCTL" createdb "$SP_PG_CLUSTER" "$name") || fail "could not create database $name"
        psql -XAtq -v ON_ERROR_STOP=1 "$url" -f "${SP_PGCTL%/*}/test_compat.sql" >/dev/null ||
            fail "could not add the test helpers to $name"
        mkdir -p "$dir"
        echo "$url" >"$dir/.test-database"
    fi
    SP_PG_URL=$(cat "$dir/.test-database")
    export SP_PG_URL # (for the tests' `bash -c "sqlite3 ..."`)
}

# sp_db_flags FLAGS...: sets SP_DB_FLAGS to the --database flag for a server started with
# FLAGS (its data dir: the last --data-dir among them, else $T/data); none on SQLite.
SP_DB_FLAGS=()
sp_db_flags() {
    SP_DB_FLAGS=()
    sp_on_postgres || return 0
    local dir=$T/data prev=""
    for a in "$@"; do
        [ "$prev" == --data-dir ] && dir=$a
        [[ $a == --data-dir=* ]] && dir=${a#--data-dir=}
        prev=$a
    done
    sp_pg_url "$dir"
    SP_DB_FLAGS=(--database "$SP_PG_URL")
}

if sp_on_postgres; then
    # sqlite3 DB [.dot-commands...] SQL: the SQL on the database of the server started last
    sqlite3() {
        local sql=""
        shift
        for a in "$@"; do [[ $a == .* ]] || sql=$a; done
        [ -n "$SP_PG_URL" ] || {
            echo "sqlite3 before any server was started" >&2
            return 1
        }
        psql -XAtq -v ON_ERROR_STOP=1 -F '|' "$SP_PG_URL" -c "$sql"
    }
    export -f sqlite3
fi

# sp_pg_session SQL: starts a psql session of its own on $SP_PG_URL that runs SQL and stays
# open (as another node's batch in flight would: e.g. "BEGIN; ... FOR UPDATE;"), its output in
# $T/sql.out; sp_pg_session_end SQL sends it more (e.g. "COMMIT;") and closes its input.
sp_pg_session() {
    mkfifo "$T/sql.in"
    psql -XAtq "$SP_PG_URL" <"$T/sql.in" >"$T/sql.out" 2>&1 &
    BG_PIDS+=($!)
    exec 7>"$T/sql.in"
    echo "$1" >&7
}
sp_pg_session_end() {
    echo "$1" >&7
    exec 7>&-
}
