/* store_schedules: scheduled jobs (run_at / delay) becoming queued, and the schedules
 * (/v1/schedules) with what they made. */
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

int store_each_scheduled(struct store *s, void (*fn)(void *ctx, int64_t id, int64_t run_at),
                         void *ctx)
{
    struct db_stmt *st;
    int rc = 0;
    if (db_prepare(s->db,
                   "SELECT id, coalesce(run_at, 0) FROM jobs WHERE state = 'scheduled' "
                   "ORDER BY id",
                   false, &st) < 0)
        return store_fail(s, "SELECT scheduled jobs");
    int step;
    while ((step = db_step(st)) == DB_ROW)
        fn(ctx, db_col_int(st, 0), db_col_int(st, 1));
    if (step != DB_DONE) rc = store_fail(s, "reading scheduled jobs");
    db_finalize(st);
    store_read_done(s);
    return rc;
}

int store_job_promote(struct store *s, int64_t id, int64_t now, int64_t *priority, bool *has_deps)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_WAITING_ROW);
    db_bind_int(st, 1, id);
    int step = db_step(st);
    int rc = 1;
    if (step == DB_ROW) {
        const char *state = db_col_text(st, 0);
        if (state && strcmp(state, "scheduled") == 0) rc = 0;
        *priority = db_col_int(st, 1);
        *has_deps = db_col_int(st, 2) != 0;
    } else if (step != DB_DONE) {
        rc = store_fail(s, "SELECT a scheduled job");
    }
    db_reset(st);
    if (rc == 0) {
        st = store_stmt(s, ST_PROMOTE);
        db_bind_int(st, 1, id);
        int changed = 0;
        store_write(s, st, "UPDATE scheduled job to queued", &changed);
        if (changed > 0) { /* (another node may have promoted it first) */
            store_add_event(s, id, now, "scheduled", "queued", "its run_at came");
            store_notify_jobs(s, &id, 1);
        } else {
            rc = 1;
        }
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
    struct db_stmt *st = store_stmt(s, ST_SCHEDULE_PUT);
    db_bind_text(st, 1, sc->name);
    db_bind_text(st, 2, sc->cron);
    db_bind_text(st, 3, sc->timezone);
    db_bind_text(st, 4, sc->job);
    db_bind_text(st, 5, store_overlap_name(sc->overlap));
    db_bind_int(st, 6, sc->paused);
    db_bind_int(st, 7, sc->catch_up);
    db_bind_int(st, 8, sc->updated_at);
    store_bind_int(st, 9, sc->next_run_at > 0 ? sc->next_run_at : -1);
    store_write(s, st, "INSERT INTO schedules", NULL);
    store_notify(s, "s"); /* (the other nodes read the schedules again) */
    return store_commit(s);
}

int store_schedule_delete(struct store *s, const char *name)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_SCHEDULE_DELETE);
    db_bind_text(st, 1, name);
    store_write(s, st, "DELETE FROM schedules", NULL);
    store_notify(s, "s"); /* (the other nodes read the schedules again) */
    return store_commit(s);
}

int store_schedule_next(struct store *s, const char *name, int64_t next_run_at)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_SCHEDULE_NEXT);
    db_bind_text(st, 1, name);
    store_bind_int(st, 2, next_run_at > 0 ? next_run_at : -1);
    store_write(s, st, "UPDATE schedules next_run_at", NULL);
    return store_commit(s);
}

int store_schedule_take(struct store *s, const char *name, int64_t due_at)
{
    store_tx_begin(s);
    struct db_stmt *st;
    int changed = 0, rc = -1;
    if (db_prepare(s->db,
                   "UPDATE schedules SET last_run_at = ?2 WHERE name = ?1 AND next_run_at = ?2",
                   false, &st) == 0) {
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, due_at);
        s->unjournaled = true; /* (dropped with the run if the batch fails) */
        rc = store_write(s, st, "UPDATE a schedule's run", &changed);
        s->unjournaled = false;
        db_finalize(st);
    } else {
        store_fail(s, "preparing a schedule's run");
    }
    if (store_commit(s) < 0 || rc < 0) return -1;
    return changed > 0 ? 1 : 0;
}

int store_schedule_fired(struct store *s, const char *name, int64_t at, int64_t next_run_at,
                         int64_t job_id)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_SCHEDULE_FIRED);
    db_bind_text(st, 1, name);
    db_bind_int(st, 2, at);
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
    struct db_stmt *st = rd_stmt(&r, name ? RS_SCHEDULE_ONE : RS_SCHEDULES);
    int n = -1, step = DB_ERROR;
    if (st) {
        if (name) db_bind_text(st, 1, name);
        n = 0;
        while ((step = db_step(st)) == DB_ROW) {
            struct store_schedule sc = {
                .name = db_col_text(st, 0),
                .cron = db_col_text(st, 1),
                .timezone = db_col_text(st, 2),
                .job = db_col_text(st, 3),
                .paused = db_col_int(st, 5) != 0,
                .catch_up = db_col_int(st, 6) != 0,
                .created_at = db_col_int(st, 7),
                .updated_at = db_col_int(st, 8),
                .next_run_at = db_col_int(st, 9),
                .last_run_at = db_col_int(st, 10),
                .last_job_id = db_col_int(st, 11),
                .runs = db_col_int(st, 12),
                .skipped = db_col_int(st, 13),
            };
            const char *overlap = db_col_text(st, 4);
            if (!sc.name || !sc.cron || !sc.timezone || !sc.job || !overlap ||
                store_overlap_parse(overlap, &sc.overlap) < 0)
                continue; /* (the table's constraints keep this from happening) */
            fn(ctx, &sc);
            n++;
        }
        if (step != DB_DONE) n = rd_log(&r, "SELECT schedules");
    }
    rd_end(&r);
    return n;
}
