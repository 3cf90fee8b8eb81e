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
    sqlite3_stmt *oldest, *delete_unneeded;
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
    if (sqlite3_prepare_v3(s->db, oldest, -1, SQLITE_PREPARE_PERSISTENT, &c->oldest, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->delete_unneeded, NULL) !=
            SQLITE_OK) {
        store_fail(s, "preparing the retention statements");
        sqlite3_finalize(c->oldest);
        free(c);
        return NULL;
    }
    return s->cleaning = c;
}

void store_clean_close(struct store *s)
{
    if (!s->cleaning) return;
    sqlite3_finalize(s->cleaning->oldest);
    sqlite3_finalize(s->cleaning->delete_unneeded);
    free(s->cleaning);
    s->cleaning = NULL;
}

int store_delete_job(struct store *s, int64_t id, enum job_state *state_out)
{
    store_tx_begin(s);
    sqlite3_stmt *st = store_stmt(s, ST_STATE_OF);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    enum job_state state = JOB_QUEUED;
    if (rc == SQLITE_ROW) job_state_parse((const char *)sqlite3_column_text(st, 0), &state);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        rc = 1;
    else if (rc != SQLITE_ROW)
        rc = store_fail(s, "SELECT state");
    else if (!job_state_terminal(state))
        rc = 2;
    else {
        *state_out = state;
        st = store_stmt(s, ST_DELETE);
        sqlite3_bind_int64(st, 1, id);
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
    sqlite3_stmt *st = c->oldest;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, after_at);
    sqlite3_bind_int64(st, 2, after_id);
    sqlite3_bind_int64(st, 3, before_at);
    sqlite3_bind_int(st, 4, max);
    int n = 0, step = SQLITE_DONE;
    while (n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        out[n].id = sqlite3_column_int64(st, 0);
        out[n].finished_at = sqlite3_column_int64(st, 1);
        if (job_state_parse((const char *)sqlite3_column_text(st, 2), &out[n].state) < 0)
            out[n].state = JOB_QUEUED; /* (unknown: never deleted as a finished one) */
        n++;
    }
    if (n < max && step != SQLITE_DONE) n = store_fail(s, "reading the oldest finished jobs");
    sqlite3_reset(st);
    store_read_done(s);
    return n;
}

int store_delete_unneeded(struct store *s, int64_t id, int64_t keys_since)
{
    struct store_cleaning *c = cleaning(s);
    if (!c) return -1;
    store_tx_begin(s);
    sqlite3_stmt *st = c->delete_unneeded;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, keys_since);
    int changed = 0;
    int rc = store_write(s, st, "DELETE a finished job", &changed);
    if (store_commit(s) < 0 || rc < 0) return -1;
    return changed > 0;
}
