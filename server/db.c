/* db: the public db_* API, handing each call to the driver of the connection's kind
 * (server/db_sqlite.c; server/db_pg.c and db_pg_stmt.c). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server/db_internal.h"

/* A URL (postgres://, postgresql://, any case), or a libpq "key=value ..." string: it starts
 * with a word, then '=' (a SQLite path of that shape must be written ./key=value). */
bool db_target_is_postgres(const char *target)
{
    if (strncasecmp(target, "postgres://", 11) == 0 ||
        strncasecmp(target, "postgresql://", 13) == 0)
        return true;
    const char *p = target;
    while (*p == ' ' || *p == '\t')
        p++;
    const char *word = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    if (p == word || isdigit((unsigned char)*word)) return false;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '=';
}

int db_open(struct db **out, const char *target, int flags, char *err, size_t errlen)
{
    if (db_target_is_postgres(target)) return db_pg_open(out, target, flags, err, errlen);
    return db_sqlite_open(out, target, flags, err, errlen);
}

void db_close(struct db *db)
{
    if (!db) return;
    if (db->kind == DB_POSTGRES)
        db_pg_close(db);
    else
        db_sqlite_close(db);
}

enum db_kind db_kind(const struct db *db)
{
    return db->kind;
}

struct sqlite3 *db_sqlite(struct db *db)
{
    return db->kind == DB_SQLITE ? db_sqlite_handle(db) : NULL;
}

/* the driver's function fn for obj (a connection or a statement: both begin with the kind) */
#define CALL(obj, fn, ...)                                                                         \
    ((obj)->kind == DB_POSTGRES ? db_pg_##fn(__VA_ARGS__) : db_sqlite_##fn(__VA_ARGS__))

int db_exec(struct db *db, const char *sql)
{
    return CALL(db, exec, db, sql);
}
const char *db_errmsg(struct db *db)
{
    return CALL(db, errmsg, db);
}
bool db_error_transient(struct db *db)
{
    return CALL(db, error_transient, db);
}
bool db_in_tx(struct db *db)
{
    return CALL(db, in_tx, db);
}
int64_t db_changes(struct db *db)
{
    return CALL(db, changes, db);
}
void db_set_busy_ms(struct db *db, int ms)
{
    CALL(db, set_busy_ms, db, ms);
}
int db_begin(struct db *db)
{
    return CALL(db, begin, db);
}
int db_prepare(struct db *db, const char *sql, bool persistent, struct db_stmt **out)
{
    return CALL(db, prepare, db, sql, persistent, out);
}
void db_reset(struct db_stmt *st)
{
    CALL(st, reset, st);
}
void db_clear(struct db_stmt *st)
{
    CALL(st, clear, st);
}
void db_finalize(struct db_stmt *st)
{
    if (st) CALL(st, finalize, st);
}
void db_bind_null(struct db_stmt *st, int i)
{
    CALL(st, bind_null, st, i);
}
void db_bind_int(struct db_stmt *st, int i, int64_t v)
{
    CALL(st, bind_int, st, i, v);
}
void db_bind_double(struct db_stmt *st, int i, double v)
{
    CALL(st, bind_double, st, i, v);
}
void db_bind_text(struct db_stmt *st, int i, const char *v)
{
    CALL(st, bind_text, st, i, v);
}
void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
    CALL(st, bind_blob, st, i, p, n);
}
int db_step(struct db_stmt *st)
{
    return CALL(st, step, st);
}
bool db_col_null(struct db_stmt *st, int i)
{
    return CALL(st, col_null, st, i);
}
int64_t db_col_int(struct db_stmt *st, int i)
{
    return CALL(st, col_int, st, i);
}
double db_col_double(struct db_stmt *st, int i)
{
    return CALL(st, col_double, st, i);
}
const char *db_col_text(struct db_stmt *st, int i)
{
    return CALL(st, col_text, st, i);
}
const void *db_col_blob(struct db_stmt *st, int i, size_t *len)
{
    return CALL(st, col_blob, st, i, len);
}
char *db_expanded_sql(struct db_stmt *st)
{
    return CALL(st, expanded_sql, st);
}
