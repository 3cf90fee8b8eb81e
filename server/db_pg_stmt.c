/* db_pg_stmt: statements of the PostgreSQL driver. A persistent statement is prepared on the
 * server on its first step, with the parameter types its binds give (int8, float8, bytea in
 * binary; text and NULL left for the server to infer); a run with other types gets its own
 * prepared variant (up to PG_VARIANTS, then PQexecParams). A reconnect makes them prepare
 * again. Results come as text, walked row by row from the one PGresult of the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/db_pg_internal.h"

/* type OIDs (PostgreSQL's pg_type.dat; stable) */
enum { OID_BYTEA = 17, OID_INT8 = 20, OID_FLOAT8 = 701 };

int db_pg_prepare(struct db *db, const char *sql, bool persistent, struct db_stmt **out)
{
    struct pgdb *d = PGDB(db);
    pg_clear_error(d);
    struct pgstmt *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->base.kind = DB_POSTGRES;
    s->db = d;
    s->persistent = persistent;
    s->sql = strdup(sql);
    s->pgsql = pg_sql_translate(sql, &s->nparams);
    size_t n = s->nparams > 0 ? (size_t)s->nparams : 1;
    s->params = calloc(n, sizeof *s->params);
    s->types = calloc(n, sizeof *s->types);
    s->values = calloc(n, sizeof *s->values);
    s->lengths = calloc(n, sizeof *s->lengths);
    s->formats = calloc(n, sizeof *s->formats);
    s->num = calloc(n, sizeof *s->num);
    if (!s->sql || !s->pgsql || !s->params || !s->types || !s->values || !s->lengths ||
        !s->formats || !s->num)
        goto oom;
    *out = &s->base;
    return 0;
oom:
    db_pg_finalize(s ? &s->base : NULL);
    pg_set_error(d, "53200", false, "out of memory");
    return -1;
}

static void drop_result(struct pgstmt *s)
{
    if (!s->res) return;
    for (int i = 0, n = PQnfields(s->res); i < n && s->cols; i++)
        free(s->cols[i].p);
    free(s->cols);
    s->cols = NULL;
    PQclear(s->res);
    s->res = NULL;
}

/* Forgets the unescaped columns of the row left. */
static void drop_row(struct pgstmt *s)
{
    for (int i = 0, n = s->res ? PQnfields(s->res) : 0; i < n && s->cols; i++) {
        free(s->cols[i].p);
        s->cols[i].p = NULL;
    }
}

void db_pg_reset(struct db_stmt *st)
{
    drop_result(PGST(st));
}

static void unbind(struct pg_param *v)
{
    free(v->p);
    memset(v, 0, sizeof *v);
}

void db_pg_clear(struct db_stmt *st)
{
    struct pgstmt *s = PGST(st);
    drop_result(s);
    for (int i = 0; i < s->nparams; i++)
        unbind(&s->params[i]);
}

void db_pg_finalize(struct db_stmt *st)
{
    struct pgstmt *s = PGST(st);
    if (!s) return;
    struct pgdb *d = s->db;
    drop_result(s);
    for (int i = 0; i < PG_VARIANTS; i++) {
        struct pg_variant *v = &s->var[i];
        /* (prepared statements outlive transactions; in a failed one it waits for the end of
         * the connection) */
        if (v->gen == d->gen && PQstatus(d->conn) == CONNECTION_OK && !d->lost_tx &&
            PQtransactionStatus(d->conn) != PQTRANS_INERROR) {
            char sql[32];
            snprintf(sql, sizeof sql, "DEALLOCATE %s", v->name);
            pg_quiet(d, sql);
        }
        free(v->types);
    }
    for (int i = 0; s->params && i < s->nparams; i++)
        free(s->params[i].p);
    free(s->params);
    free(s->types);
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->num);
    free(s->sql);
    free(s->pgsql);
    free(s);
}

/* Parameter i (1-based) to bind anew, or NULL if the statement has none such. */
static struct pg_param *param(struct db_stmt *st, int i)
{
    struct pgstmt *s = PGST(st);
    if (i < 1 || i > s->nparams) return NULL;
    unbind(&s->params[i - 1]);
    return &s->params[i - 1];
}

void db_pg_bind_null(struct db_stmt *st, int i)
{
    param(st, i);
}

void db_pg_bind_int(struct db_stmt *st, int i, int64_t v)
{
    struct pg_param *p = param(st, i);
    if (p) p->type = PG_INT, p->i = v;
}

void db_pg_bind_double(struct db_stmt *st, int i, double v)
{
    struct pg_param *p = param(st, i);
    if (p) p->type = PG_DOUBLE, p->d = v;
}

void db_pg_bind_text(struct db_stmt *st, int i, const char *v)
{
    struct pg_param *p = param(st, i);
    if (p && v && (p->p = strdup(v))) p->type = PG_TEXT, p->n = strlen(v);
}

void db_pg_bind_blob(struct db_stmt *st, int i, const void *v, size_t n)
{
    struct pg_param *p = param(st, i);
    if (p && (p->p = malloc(n ? n : 1))) {
        if (n) memcpy(p->p, v, n);
        p->type = PG_BLOB, p->n = n;
    }
}

