/* db_pg_internal.h: what the PostgreSQL driver's files share: server/db_pg.c (the
 * connection: errors, transactions, reconnecting), db_pg_stmt.c (statements) and db_pg_sql.c
 * (the SQL text: `?` to `$N`, values written in). */
#ifndef SPAWNPOOL_DB_PG_INTERNAL_H
#define SPAWNPOOL_DB_PG_INTERNAL_H

#include <libpq-fe.h>

#include "server/db_internal.h"

/* Distinct bind type signatures a persistent statement keeps prepared; a further one runs
 * with PQexecParams (parsed and planned each time, still correct). */
#define PG_VARIANTS 4

struct pgdb {
    struct db base;
    PGconn *conn;
    int flags;          /* db_open's */
    int busy_ms;        /* lock_timeout wanted (0: the server's default) */
    bool busy_dirty;    /* lock_timeout to send again once no transaction is open */
    bool lost_tx;       /* the connection broke inside a transaction: only ROLLBACK helps */
    bool conn_lost;     /* the last error came with the connection lost */
    unsigned gen;       /* +1 at each reconnect: what was prepared before is gone */
    unsigned next_name; /* statement names: sp1, sp2, ... */
    int64_t changes;    /* rows the last INSERT/UPDATE/DELETE changed */
    char sqlstate[6];   /* of the last error ("" if none or none given) */
    char err[512];      /* the last error ("" if none) */
};

enum pg_ptype { PG_NULL, PG_INT, PG_DOUBLE, PG_TEXT, PG_BLOB };

/* One bound parameter. */
struct pg_param {
    enum pg_ptype type;
    int64_t i;
    double d;
    char *p; /* text (NUL-terminated) or blob bytes, malloc'd */
    size_t n;
};

/* A server-side prepared statement for one signature of bind types. */
struct pg_variant {
    bool used;
    unsigned gen; /* the connection generation it was prepared in; 0: not (yet) */
    Oid *types;   /* per parameter */
    char name[16];
};

/* The unescaped bytes of a bytea column of the current row (NUL-terminated). */
struct pg_col {
    unsigned char *p;
    size_t n;
};

struct pgstmt {
    struct db_stmt base;
    struct pgdb *db;
    char *sql;   /* as given: db_expanded_sql writes values into it */
    char *pgsql; /* with $N */
    int nparams;
    bool persistent;
    struct pg_param *params; /* nparams */
    /* scratch for a run, nparams each */
    Oid *types;
    const char **values;
    int *lengths, *formats;
    char (*num)[32]; /* the text of int and double values */
    struct pg_variant var[PG_VARIANTS];
    PGresult *res; /* while rows are walked */
    int row;
    struct pg_col *cols; /* PQnfields(res) */
};

#define PGDB(d) ((struct pgdb *)(d))
#define PGST(s) ((struct pgstmt *)(s))

/* Clears the connection's last error. */
void pg_clear_error(struct pgdb *d);
/* Records an error of the driver's own (sqlstate may be ""; lost: the connection is gone). */
void pg_set_error(struct pgdb *d, const char *sqlstate, bool lost, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Before a command: one reconnect if the connection is lost (statements prepare again), the
 * lock_timeout again if a rollback may have undone it; refuses while a lost transaction
 * awaits its ROLLBACK. 0, or -1 with the error recorded. */
int pg_ready(struct pgdb *d);
/* The result of a command run with the transaction status `before` it: res if it succeeded
 * (the caller PQclears it), else NULL with the error recorded (and res cleared). */
PGresult *pg_check(struct pgdb *d, PGresult *res, PGTransactionStatusType before);
/* Runs sql for the driver itself (settings, DEALLOCATE): no error recorded, but a connection
 * lost inside a transaction is noted. 0 or -1. */
int pg_quiet(struct pgdb *d, const char *sql);
/* Takes db_changes from a command's result (INSERT, UPDATE, DELETE, MERGE only). */
void pg_count(struct pgdb *d, const PGresult *res);

/* v as text that reads back as the same double (15 to 17 digits; inf, nan as printf's). */
void pg_format_double(char out[32], double v);
/* sql with `?` and `?N` outside literals, quoted identifiers and comments turned into `$N`
 * (a bare `?` is one past the largest number so far); *nparams: the largest. NULL: out of
 * memory. */
char *pg_sql_translate(const char *sql, int *nparams);
/* sql with each parameter replaced by its value in params (nparams of them) as a PostgreSQL
 * literal; std_strings: the server's standard_conforming_strings. NULL: out of memory. */
char *pg_sql_expand(const char *sql, const struct pg_param *params, int nparams, bool std_strings);

#endif
