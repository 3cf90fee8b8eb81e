#!/usr/bin/env bash
# The PostgreSQL schema against SQLite's (issue 15): a fresh server makes its SQLite database
# (the embedded migrations/), a throwaway PostgreSQL cluster (tests/pg/pgctl.sh) gets
# migrations/postgresql/*.sql applied in order by psql, each in one transaction. Then the two
# must have the same tables; columns (name, kind: integer/text/blob/real, NOT NULL, place in
# the primary key); indexes (columns, unique, partial and the predicate); foreign keys (and
# what a delete does); CHECKs. The multi-node part's nodes table, jobs.node, jobs.epoch and
# jobs_by_node are in both (SQLite's migration 0012) and must be alike too. PostgreSQL also must store every integer as BIGINT (a kind of "integer" is bigint
# only) and index text only with COLLATE "C". Last, the same SQL run on both gives the same
# answers: group_concat of a job's dependencies, names in byte order, a name-prefix range,
# what a deleted job's cascade leaves, a state outside the CHECK refused.
# The test database is made with ICU's en-US collation: a text column without COLLATE "C"
# would sort 'B' after 'a' there, unlike SQLite.
# Skipped (SKIPPED: no PostgreSQL) without initdb, unless SPAWNPOOL_REQUIRE_POSTGRES=1.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SPAWNPOOL_BIN=${SPAWNPOOL_BIN:-$ROOT/build/spawnpool}
PGCTL="$ROOT/tests/pg/pgctl.sh"

if ! bash "$PGCTL" available >/dev/null; then
    if [ "${SPAWNPOOL_REQUIRE_POSTGRES:-0}" = 1 ]; then
        echo "FAIL: no PostgreSQL server (initdb) and SPAWNPOOL_REQUIRE_POSTGRES=1"
        exit 1
    fi
    echo "SKIPPED: no PostgreSQL (apt-get install postgresql)"
    exit 0
fi

T=$(mktemp -d /tmp/sp-pgschema.XXXXXX)
chmod 0711 "$T" # the cluster in $T/pg runs as an unprivileged user (pgctl.sh)
SP_PID=""
cleanup() {
    local rc=$?
    [ -z "$SP_PID" ] || kill -KILL "$SP_PID" 2>/dev/null
    [ -z "$SP_PID" ] || wait "$SP_PID" 2>/dev/null
    bash "$PGCTL" stop "$T/pg" || rc=1
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
FAILS=0
fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}
pass() { echo "ok - $*"; }

# --- SQLite: the database a fresh server makes
"$SPAWNPOOL_BIN" serve --listen 127.0.0.1:0 --data-dir "$T/sqlite" --workers 1 \
    >"$T/sp.out" 2>"$T/sp.err" &
SP_PID=$!
deadline=$((SECONDS + 60))
until grep -q "listening on" "$T/sp.out"; do
    if ! kill -0 "$SP_PID" 2>/dev/null || ((SECONDS >= deadline)); then
        cat "$T/sp.err"
        echo "FAIL: the server did not start"
        exit 1
    fi
    sleep 0.05
done
kill -TERM "$SP_PID"
wait "$SP_PID"
SP_PID=""
DB="$T/sqlite/spawnpool.db"
[ -f "$DB" ] || {
    echo "FAIL: no $DB"
    exit 1
}
sq() { sqlite3 -batch -bail -separator '|' "$DB" "$@"; }

# --- PostgreSQL: the migrations in order, on a database with a linguistic default collation
BASE=$(bash "$PGCTL" start "$T/pg") || exit 1
psql -X -q -v ON_ERROR_STOP=1 "$BASE" \
    -c "CREATE DATABASE spawnpool_schema TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'" ||
    exit 1
