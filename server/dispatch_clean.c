/* dispatch_clean: deleting finished jobs on the main loop: retention (--retain, --retain-jobs)
 * and bulk deletes (DELETE /v1/jobs?...). Both go in slices of a few dozen jobs, each in a
 * transaction of its own after the batch that dispatches, and only while nothing waits in the
 * main loop's epoll (a busy loop still gets a short slice every OVERDUE_MS), so a submit or a
 * worker's message waits at most for a few rows and a commit. A job's files are unlinked once
 * the slice that deleted its row committed. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/dispatch_internal.h"
#include "server/log.h"

#define SLICE_ROWS 64     /* jobs read per slice */
#define SLICE_US 500      /* a slice stops after this long ... */
#define POLL_EVERY 1      /* ... or when the epoll has something, looked at after each job */
#define OVERDUE_MS 50     /* a loop that is never idle still gets a slice this often ... */
#define FORCED_ROWS 8     /* ... of at most this many jobs */
#define PASS_MIN_MS 1000  /* a retention pass starts at most this often after the last ... */
#define PASS_MAX_MS 60000 /* ... and at least this often (kept jobs may be free now) */

/* What one slice may still do. */
struct budget {
    int64_t until_us; /* monotonic */
    int rows;         /* jobs looked at */
    bool forced;      /* an overdue slice: FORCED_ROWS, whatever waits */
};

/* True when the slice must end: its time or rows are spent, or something waits in the epoll. */
static bool slice_over(struct dispatch *d, struct budget *b)
{
    if (++b->rows % POLL_EVERY) return false;
    if (b->forced) return b->rows >= FORCED_ROWS || clock_mono_us() >= b->until_us;
    struct epoll_event ev;
    return clock_mono_us() >= b->until_us || epoll_wait(d->epoll_fd, &ev, 1, 0) > 0;
}

void dispatch_clean_init(struct dispatch *d)
{
    d->clean.bulk_tail = &d->clean.bulk;
    d->clean.pass_end = -PASS_MAX_MS;
    dispatch_loop_set_retention(d, d->cfg->retain, d->cfg->retain_jobs);
}

void dispatch_loop_set_retention(struct dispatch *d, double retain, int64_t retain_jobs)
{
    struct clean *c = &d->clean;
    if (c->max_age != retain || c->max_jobs != retain_jobs) {
        c->next_pass = 0; /* a pass at once, by the new limits */
        c->pass = false;
    }
    c->max_age = d->stats.retain = retain;
    c->max_jobs = d->stats.retain_jobs = retain_jobs;
}

void dispatch_clean_command(struct dispatch *d, struct dispatch_cmd *cmd)
{
    cmd->next = NULL;
    cmd->deleted = cmd->kept = 0;
    *d->clean.bulk_tail = cmd;
    d->clean.bulk_tail = &cmd->next;
}

void dispatch_clean_close(struct dispatch *d, enum dispatch_result result)
{
    struct clean *c = &d->clean;
    while (c->bulk) {
        struct dispatch_cmd *cmd = c->bulk;
        c->bulk = cmd->next;
        dispatch_answer(d, cmd, result);
    }
    c->bulk_tail = &c->bulk;
    free(c->unlink);
    c->unlink = NULL;
    c->n_unlink = c->cap_unlink = 0;
}

/* Counts a deleted job; its files go after the commit. */
static void deleted(struct dispatch *d, int64_t id, enum job_state state, bool by_retention)
{
    struct clean *c = &d->clean;
    d->stats.jobs[state]--;
    if (by_retention)
        d->stats.deleted_retention++;
    else
        d->stats.deleted_request++;
    if (c->n_unlink == c->cap_unlink) {
        size_t cap = c->cap_unlink ? 2 * c->cap_unlink : SLICE_ROWS;
        int64_t *grown = realloc(c->unlink, cap * sizeof *grown);
        if (!grown) {
            log_error("out of memory: the output files of job %lld stay on disk", (long long)id);
            return;
        }
        c->unlink = grown;
        c->cap_unlink = cap;
    }
    c->unlink[c->n_unlink++] = id;
}

/* The files of the jobs deleted by committed slices. */
static void unlink_deleted(struct dispatch *d)
{
    struct clean *c = &d->clean;
    char path[PATH_MAX + 32];
    for (size_t i = 0; i < c->n_unlink; i++) {
        dispatch_output_path(d, c->unlink[i], "stdout", path, sizeof path);
        unlink(path);
        dispatch_output_path(d, c->unlink[i], "stderr", path, sizeof path);
        unlink(path);
    }
    c->n_unlink = 0;
}

static int64_t finished_jobs(const struct dispatch *d)
{
    int64_t n = 0;
    for (int s = 0; s < JOB_STATE_COUNT; s++)
        if (job_state_terminal((enum job_state)s)) n += d->stats.jobs[s];
    return n;
}

/* Ends the pass; the next one is due when the next job ages out (age_out: wall ms, 0 if not
 * known), within PASS_MIN_MS and PASS_MAX_MS, or PASS_MIN_MS after a job ended. */
static void end_pass(struct dispatch *d, int64_t age_out)
{
    struct clean *c = &d->clean;
    int64_t now = clock_mono_ms(), wait = PASS_MAX_MS;
    if (age_out > 0) wait = age_out - clock_wall_ms();
    if (wait < PASS_MIN_MS) wait = PASS_MIN_MS;
    if (wait > PASS_MAX_MS) wait = PASS_MAX_MS;
    c->pass = false;
    c->pass_end = now;
    c->next_pass = now + wait;
}

