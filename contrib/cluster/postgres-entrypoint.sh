#!/bin/sh
# The database of contrib/cluster/compose.yaml: on the first start (an empty volume) initdb,
# a role spawnpool with the password $POSTGRES_PASSWORD owning a database spawnpool, and
# password (scram) logins from the network; then the server in the foreground as PID 1.
set -eu
bin=/usr/lib/postgresql/15/bin
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pw=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
    "$bin/initdb" -D "$PGDATA" -U postgres --pwfile="$pw" --auth-local=peer \
        --auth-host=scram-sha-256 >/dev/null
    rm -f "$pw"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    quoted=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
    printf "CREATE ROLE spawnpool LOGIN PASSWORD '%s';\nCREATE DATABASE spawnpool OWNER spawnpool;\n" \
        "$quoted" | "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
    echo "postgres-entrypoint: made the database spawnpool (role spawnpool)"
fi
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
