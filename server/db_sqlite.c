/* db_sqlite: the db.h API on SQLite. A write connection is put in WAL mode with
 * synchronous=NORMAL and foreign keys on; a read-only one is query_only. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/db_internal.h"

struct sdb {
    struct db base;
    sqlite3 *db;
};
struct sstmt {
    struct db_stmt base;
    sqlite3_stmt *st;
    sqlite3 *db;
};

#define SDB(d) ((struct sdb *)(d))
#define SST(s) (((struct sstmt *)(s))->st)

int db_sqlite_open(struct db **out, const char *path, int flags, char *err, size_t errlen)
{
    /* no global count of SQLite's memory: it takes one mutex around every allocation of
     * every connection, which the readers and the writer would all contend for. It must come
     * before SQLite is first used (the first open; a later call changes nothing). */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    struct sdb *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->base.kind = DB_SQLITE;
    int oflags = SQLITE_OPEN_NOMUTEX;
    if (flags & DB_READONLY)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | (flags & DB_NOCREATE ? 0 : SQLITE_OPEN_CREATE);
    /* a reader maps no bytes of the database rather than copy them into its page cache: a
     * map saved 5-30% of a random read's cost, but every page a reader ever touched stayed in
     * the master's RSS (a count over a million queued jobs left it at 180 MiB against the 64
     * MiB budget; 39 MiB without), per connection. The page cache (2 MiB a connection) serves
     * the hot rows either way. */
    const char *setup = flags & DB_READONLY
                            ? "PRAGMA query_only = 1; PRAGMA mmap_size = 0;"
                            : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                              "PRAGMA foreign_keys = ON;";
    char *msg = NULL;
    if (sqlite3_open_v2(path, &d->db, oflags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 d->db ? sqlite3_errmsg(d->db) : "out of memory");
    } else if (sqlite3_exec(d->db, setup, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "configuring database %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
    } else {
        *out = &d->base;
        return 0;
    }
    sqlite3_close(d->db);
    free(d);
    return -1;
}

void db_sqlite_close(struct db *db)
{
    sqlite3_close(SDB(db)->db);
    free(db);
}

int db_sqlite_exec(struct db *db, const char *sql)
{
    return sqlite3_exec(SDB(db)->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

const char *db_sqlite_errmsg(struct db *db)
{
    return sqlite3_errmsg(SDB(db)->db);
}

/* SQLite errors a retry can get past (space, locks, I/O); others are a bug of the write. */
bool db_sqlite_error_transient(struct db *db)
{
    switch (sqlite3_errcode(SDB(db)->db) & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
        return true;
    default:
        return false;
    }
}

bool db_sqlite_in_tx(struct db *db)
{
    return !sqlite3_get_autocommit(SDB(db)->db);
}

int64_t db_sqlite_changes(struct db *db)
{
    return sqlite3_changes(SDB(db)->db);
}

void db_sqlite_set_busy_ms(struct db *db, int ms)
{
    sqlite3_busy_timeout(SDB(db)->db, ms);
}

int db_sqlite_begin(struct db *db)
{
    return db_sqlite_exec(db, "BEGIN IMMEDIATE");
}

struct sqlite3 *db_sqlite_handle(struct db *db)
{
    return SDB(db)->db;
}

int db_sqlite_prepare(struct db *db, const char *sql, bool persistent, struct db_stmt **out)
{
    struct sstmt *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->base.kind = DB_SQLITE;
    s->db = SDB(db)->db;
    if (sqlite3_prepare_v3(s->db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &s->st,
                           NULL) != SQLITE_OK) {
        free(s);
        return -1;
    }
    *out = &s->base;
    return 0;
}

void db_sqlite_reset(struct db_stmt *st)
{
    sqlite3_reset(SST(st));
}

void db_sqlite_clear(struct db_stmt *st)
{
    sqlite3_reset(SST(st));
    sqlite3_clear_bindings(SST(st));
}

void db_sqlite_finalize(struct db_stmt *st)
{
    sqlite3_finalize(SST(st));
    free(st);
}

void db_sqlite_bind_null(struct db_stmt *st, int i)
{
    sqlite3_bind_null(SST(st), i);
}

void db_sqlite_bind_int(struct db_stmt *st, int i, int64_t v)
{
    sqlite3_bind_int64(SST(st), i, v);
}

void db_sqlite_bind_double(struct db_stmt *st, int i, double v)
{
    sqlite3_bind_double(SST(st), i, v);
}

void db_sqlite_bind_text(struct db_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(SST(st), i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(SST(st), i);
}

void db_sqlite_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
    if (!p)
        sqlite3_bind_null(SST(st), i);
    else if (n == 0)
        sqlite3_bind_zeroblob(SST(st), i, 0);
    else
        sqlite3_bind_blob64(SST(st), i, p, n, SQLITE_TRANSIENT);
}

int db_sqlite_step(struct db_stmt *st)
{
    switch (sqlite3_step(SST(st))) {
    case SQLITE_ROW:
        return DB_ROW;
    case SQLITE_DONE:
        return DB_DONE;
    default:
        return DB_ERROR;
    }
}

bool db_sqlite_col_null(struct db_stmt *st, int i)
{
    return sqlite3_column_type(SST(st), i) == SQLITE_NULL;
}

int64_t db_sqlite_col_int(struct db_stmt *st, int i)
{
    return sqlite3_column_int64(SST(st), i);
}

double db_sqlite_col_double(struct db_stmt *st, int i)
{
    return sqlite3_column_double(SST(st), i);
}

const char *db_sqlite_col_text(struct db_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(SST(st), i);
}

const void *db_sqlite_col_blob(struct db_stmt *st, int i, size_t *len)
{
    const void *p = sqlite3_column_blob(SST(st), i);
    *len = (size_t)sqlite3_column_bytes(SST(st), i);
    if (!p && sqlite3_column_type(SST(st), i) != SQLITE_NULL) p = ""; /* an empty blob */
    return p;
}

char *db_sqlite_expanded_sql(struct db_stmt *st)
{
    char *x = sqlite3_expanded_sql(SST(st));
    char *copy = x ? strdup(x) : NULL;
    sqlite3_free(x);
    return copy;
}
