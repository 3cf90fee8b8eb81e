/* migrate: schema versions tracked by PRAGMA user_version, applied atomically. */
#include "server/migrate.h"

#include <stdio.h>

int migrate_apply(sqlite3 *db, const struct migration *list, size_t count, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) goto sqlfail;
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0) goto sqlfail;
    if ((size_t)version > count) {
        snprintf(err, errlen,
                 "the database has schema version %d but this binary knows only %zu: "
                 "it was written by a newer spawnpool",
                 version, count);
        return -1;
    }
    if ((size_t)version == count) return 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) goto sqlfail;
    for (size_t i = (size_t)version; i < count; i++) {
        char *msg = NULL;
        if (sqlite3_exec(db, list[i].sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "migration %s failed: %s", list[i].name, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", count);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "recording schema version failed: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
sqlfail:
    snprintf(err, errlen, "reading the schema version failed: %s", sqlite3_errmsg(db));
    return -1;
}