PGURL=${BASE/:\/\/\/postgres?/:\/\/\/spawnpool_schema?}
[ "$PGURL" != "$BASE" ] || {
    echo "FAIL: pgctl.sh's URL is not postgresql:///postgres?...: $BASE"
    exit 1
}
pg() { psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 "$PGURL" "$@"; }
n_migrations=0
for f in "$ROOT"/migrations/postgresql/[0-9]*.sql; do
    pg -1 -f "$f" >"$T/migrate.out" 2>&1 || {
        cat "$T/migrate.out"
        echo "FAIL: applying $(basename "$f")"
        exit 1
    }
    n_migrations=$((n_migrations + 1))
done
pass "$n_migrations PostgreSQL migration(s) applied"

# compare WHAT SQLITE_FILE PG_FILE: equal once PostgreSQL's own lines are left out
# PostgreSQL's own: the output chunks (migrations/postgresql/0002_output.sql) and the
# time each event was written (0003_event_order.sql)
PG_ONLY='^(job_output[|]|job_events[|]written[|])' 
compare() {
    sort -o "$2" "$2"
    grep -Ev "$PG_ONLY" "$3" | sort >"$3.common"
    if diff -u --label "sqlite: $1" --label "postgresql: $1" "$2" "$3.common" >"$T/diff"; then
        pass "$1: the same ($(wc -l <"$2") compared)"
    else
        cat "$T/diff"
        fail "$1 differ (- SQLite, + PostgreSQL)"
    fi
}

# Columns: table|column|kind|not null|place in the primary key. SQLite lets a rowid table's
# non-integer primary key be NULL (queues.name): a primary key counts as NOT NULL (the store
# never writes a NULL there; PostgreSQL refuses one).
sq "SELECT m.name, p.name,
        CASE upper(p.type) WHEN 'INTEGER' THEN 'integer' WHEN 'TEXT' THEN 'text'
             WHEN 'BLOB' THEN 'blob' WHEN 'REAL' THEN 'real' ELSE 'other:' || p.type END,
        p.\"notnull\" OR p.pk > 0, p.pk
    FROM sqlite_master m, pragma_table_info(m.name) p
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'" >"$T/sq.columns"
PG_TABLES="SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r'"
pg -c "SELECT t.relname, a.attname,
        CASE format_type(a.atttypid, a.atttypmod) WHEN 'bigint' THEN 'integer'
             WHEN 'text' THEN 'text' WHEN 'bytea' THEN 'blob' WHEN 'double precision' THEN 'real'
             ELSE 'other:' || format_type(a.atttypid, a.atttypmod) END,
        a.attnotnull::int, coalesce(array_position(pk.conkey, a.attnum), 0)
    FROM ($PG_TABLES) t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0
         AND NOT a.attisdropped
    LEFT JOIN pg_constraint pk ON pk.conrelid = t.oid AND pk.contype = 'p'" >"$T/pg.columns"
compare "tables and columns" "$T/sq.columns" "$T/pg.columns"
sq "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'" \
    >"$T/n_tables"

# what the multi-node part needs is there
for want in 'jobs|node|text|0|0' 'jobs|epoch|integer|0|0' 'nodes|name|text|1|1' 'nodes|url|text|1|0' \
    'nodes|started_at|integer|1|0' 'nodes|heartbeat_at|integer|1|0' 'nodes|version|text|1|0' \
    'nodes|epoch|integer|1|0'; do
    grep -qxF "$want" "$T/pg.columns" || fail "PostgreSQL lacks the column $want"
done
pg -c "SELECT count(*) FROM pg_indexes WHERE indexname = 'jobs_by_node'" | grep -qx 1 ||
    fail "PostgreSQL lacks jobs_by_node"

# Indexes (but the primary keys, compared with the columns):
# table|index|unique|partial|columns|predicate (lower case, no parentheses)
sq "SELECT m.tbl_name, m.name, l.\"unique\", l.partial,
        (SELECT group_concat(name) FROM (SELECT name FROM pragma_index_info(m.name) ORDER BY seqno)),
        CASE WHEN l.partial THEN lower(substr(m.sql, instr(upper(m.sql), ' WHERE ') + 7)) ELSE '' END
    FROM sqlite_master m, pragma_index_list(m.tbl_name) l
    WHERE l.name = m.name AND m.type = 'index' AND m.sql IS NOT NULL" |
    sed -E 's/[()]//g; s/ +/ /g; s/ *;? *$//' >"$T/sq.indexes"
