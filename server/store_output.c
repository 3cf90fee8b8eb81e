/* store_output: the reads of a job's output chunks (PostgreSQL only: job_output, which each
 * node's shipper, server/output_ship.c, fills from its output files), for the nodes that did
 * not run the job. Through the calling thread's read connection, as every read. */
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

bool store_output_shared(struct store *s)
{
    return db_kind(s->db) == DB_POSTGRES;
}

int store_output_chunk(struct store *s, int64_t id, int attempt, const char *stream, int64_t offset,
                       struct store_chunk *out)
{
    memset(out, 0, sizeof *out);
    if (!store_output_shared(s)) return 0;
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_OUTPUT_CHUNK);
    int rc = -1;
    if (st) {
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, attempt);
        db_bind_text(st, 3, stream);
        db_bind_int(st, 4, offset);
        int step = db_step(st);
        if (step == DB_DONE) {
            rc = 0;
        } else if (step != DB_ROW) {
            rc = rd_log(&r, "SELECT an output chunk");
        } else if (db_col_int(st, 1) == 0) {
            rc = 2; /* the end mark, at or before offset */
        } else if (db_col_null(st, 2)) {
            rc = 0; /* the last chunk ends at or before offset: nothing more yet */
        } else {
            size_t n = 0;
            const void *p = db_col_blob(st, 2, &n);
            out->pos = db_col_int(st, 0);
            out->data = malloc(n ? n : 1);
            if (out->data) {
                memcpy(out->data, p, n);
                out->len = n;
                rc = 1;
            }
        }
    }
    rd_end(&r);
    return rc;
}

void store_chunk_free(struct store_chunk *c)
{
    free(c->data);
    memset(c, 0, sizeof *c);
}

int store_output_end(struct store *s, int64_t id, int attempt, const char *stream, int64_t *end,
                     bool *complete)
{
    *end = 0;
    *complete = false;
    if (!store_output_shared(s)) return 0;
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = rd_stmt(&r, RS_OUTPUT_END);
    int rc = -1;
    if (st) {
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, attempt);
        db_bind_text(st, 3, stream);
        int step = db_step(st);
        if (step == DB_ROW) {
            *end = db_col_int(st, 0);
            *complete = db_col_int(st, 1) == 0;
            rc = 0;
        } else if (step == DB_DONE) {
            rc = 0;
        } else {
            rc = rd_log(&r, "SELECT the end of an output");
        }
    }
    rd_end(&r);
    return rc;
}
