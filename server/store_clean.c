/* store_clean: deleting finished jobs: one by id (DELETE /v1/jobs/{id}), and the writes of
 * retention and bulk deletes: the oldest finished jobs in the order they finished, and a
 * delete that keeps a job another job or an idempotency key still needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/store_internal.h"

/* The statements of this file, prepared on first use (their SQL names the terminal states
 * from job_state_terminal, so a state added to job.h is sorted by it alone). */
struct store_cleaning {
    struct db_stmt *oldest, *delete_unneeded;
};

/* Appends "'a','b'" of the states that are terminal (or not) to out. */
static void state_list(bool terminal, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < JOB_STATE_COUNT && used < n; i++)
        if (job_state_terminal((enum job_state)i) == terminal)
            used += (size_t)snprintf(out + used, n - used, "%s'%s'", used ? "," : "",
                                     job_state_name((enum job_state)i));
}

static struct store_cleaning *cleaning(struct store *s)
{
    if (s->cleaning) return s->cleaning;
    struct store_cleaning *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    char ended[256], live[256], sql[1400];
    state_list(true, ended, sizeof ended);
    state_list(false, live, sizeof live);
    /* (finished_at, id) walks jobs_by_finished (migration 0008; its entries end with the
     * rowid) from where the last slice stopped: each finished job is looked at once per pass,
     * kept ones included */
    const char *oldest = "SELECT id, finished_at, state FROM jobs "
                         "WHERE finished_at IS NOT NULL AND (finished_at, id) > (?1, ?2) "
                         "AND finished_at < ?3 ORDER BY finished_at, id LIMIT ?4";
    /* kept while needed: a job not ended waits for it (after, which holds stdin_from too;
     * stdin_from looked at as well for rows older than that rule), its idempotency key is
     * still in its window, or its notify_url callback is not delivered yet */
    snprintf(sql, sizeof sql,
             "DELETE FROM jobs WHERE id = ?1 AND state IN (%s) "
             "AND (idempotency_key IS NULL OR created_at < ?2) "
             "AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.job_id = ?1) "
             "AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id "
             "WHERE d.depends_on = ?1 AND w.state IN (%s)) "
             "AND NOT EXISTS (SELECT 1 FROM jobs w WHERE w.stdin_from = ?1 AND w.state IN (%s))",
             ended, live, live);
    if (db_prepare(s->db, oldest, true, &c->oldest) < 0 ||
        db_prepare(s->db, sql, true, &c->delete_unneeded) < 0) {
        store_fail(s, "preparing the retention statements");
        db_finalize(c->oldest);
        free(c);
        return NULL;
    }
    return s->cleaning = c;
}

void store_clean_close(struct store *s)
{
    if (!s->cleaning) return;
    db_finalize(s->cleaning->oldest);
    db_finalize(s->cleaning->delete_unneeded);
    free(s->cleaning);
    s->cleaning = NULL;
}

int store_delete_job(struct store *s, int64_t id, enum job_state *state_out)
{
    store_tx_begin(s);
    struct db_stmt *st = store_stmt(s, ST_STATE_OF);
    db_bind_int(st, 1, id);
    int rc = db_step(st);
    enum job_state state = JOB_QUEUED;
    if (rc == DB_ROW) job_state_parse(db_col_text(st, 0), &state);
    db_reset(st);
    if (rc == DB_DONE)
        rc = 1;
    else if (rc != DB_ROW)
        rc = store_fail(s, "SELECT state");
    else if (!job_state_terminal(state))
        rc = 2;
    else {
        *state_out = state;
        st = store_stmt(s, ST_DELETE);
        db_bind_int(st, 1, id);
        rc = store_write(s, st, "DELETE job", NULL);
    }
    int crc = store_commit(s);
    return crc < 0 ? -1 : rc;
}

int store_oldest_finished(struct store *s, int64_t after_at, int64_t after_id, int64_t before_at,
                          struct store_finished *out, int max)
{
    struct store_cleaning *c = cleaning(s);
    if (!c) return -1;
    struct db_stmt *st = c->oldest;
    db_reset(st);
    db_bind_int(st, 1, after_at);
    db_bind_int(st, 2, after_id);
    db_bind_int(st, 3, before_at);
    db_bind_int(st, 4, max);
    int n = 0, step = DB_DONE;
    while (n < max && (step = db_step(st)) == DB_ROW) {
        out[n].id = db_col_int(st, 0);
        out[n].finished_at = db_col_int(st, 1);
        if (job_state_parse(db_col_text(st, 2), &out[n].state) < 0)
            out[n].state = JOB_QUEUED; /* (unknown: never deleted as a finished one) */
        n++;
    }
    if (n < max && step != DB_DONE) n = store_fail(s, "reading the oldest finished jobs");
    db_reset(st);
    store_read_done(s);
    return n;
}

int store_delete_unneeded(struct store *s, int64_t id, int64_t keys_since)
{
    struct store_cleaning *c = cleaning(s);
    if (!c) return -1;
    store_tx_begin(s);
    struct db_stmt *st = c->delete_unneeded;
    db_reset(st);
    db_bind_int(st, 1, id);
    db_bind_int(st, 2, keys_since);
    int changed = 0;
    int rc = store_write(s, st, "DELETE a finished job", &changed);
    if (store_commit(s) < 0 || rc < 0) return -1;
    return changed > 0;
}