pg -c "SELECT t.relname, i.relname, x.indisunique::int, (x.indpred IS NOT NULL)::int,
        (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
           FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),
        coalesce(lower(pg_get_expr(x.indpred, x.indrelid)), '')
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN ($PG_TABLES) t ON t.oid = x.indrelid
    WHERE NOT x.indisprimary" | sed -E 's/::text//g; s/[()]//g; s/ +/ /g' >"$T/pg.indexes"
compare "indexes" "$T/sq.indexes" "$T/pg.indexes"

# Foreign keys: table|column|referenced table|column|on delete
sq "SELECT m.name, f.\"from\", f.\"table\", f.\"to\", upper(f.on_delete)
    FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'" >"$T/sq.fks"
pg -c "SELECT t.relname, a.attname, r.relname, ra.attname,
        CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL'
             WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' ELSE 'SET DEFAULT' END
    FROM pg_constraint c JOIN ($PG_TABLES) t ON t.oid = c.conrelid
    JOIN pg_class r ON r.oid = c.confrelid
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
    WHERE c.contype = 'f'" >"$T/pg.fks"
compare "foreign keys" "$T/sq.fks" "$T/pg.fks"

# CHECKs: table|column|in|'a','b',... or table|column|=|N (the only two forms the schema has;
# another form shows as other|... and differs)
check_line() { # TABLE CHECK-TEXT (SQLite's or pg_get_constraintdef's)
    local table=$1 def=$2 col values
    col=$(sed -E 's/^CHECK \(+([a-z_]+).*/\1/' <<<"$def")
    if grep -qE "^CHECK \(+[a-z_]+ (IN \(|= ANY \(ARRAY\[)" <<<"$def"; then
        values=$(grep -oE "'[^']*'" <<<"$def" | paste -sd, -)
        echo "$table|$col|in|$values"
    elif [[ "$def" =~ ^CHECK\ \(+([a-z_]+)\ =\ ([0-9]+)\)+$ ]]; then
        echo "$table|${BASH_REMATCH[1]}|=|${BASH_REMATCH[2]}"
    else
        echo "$table|other|$def"
    fi
}
sq "SELECT name, replace(replace(sql, char(10), ' '), char(13), ' ') FROM sqlite_master
    WHERE type = 'table' AND sql LIKE '%CHECK%'" |
    while IFS='|' read -r table sql; do
        grep -oE "CHECK \([a-z_]+ (IN \([^)]*\)|= [0-9]+)\)" <<<"$sql" | tr -s ' ' |
            while read -r def; do check_line "$table" "$def"; done
    done >"$T/sq.checks"
pg -c "SELECT t.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c
       JOIN ($PG_TABLES) t ON t.oid = c.conrelid WHERE c.contype = 'c'" |
    sed -E "s/::text//g" |
    while IFS='|' read -r table def; do check_line "$table" "$def"; done >"$T/pg.checks"
compare "CHECK constraints" "$T/sq.checks" "$T/pg.checks"
[ -s "$T/sq.checks" ] || fail "no CHECK found in SQLite's schema: the extraction is broken"

# PostgreSQL only: every integer is bigint (above: any other integer is a kind "other:"),
# and every text column an index holds (a primary key too) is COLLATE "C"
pg -c "SELECT DISTINCT t.relname || '.' || a.attname
    FROM pg_index x JOIN ($PG_TABLES) t ON t.oid = x.indrelid
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey::int2[])
    WHERE a.atttypid = 'text'::regtype
      AND a.attcollation <> (SELECT oid FROM pg_collation WHERE collname = 'C'
                             AND collnamespace = 'pg_catalog'::regnamespace)" >"$T/pg.collation"
if [ -s "$T/pg.collation" ]; then
    fail "indexed text without COLLATE \"C\": $(paste -sd' ' "$T/pg.collation")"