/* One slice of the retention pass (started if none is under way): the oldest finished jobs
 * first, each deleted unless still needed, until the age and count limits are met. */
static void retention_slice(struct dispatch *d, struct budget *b)
{
    struct clean *c = &d->clean;
    int64_t wall = clock_wall_ms();
    if (!c->pass) {
        c->pass = true;
        c->dirty = false;
        c->at = -1;
        c->id = 0;
        c->cutoff = c->max_age > 0 ? wall - (int64_t)(c->max_age * 1000) : INT64_MIN;
    }
    int64_t excess = c->max_jobs > 0 ? finished_jobs(d) - c->max_jobs : 0;
    /* (the first job not due yet is read too: when it ages out, the next pass is due) */
    struct store_finished rows[SLICE_ROWS];
    int n = excess <= 0 && c->cutoff == INT64_MIN
                ? 0
                : store_oldest_finished(d->store, c->at, c->id, INT64_MAX, rows, SLICE_ROWS);
    for (int i = 0; i < n; i++) {
        if (excess <= 0 && rows[i].finished_at >= c->cutoff)
            return end_pass(d, rows[i].finished_at + (int64_t)(c->max_age * 1000));
        c->at = rows[i].finished_at;
        c->id = rows[i].id;
        if (job_state_terminal(rows[i].state) &&
            store_delete_unneeded(d->store, rows[i].id, wall - DISPATCH_IDEMPOTENCY_MS) == 1) {
            deleted(d, rows[i].id, rows[i].state, true);
            excess--;
        }
        if (store_failed(d->store)) return end_pass(d, 0);
        if (slice_over(d, b)) return;
    }
    if (n < SLICE_ROWS) end_pass(d, 0); /* (n < 0: a failed read, logged) */
}

/* One slice of the first bulk delete: its filter's jobs from the newest down, the finished
 * ones deleted unless still needed; answered after the slice that reads the last. */
static void bulk_slice(struct dispatch *d, struct budget *b)
{
    struct clean *c = &d->clean;
    struct dispatch_cmd *cmd = c->bulk;
    struct store_filter f = cmd->filter;
    f.limit = SLICE_ROWS;
    struct job *jobs;
    size_t n, i = 0;
    enum dispatch_result result = DISPATCH_OK;
    int64_t keys_since = clock_wall_ms() - DISPATCH_IDEMPOTENCY_MS;
    if (store_list_jobs(d->store, &f, &jobs, &n) < 0) {
        result = DISPATCH_ERROR;
        jobs = NULL;
        n = 0;
    }
    while (i < n) {
        struct job *j = &jobs[i++];
        cmd->filter.before = j->id; /* the next slice lists the older ones */
        if (job_state_terminal(j->state)) {
            int rc = store_delete_unneeded(d->store, j->id, keys_since);
            if (rc == 1) {
                cmd->deleted++;
                deleted(d, j->id, j->state, false);
            } else if (rc == 0) {
                cmd->kept++;
            }
        }
        if (store_failed(d->store)) result = DISPATCH_UNAVAILABLE;
        if (store_failed(d->store) || slice_over(d, b)) break;
    }
    for (size_t k = 0; k < n; k++)
        job_free(&jobs[k]);
    free(jobs);
    if (result == DISPATCH_OK && (i < n || n == SLICE_ROWS)) return; /* more next time */
    c->bulk = cmd->next;
    if (!c->bulk) c->bulk_tail = &c->bulk;
    cmd->wrote = true; /* answered once committed */
    dispatch_answer(d, cmd, result);
}

/* Whether a retention pass is under way or due; *wait gets ms until the next is due. */
static bool retention_due(struct dispatch *d, int64_t now, int64_t *wait)
{
    struct clean *c = &d->clean;
    *wait = -1;
    if (d->draining || (c->max_age <= 0 && c->max_jobs <= 0)) return false;
    if (c->pass) return true;
    int64_t due = c->next_pass;
    if (c->dirty && c->pass_end + PASS_MIN_MS < due) due = c->pass_end + PASS_MIN_MS;
    if (now >= due) return true;
    *wait = due - now;
    return false;
}

int64_t dispatch_loop_clean(struct dispatch *d)
{
    struct clean *c = &d->clean;
    if (dispatch_loop_unsaved(d) > 0) return -1; /* the batches that wait come first */
    unlink_deleted(d); /* (those of a slice whose commit had to be retried) */
    int64_t now = clock_mono_ms(), wait;
    bool retention = retention_due(d, now, &wait);
    if (!c->bulk && !retention) return wait;
    struct budget b = {.until_us = clock_mono_us() + SLICE_US,
                       .forced = now - c->last_slice >= OVERDUE_MS};
    struct epoll_event ev;
    if (!b.forced && epoll_wait(d->epoll_fd, &ev, 1, 0) > 0) return 0; /* after that */
    c->last_slice = now;
    store_begin(d->store);
    if (c->bulk)
        bulk_slice(d, &b);
    else
        retention_slice(d, &b);
    if (store_commit(d->store) < 0) {
        dispatch_publish_health(d);
        return -1; /* (the next batch retries it) */
    }
    unlink_deleted(d);
    dispatch_flush_answers(d);
    dispatch_publish(d);
    if (c->bulk || c->pass) return 0;
    retention_due(d, clock_mono_ms(), &wait);
    return wait;
}