/* Fills the scratch arrays of a run from the binds. */
static void marshal(struct pgstmt *s)
{
    for (int i = 0; i < s->nparams; i++) {
        const struct pg_param *v = &s->params[i];
        s->types[i] = 0;
        s->values[i] = NULL;
        s->lengths[i] = 0;
        s->formats[i] = 0;
        switch (v->type) {
        case PG_NULL:
            break;
        case PG_INT:
            s->types[i] = OID_INT8;
            snprintf(s->num[i], sizeof s->num[i], "%lld", (long long)v->i);
            s->values[i] = s->num[i];
            break;
        case PG_DOUBLE: /* (inf and nan as float8 reads them) */
            s->types[i] = OID_FLOAT8;
            pg_format_double(s->num[i], v->d);
            s->values[i] = s->num[i];
            break;
        case PG_TEXT:
            s->values[i] = v->p;
            break;
        case PG_BLOB:
            s->types[i] = OID_BYTEA;
            s->values[i] = v->p;
            s->lengths[i] = (int)v->n;
            s->formats[i] = 1;
            break;
        }
    }
}

/* The prepared variant for the current bind types (a new one if there is room), or NULL. */
static struct pg_variant *variant(struct pgstmt *s)
{
    size_t size = (size_t)s->nparams * sizeof *s->types;
    for (int i = 0; i < PG_VARIANTS; i++)
        if (s->var[i].used && (!size || memcmp(s->var[i].types, s->types, size) == 0))
            return &s->var[i];
    for (int i = 0; i < PG_VARIANTS; i++) {
        struct pg_variant *v = &s->var[i];
        if (v->used) continue;
        if (!(v->types = malloc(size ? size : 1))) return NULL;
        memcpy(v->types, s->types, size);
        v->used = true;
        v->gen = 0;
        snprintf(v->name, sizeof v->name, "sp%u", ++s->db->next_name);
        return v;
    }
    return NULL;
}

int db_pg_step(struct db_stmt *st)
{
    struct pgstmt *s = PGST(st);
    struct pgdb *d = s->db;
    if (s->res) { /* the next row of the run */
        drop_row(s);
        if (++s->row < PQntuples(s->res)) return DB_ROW;
        drop_result(s);
        return DB_DONE;
    }
    if (pg_ready(d) < 0) return DB_ERROR;
    marshal(s);
    PGTransactionStatusType before = PQtransactionStatus(d->conn);
    struct pg_variant *v = s->persistent ? variant(s) : NULL;
    PGresult *r;
    if (!v) {
        r = PQexecParams(d->conn, s->pgsql, s->nparams, s->types, s->values, s->lengths, s->formats,
                         0);
    } else {
        if (v->gen != d->gen) {
            PGresult *p =
                pg_check(d, PQprepare(d->conn, v->name, s->pgsql, s->nparams, s->types), before);
            if (!p) return DB_ERROR;
            PQclear(p);
            v->gen = d->gen;
        }
        r = PQexecPrepared(d->conn, v->name, s->nparams, s->values, s->lengths, s->formats, 0);
    }
    if (!(r = pg_check(d, r, before))) return DB_ERROR;
    pg_count(d, r);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
        PQclear(r);
        return DB_DONE;
    }
    if (!(s->cols = calloc((size_t)PQnfields(r) + 1, sizeof *s->cols))) {
        PQclear(r);
        pg_set_error(d, "53200", false, "out of memory");
        return DB_ERROR;
    }
    s->res = r;
    s->row = 0;
    return DB_ROW;
}

/* The text of column i of the current row, or NULL (NULL, or no such column or row). */
static const char *value(struct pgstmt *s, int i)
{
    if (!s->res || i < 0 || i >= PQnfields(s->res) || PQgetisnull(s->res, s->row, i)) return NULL;
    return PQgetvalue(s->res, s->row, i);
}

bool db_pg_col_null(struct db_stmt *st, int i)
{
    return value(PGST(st), i) == NULL;
}

int64_t db_pg_col_int(struct db_stmt *st, int i)
{
    const char *v = value(PGST(st), i);
    if (!v) return 0;
    if (v[0] == 't' && !v[1]) return 1; /* a boolean */
    if (v[0] == 'f' && !v[1]) return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end == '.' || *end == 'e' || *end == 'E') n = (long long)strtod(v, NULL); /* numeric */
    return n;
}

double db_pg_col_double(struct db_stmt *st, int i)
{
    const char *v = value(PGST(st), i);
    if (!v) return 0;
    if (v[0] == 't' && !v[1]) return 1;
    return strtod(v, NULL);
}

/* A bytea column's bytes, unescaped once per row; any other column's text as it is. */
static const char *bytes(struct pgstmt *s, int i, size_t *len)
{
    const char *v = value(s, i);
    *len = 0;
    if (!v) return NULL;
    if (PQftype(s->res, i) != OID_BYTEA) {
        *len = (size_t)PQgetlength(s->res, s->row, i);
        return v;
    }
    struct pg_col *c = &s->cols[i];
    if (!c->p) {
        size_t n = 0;
        unsigned char *u = PQunescapeBytea((const unsigned char *)v, &n);
        if (!u || !(c->p = malloc(n + 1))) {
            PQfreemem(u);
            return NULL;
        }
        memcpy(c->p, u, n);
        c->p[n] = '\0'; /* (so the bytes read as text too, as SQLite gives a blob's) */
        c->n = n;
        PQfreemem(u);
    }
    *len = c->n;
    return (const char *)c->p;
}

const char *db_pg_col_text(struct db_stmt *st, int i)
{
    size_t len;
    return bytes(PGST(st), i, &len);
}

const void *db_pg_col_blob(struct db_stmt *st, int i, size_t *len)
{
    return bytes(PGST(st), i, len);
}

char *db_pg_expanded_sql(struct db_stmt *st)
{
    struct pgstmt *s = PGST(st);
    const char *std = PQparameterStatus(s->db->conn, "standard_conforming_strings");
    return pg_sql_expand(s->sql, s->params, s->nparams, !std || strcmp(std, "off") != 0);
}
