/* migrate: schema versions, applied atomically: SQLite tracks its version in PRAGMA
 * user_version; PostgreSQL in the table schema_version, and there nodes starting at once
 * take turns (an advisory lock held by the migrating transaction). */
#include "server/migrate.h"

#include <stdio.h>

/* The schema version (0: none yet), or -1 (db_errmsg). In a PostgreSQL transaction. */
static int read_version(struct db *db)
{
    bool pg = db_kind(db) == DB_POSTGRES;
    /* the lock first: nodes starting together on a new database would otherwise race to
     * create the table (PostgreSQL's CREATE ... IF NOT EXISTS is not safe against that) */
    if (pg &&
        db_exec(db, "SELECT pg_advisory_xact_lock(5370886); "
                    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)") < 0)
        return -1;
    struct db_stmt *st;
    const char *sql =
        pg ? "SELECT coalesce(max(version), 0) FROM schema_version" : "PRAGMA user_version";
    if (db_prepare(db, sql, false, &st) < 0) return -1;
    int version = db_step(st) == DB_ROW ? (int)db_col_int(st, 0) : -1;
    db_finalize(st);
    return version;
}

int migrate_apply(struct db *db, const struct migration *list, size_t count, char *err,
                  size_t errlen)
{
    bool pg = db_kind(db) == DB_POSTGRES;
    if (db_begin(db) < 0) goto sqlfail;
    int version = read_version(db);
    if (version < 0) goto sqlfail;
    if ((size_t)version > count) {
        snprintf(err, errlen,
                 "the database has schema version %d but this binary knows only %zu: "
                 "it was written by a newer spawnpool",
                 version, count);
        db_exec(db, "ROLLBACK");
        return -1;
    }
    for (size_t i = (size_t)version; i < count; i++) {
        if (db_exec(db, list[i].sql) < 0) {
            snprintf(err, errlen, "migration %s failed: %s", list[i].name, db_errmsg(db));
            db_exec(db, "ROLLBACK");
            return -1;
        }
    }
    char sql[96];
    if (pg)
        snprintf(sql, sizeof sql,
                 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%zu)", count);
    else
        snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", count);
    if (((size_t)version < count && db_exec(db, sql) < 0) || db_exec(db, "COMMIT") < 0) {
        snprintf(err, errlen, "recording schema version failed: %s", db_errmsg(db));
        db_exec(db, "ROLLBACK");
        return -1;
    }
    return 0;
sqlfail:
    snprintf(err, errlen, "reading the schema version failed: %s", db_errmsg(db));
    if (db_in_tx(db)) db_exec(db, "ROLLBACK");
    return -1;
}
