/* store_schedules: scheduled jobs (run_at / delay) becoming queued, and the schedules
 * (/v1/schedules) with what they made. */
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

int store_each_scheduled(struct store *s, void (*fn)(void *ctx, int64_t id, int64_t run_at),
                         void *ctx)
{
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, coalesce(run_at, 0) FROM jobs WHERE state = 'scheduled' "
                           "ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "SELECT scheduled jobs");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1));
    if (step != SQLITE_DONE) rc = store_fail(s, "reading scheduled jobs");
    sqlite3_finalize(st);
    store_read_done(s);
    return rc;
}

int store_job_promote(struct store *s, int64_t id, int64_t now, int64_t *priority, bool *has_deps)
{
    store_tx_begin(s);
    sqlite3_stmt *st = store_stmt(s, ST_WAITING_ROW);
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    int rc = 1;
    if (step == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(st, 0);
        if (state && strcmp(state, "scheduled") == 0) rc = 0;
        *priority = sqlite3_column_int64(st, 1);
        *has_deps = sqlite3_column_int(st, 2) != 0;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, "SELECT a scheduled job");
    }
    sqlite3_reset(st);
    if (rc == 0) {
        st = store_stmt(s, ST_PROMOTE);
        sqlite3_bind_int64(st, 1, id);
        store_write(s, st, "UPDATE scheduled job to queued", NULL);
        store_add_event(s, id, now, "scheduled", "queued", "its run_at came");
    }
    if (store_commit(s) < 0 && rc == 0) rc = -1;
    return rc;
}
