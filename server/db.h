/* db: one connection to the database, SQLite or PostgreSQL, behind one small API, so the
 * store (server/store*.c) is written once for both. A connection belongs to one thread at a
 * time. SQL is written once in the dialect both take (what differs is chosen with db_kind):
 * parameters are `?` or `?N` (SQLite's numbering: a bare `?` is one past the largest so far),
 * the PostgreSQL driver turns them into `$N`; a parameter whose type its context does not
 * give (`?4 IS NULL`) is written `CAST(?4 AS BIGINT)`. Integers, text and blobs (bytea) are
 * the column types; a boolean a PostgreSQL query returns reads as 1 or 0. */
#ifndef SPAWNPOOL_DB_H
#define SPAWNPOOL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_kind { DB_SQLITE, DB_POSTGRES };
/* What db_step returns. */
enum { DB_ERROR = -1, DB_DONE = 0, DB_ROW = 1 };
/* db_open flags. */
enum {
    DB_READONLY = 1 << 0, /* this connection never writes */
    DB_NOCREATE = 1 << 1  /* SQLite: the file must exist */
};

struct db;
struct db_stmt;

/* True if target names a PostgreSQL database (postgres:// or postgresql://, or a libpq
 * "key=value" string); else it is a SQLite file path. */
bool db_target_is_postgres(const char *target);
/* Takes PGPASSWORD out of the process's environment (its bytes overwritten: /proc/PID/environ
 * no longer shows it, to the workers and jobs forked after either) and keeps it for the
 * PostgreSQL connections. Call once at start, before any thread or child process. */
void db_keep_password(void);
/* PostgreSQL: how long (ms, at least 1000; default 20000) a silent server or network may keep
 * a call waiting before the connection counts as lost (TCP keepalives, tcp_user_timeout), for
 * the connections opened after. */
void db_set_network_timeout(int ms);
/* PostgreSQL: the application_name later connections give ("spawnpool NODE": which node a
 * session in pg_stat_activity is; a target's own application_name wins). Before threads. */
void db_set_application_name(const char *name);
/* Opens a connection to target (see db_target_is_postgres). Returns 0, or -1 with a message
 * in err (which never shows a password), or DB_UNREACHABLE (-2) when the server did not answer
 * or turned connections away for now (down, starting up, shutting down): it may come up. */
#define DB_UNREACHABLE (-2)
int db_open(struct db **out, const char *target, int flags, char *err, size_t errlen);
/* Closes the connection; its statements must be finalized before. NULL is ignored. */
void db_close(struct db *db);
/* Which database this connection speaks to. */
enum db_kind db_kind(const struct db *db);
/* Runs one or more statements without parameters. Returns 0 or -1 (db_errmsg). */
int db_exec(struct db *db, const char *sql);
/* The last error of this connection, as the database said it ("" if none). */
const char *db_errmsg(struct db *db);
/* True if the last error is one a retry may get past (disk full, a lock, the connection
 * lost); false for an error of the statement itself (a constraint, bad SQL). */
bool db_error_transient(struct db *db);
/* True while a transaction is open (false again after the database rolled it back). */
bool db_in_tx(struct db *db);
/* Rows the last INSERT/UPDATE/DELETE changed. */
int64_t db_changes(struct db *db);
/* How long a statement waits for a lock another connection holds, in ms. */
void db_set_busy_ms(struct db *db, int ms);
/* Starts the write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN). 0 or -1. */
int db_begin(struct db *db);
struct sqlite3;
/* The SQLite handle under a SQLite connection (for what only SQLite has: WAL checkpoints);
 * NULL for PostgreSQL. */
struct sqlite3 *db_sqlite(struct db *db);

/* Prepares sql (persistent: kept for the connection's life). Returns 0, or -1 (db_errmsg).
 * With PostgreSQL the statement is prepared on the server on its first step, and again
 * after the connection was re-established. */
int db_prepare(struct db *db, const char *sql, bool persistent, struct db_stmt **out);
/* Ends the statement's current run (no row stays open); its bindings stay. */
void db_reset(struct db_stmt *st);
/* db_reset, and every binding back to NULL. */
void db_clear(struct db_stmt *st);
/* Frees the statement. NULL is ignored. */
void db_finalize(struct db_stmt *st);
/* Bind parameter i (1-based). Values are copied. */
void db_bind_null(struct db_stmt *st, int i);
void db_bind_int(struct db_stmt *st, int i, int64_t v);
void db_bind_double(struct db_stmt *st, int i, double v);
/* Binds text (NUL-terminated), or NULL when v is NULL. */
void db_bind_text(struct db_stmt *st, int i, const char *v);
/* Binds n bytes at p as a blob (bytea): an empty one when n is 0, NULL when p is NULL. */
void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n);
/* Runs the statement, or goes to its next row: DB_ROW, DB_DONE or DB_ERROR (db_errmsg). */
int db_step(struct db_stmt *st);
/* Column i (0-based) of the current row. Text and blobs stay valid until the next step,
 * reset or finalize. */
bool db_col_null(struct db_stmt *st, int i);
int64_t db_col_int(struct db_stmt *st, int i);
double db_col_double(struct db_stmt *st, int i);
/* The column as text, or NULL when it is NULL. */
const char *db_col_text(struct db_stmt *st, int i);
/* The column's bytes (*len of them), or NULL when it is NULL (*len 0). */
const void *db_col_blob(struct db_stmt *st, int i, size_t *len);
/* The statement's SQL with its bound values written in (malloc'd; NULL: out of memory): a
 * write to replay later on the same kind of database. */
char *db_expanded_sql(struct db_stmt *st);

/* LISTEN/NOTIFY (PostgreSQL; on SQLite these do nothing: one process, nothing to hear). A
 * connection that listens does nothing else. */
/* Listens on channel. 0 or -1 (db_errmsg). */
int db_listen(struct db *db, const char *channel);
/* The descriptor to poll for notifications (-1 on SQLite). */
int db_listen_fd(struct db *db);
/* Reads what arrived (without waiting) and calls fn with each notification's payload. Returns
 * how many, or -1 if the connection is lost (reopen it, listen again: what was sent meanwhile
 * is not heard). */
int db_notifications(struct db *db, void (*fn)(void *ctx, const char *payload), void *ctx);

#endif
