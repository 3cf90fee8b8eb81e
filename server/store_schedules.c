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

static const char *const overlap_names[] = {"allow", "skip", "replace"};

const char *store_overlap_name(enum store_overlap o)
{
    return (unsigned)o < 3 ? overlap_names[o] : "allow";
}

int store_overlap_parse(const char *name, enum store_overlap *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, overlap_names[i]) == 0) {
            *out = (enum store_overlap)i;
            return 0;
        }
    return -1;
}

int store_schedule_put(struct store *s, const struct store_schedule *sc)
{
    store_tx_begin(s);
    sqlite3_stmt *st = store_stmt(s, ST_SCHEDULE_PUT);
    sqlite3_bind_text(st, 1, sc->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sc->cron, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sc->timezone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sc->job, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, store_overlap_name(sc->overlap), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, sc->paused);
    sqlite3_bind_int(st, 7, sc->catch_up);
    sqlite3_bind_int64(st, 8, sc->updated_at);
    store_bind_int(st, 9, sc->next_run_at > 0 ? sc->next_run_at : -1);
    store_write(s, st, "INSERT INTO schedules", NULL);
    return store_commit(s);
}

int store_schedule_delete(struct store *s, const char *name)
{
    store_tx_begin(s);
    sqlite3_stmt *st = store_stmt(s, ST_SCHEDULE_DELETE);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    store_write(s, st, "DELETE FROM schedules", NULL);
    return store_commit(s);
}

int store_schedule_next(struct store *s, const char *name, int64_t next_run_at)
{
    store_tx_begin(s);
    sqlite3_stmt *st = store_stmt(s, ST_SCHEDULE_NEXT);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    store_bind_int(st, 2, next_run_at > 0 ? next_run_at : -1);
    store_write(s, st, "UPDATE schedules next_run_at", NULL);
    return store_commit(s);
}

int store_schedule_fired(struct store *s, const char *name, int64_t at, int64_t next_run_at,
                         int64_t job_id)
{
    store_tx_begin(s);
    sqlite3_stmt *st = store_stmt(s, ST_SCHEDULE_FIRED);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at);
    store_bind_int(st, 3, next_run_at > 0 ? next_run_at : -1);
    store_bind_int(st, 4, job_id > 0 ? job_id : -1);
    s->unjournaled = true; /* (dropped with the job it made if the batch fails) */
    int rc = store_write(s, st, "UPDATE schedules after a run", NULL);
    s->unjournaled = false;
    return store_commit(s) < 0 || rc < 0 ? -1 : 0;
}

int store_each_schedule(struct store *s, const char *name,
                        void (*fn)(void *ctx, const struct store_schedule *sc), void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, name ? RS_SCHEDULE_ONE : RS_SCHEDULES);
    int n = -1, step = SQLITE_ERROR;
    if (st) {
        if (name) sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        n = 0;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_schedule sc = {
                .name = (const char *)sqlite3_column_text(st, 0),
                .cron = (const char *)sqlite3_column_text(st, 1),
                .timezone = (const char *)sqlite3_column_text(st, 2),
                .job = (const char *)sqlite3_column_text(st, 3),
                .paused = sqlite3_column_int(st, 5) != 0,
                .catch_up = sqlite3_column_int(st, 6) != 0,
                .created_at = sqlite3_column_int64(st, 7),
                .updated_at = sqlite3_column_int64(st, 8),
                .next_run_at = sqlite3_column_int64(st, 9),
                .last_run_at = sqlite3_column_int64(st, 10),
                .last_job_id = sqlite3_column_int64(st, 11),
                .runs = sqlite3_column_int64(st, 12),
                .skipped = sqlite3_column_int64(st, 13),
            };
            const char *overlap = (const char *)sqlite3_column_text(st, 4);
            if (!sc.name || !sc.cron || !sc.timezone || !sc.job || !overlap ||
                store_overlap_parse(overlap, &sc.overlap) < 0)
                continue; /* (the table's constraints keep this from happening) */
            fn(ctx, &sc);
            n++;
        }
        if (step != SQLITE_DONE) n = rd_log(&r, "SELECT schedules");
    }
    rd_end(&r);
    return n;
}
