/* db_pg_notify: LISTEN/NOTIFY on a PostgreSQL connection (db_listen, db_listen_fd,
 * db_notifications). A listening connection is one of its own: it runs nothing else, so
 * notifications are read as they come, without waiting for a statement's answer. */
#include <stdio.h>
#include <string.h>

#include "server/db_pg_internal.h"

int db_listen(struct db *db, const char *channel)
{
    if (db->kind != DB_POSTGRES) return 0; /* (SQLite: one process, nothing to hear) */
    struct pgdb *d = PGDB(db);
    char *quoted = PQescapeIdentifier(d->conn, channel, strlen(channel));
    if (!quoted) {
        pg_set_error(d, "", false, "cannot quote the channel name");
        return -1;
    }
    char sql[160];
    snprintf(sql, sizeof sql, "LISTEN %s", quoted);
    PQfreemem(quoted);
    return db_exec(db, sql);
}

int db_listen_fd(struct db *db)
{
    return db->kind == DB_POSTGRES ? PQsocket(PGDB(db)->conn) : -1;
}

int db_notifications(struct db *db, void (*fn)(void *ctx, const char *payload), void *ctx)
{
    if (db->kind != DB_POSTGRES) return 0;
    struct pgdb *d = PGDB(db);
    if (PQconsumeInput(d->conn) == 0 || PQstatus(d->conn) != CONNECTION_OK) {
        pg_set_error(d, "08006", true, "the listening connection is lost: %s",
                     PQerrorMessage(d->conn));
        return -1;
    }
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(d->conn)) != NULL) {
        fn(ctx, note->extra ? note->extra : "");
        PQfreemem(note);
        n++;
    }
    return n;
}
