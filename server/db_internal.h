/* db_internal.h: what server/db.c (the public db_* API) and the two drivers share. Not for
 * elsewhere: the store goes through server/db.h. Each driver's connection and statement
 * begin with these headers, so db.c knows which driver to hand a call to. */
#ifndef SPAWNPOOL_DB_INTERNAL_H
#define SPAWNPOOL_DB_INTERNAL_H

#include "server/db.h"

struct db {
    enum db_kind kind;
};
struct db_stmt {
    enum db_kind kind;
};

/* server/db_sqlite.c: the db.h API on SQLite, one function per db_* function. */
int db_sqlite_open(struct db **out, const char *path, int flags, char *err, size_t errlen);
void db_sqlite_close(struct db *db);
int db_sqlite_exec(struct db *db, const char *sql);
const char *db_sqlite_errmsg(struct db *db);
bool db_sqlite_error_transient(struct db *db);
bool db_sqlite_in_tx(struct db *db);
int64_t db_sqlite_changes(struct db *db);
void db_sqlite_set_busy_ms(struct db *db, int ms);
int db_sqlite_begin(struct db *db);
struct sqlite3 *db_sqlite_handle(struct db *db);
int db_sqlite_prepare(struct db *db, const char *sql, bool persistent, struct db_stmt **out);
void db_sqlite_reset(struct db_stmt *st);
void db_sqlite_clear(struct db_stmt *st);
void db_sqlite_finalize(struct db_stmt *st);
void db_sqlite_bind_null(struct db_stmt *st, int i);
void db_sqlite_bind_int(struct db_stmt *st, int i, int64_t v);
void db_sqlite_bind_double(struct db_stmt *st, int i, double v);
void db_sqlite_bind_text(struct db_stmt *st, int i, const char *v);
void db_sqlite_bind_blob(struct db_stmt *st, int i, const void *p, size_t n);
int db_sqlite_step(struct db_stmt *st);
bool db_sqlite_col_null(struct db_stmt *st, int i);
int64_t db_sqlite_col_int(struct db_stmt *st, int i);
double db_sqlite_col_double(struct db_stmt *st, int i);
const char *db_sqlite_col_text(struct db_stmt *st, int i);
const void *db_sqlite_col_blob(struct db_stmt *st, int i, size_t *len);
char *db_sqlite_expanded_sql(struct db_stmt *st);

/* server/db_pg.c (and db_pg_stmt.c): the db.h API on PostgreSQL (libpq), one function per
 * db_* function; db_sqlite() is NULL for it. */
int db_pg_open(struct db **out, const char *target, int flags, char *err, size_t errlen);
void db_pg_close(struct db *db);
int db_pg_exec(struct db *db, const char *sql);
const char *db_pg_errmsg(struct db *db);
bool db_pg_error_transient(struct db *db);
bool db_pg_in_tx(struct db *db);
int64_t db_pg_changes(struct db *db);
void db_pg_set_busy_ms(struct db *db, int ms);
int db_pg_begin(struct db *db);
int db_pg_prepare(struct db *db, const char *sql, bool persistent, struct db_stmt **out);
void db_pg_reset(struct db_stmt *st);
void db_pg_clear(struct db_stmt *st);
void db_pg_finalize(struct db_stmt *st);
void db_pg_bind_null(struct db_stmt *st, int i);
void db_pg_bind_int(struct db_stmt *st, int i, int64_t v);
void db_pg_bind_double(struct db_stmt *st, int i, double v);
void db_pg_bind_text(struct db_stmt *st, int i, const char *v);
void db_pg_bind_blob(struct db_stmt *st, int i, const void *p, size_t n);
int db_pg_step(struct db_stmt *st);
bool db_pg_col_null(struct db_stmt *st, int i);
int64_t db_pg_col_int(struct db_stmt *st, int i);
double db_pg_col_double(struct db_stmt *st, int i);
const char *db_pg_col_text(struct db_stmt *st, int i);
const void *db_pg_col_blob(struct db_stmt *st, int i, size_t *len);
char *db_pg_expanded_sql(struct db_stmt *st);

#endif