else
    pass "every indexed text column is COLLATE \"C\""
fi

# --- the same SQL on both, the same answers (the store's SQL is written once)
probe() { # SQL with @BLOB@ for a blob literal
    sed "s/@BLOB@/$1/g" <<'EOF'
INSERT INTO jobs (id, name, argv, cwd, state, created_at) VALUES
    (1, 'a', @BLOB@, '/', 'queued', 1), (2, 'B', @BLOB@, '/', 'queued', 2),
    (3, 'b', @BLOB@, '/', 'queued', 3), (4, '_x', @BLOB@, '/', 'queued', 4),
    (5, 'build-1', @BLOB@, '/', 'queued', 5), (6, 'build.1', @BLOB@, '/', 'queued', 6),
    (7, 'Z', @BLOB@, '/', 'queued', 7), (8, 'build', @BLOB@, '/', 'queued', 8),
    (9, 'é', @BLOB@, '/', 'queued', 9), (10, NULL, @BLOB@, '/', 'queued', 10);
INSERT INTO job_dependencies (job_id, depends_on) VALUES (1, 3), (1, 2), (1, 10), (2, 3);
SELECT 'deps', id, (SELECT group_concat(depends_on) FROM (SELECT depends_on FROM job_dependencies
    WHERE job_id = jobs.id ORDER BY depends_on) d) FROM jobs ORDER BY id;
SELECT 'order', name FROM jobs WHERE name IS NOT NULL ORDER BY name, id;
SELECT 'prefix', id, name FROM jobs WHERE name >= 'build-' AND name < 'build.' ORDER BY id DESC;
SELECT 'env', id, length(env) FROM jobs WHERE id = 1;
DELETE FROM jobs WHERE id = 3;
SELECT 'cascade', job_id, depends_on FROM job_dependencies ORDER BY job_id, depends_on;
SELECT 'after', id, (SELECT group_concat(depends_on) FROM (SELECT depends_on FROM job_dependencies
    WHERE job_id = jobs.id ORDER BY depends_on) d) FROM jobs WHERE id IN (1, 2) ORDER BY id;
EOF
}
cp "$DB" "$T/probe.db" # (with foreign keys on, as the store runs SQLite)
{ echo "PRAGMA foreign_keys = ON;" && probe "x'6c7300'"; } | sqlite3 -batch -bail -separator '|' "$T/probe.db" >"$T/sq.probe" 2>&1
probe "'\\\\x6c7300'" >"$T/pg.probe.sql"
pg -c 'BEGIN' -f "$T/pg.probe.sql" -c 'ROLLBACK' >"$T/pg.probe" 2>&1
if diff -u --label sqlite --label postgresql "$T/sq.probe" "$T/pg.probe" >"$T/diff"; then
    pass "the same SQL, the same answers on both ($(wc -l <"$T/sq.probe") rows)"
else
    cat "$T/diff"
    fail "the same SQL answers differently (- SQLite, + PostgreSQL)"
fi
grep -qx 'deps|1|2,3,10' "$T/pg.probe" || fail "group_concat on PostgreSQL: $(grep deps "$T/pg.probe")"

# a state outside the CHECK is refused by both
bad="INSERT INTO jobs (argv, cwd, state, created_at) VALUES (x'00', '/', 'bogus', 1)"
if sqlite3 "$T/probe.db" "$bad" 2>/dev/null; then fail "SQLite took state 'bogus'"; fi
if pg -c "${bad/x\'00\'/\'\\x00\'}" 2>/dev/null; then
    fail "PostgreSQL took state 'bogus'"
else
    pass "a state outside the CHECK is refused"
fi

[ "$FAILS" -eq 0 ] || exit 1
echo "PASS: $(cat "$T/n_tables") tables, $(wc -l <"$T/sq.columns") columns, $(wc -l <"$T/sq.indexes") indexes, $(wc -l <"$T/sq.fks") foreign keys, $(wc -l <"$T/sq.checks") checks alike"
