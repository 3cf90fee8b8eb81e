/* dispatch: the queue -> worker assignment, job outcomes, retries and terminate.
 * State lives in memory (queue, per-slot running job) and every change is written to the
 * store in the same locked section, so memory and SQLite never disagree for long. */
#include "server/dispatch.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool/tree.h"
#include "server/clock.h"
#include "server/log.h"
#include "server/queue.h"

/* Jobs a busy worker holds to start when its current one ends: two, so that it does not
 * run dry while the master waits for a CPU to send it the next one. */
#define DISPATCH_HOLD 3

/* A job waiting for its retry backoff to pass. */
struct delayed {
    int64_t id, priority, not_before; /* wall ms */
};

/* A job sent to a worker slot: the one it runs (cur) or the one it holds to start as soon
 * as that ends (next). The row stays queued, with `worker` set (a reservation), until the
 * worker says STARTED. */
struct running {
    int64_t id;            /* 0: none */
    int64_t pid;           /* the job's process (group), 0 until STARTED */
    int64_t since_us;      /* monotonic µs it became ready to run (dispatch latency) */
    int64_t priority;
    int attempt, max_attempts;
    bool started;          /* STARTED seen: the row says running */
    bool terminate;        /* a terminate request reached it */
    bool shutdown;         /* ... sent by the server's drain */
    bool withdrawing;      /* asked back (not started) so an idle worker can take it */
};

struct dispatch {
    pthread_mutex_t lock;
    const struct config *cfg;
    struct store *store;
    struct pool *pool;
    int epoll_fd;
    int wake_fd; /* eventfd in the main loop's epoll (DISPATCH_WAKE_TAG) */
    char output_dir[PATH_MAX + 16];
    struct queue queue;
    struct delayed *delayed;
    size_t n_delayed, cap_delayed;
    struct running *running; /* per slot: the job it runs (or is about to) */
    struct running (*next)[DISPATCH_HOLD]; /* per slot: the jobs it holds to start next */
    bool draining;
    int64_t last_ready_mono; /* a worker said READY then (health: is the pool working?) */
    struct dispatch_submit *pending, **pending_tail; /* submits for the next batch */
    int64_t pending_jobs;
    struct proto_buf payload;
    int64_t *finished; /* ids that ended in this batch, told to the hook after commit */
    size_t n_finished, cap_finished;
    dispatch_finish_fn on_finish;
    void *on_finish_ctx;
    struct dispatch_stats stats;
    double recent[DISPATCH_RECENT]; /* the last dispatch latencies (a ring), seconds */
    int recent_next, recent_n;
};

static void promote_next(struct dispatch *d, int slot);

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const double latency_bounds[DISPATCH_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30};

static void watch_slot(struct dispatch *d, int index)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = DISPATCH_WORKER_TAG | (uint64_t)index};
    if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->pool->slots[index].fd, &ev) < 0)
        log_error("epoll_ctl() failed while watching worker %d: %s", index, strerror(errno));
}

/* Sends what is queued for a slot; if the socket is full, waits for EPOLLOUT. */
static void flush_slot(struct dispatch *d, int index)
{
    struct pool_slot *s = &d->pool->slots[index];
    int rc = pool_flush(s);
    struct epoll_event ev = {.events = EPOLLIN | (rc == 1 ? EPOLLOUT : 0),
                             .data.u64 = DISPATCH_WORKER_TAG | (uint64_t)index};
    if (s->fd >= 0) epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev);
    if (rc < 0 && s->pid > 0) {
        log_error("write() failed while talking to worker %d: %s: replacing it", index,
                  strerror(errno));
        kill(s->pid, SIGKILL); /* its reaping records its job lost (or retries it) */
    }
}

static void load_queued(void *ctx, int64_t id, int64_t priority, int64_t not_before)
{
    struct dispatch *d = ctx;
    if (not_before > clock_wall_ms()) {
        if (d->n_delayed == d->cap_delayed) {
            size_t cap = d->cap_delayed ? d->cap_delayed * 2 : 16;
            struct delayed *p = realloc(d->delayed, cap * sizeof *p);
            if (!p) return;
            d->delayed = p;
            d->cap_delayed = cap;
        }
        d->delayed[d->n_delayed++] = (struct delayed){id, priority, not_before};
    } else {
        queue_push_since(&d->queue, priority, id, clock_mono_us());
    }
}

struct dispatch *dispatch_create(const struct config *cfg, struct store *store, struct pool *pool,
                                 int epoll_fd)
{
    struct dispatch *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->cfg = cfg;
    d->store = store;
    d->pool = pool;
    d->epoll_fd = epoll_fd;
    d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = DISPATCH_WAKE_TAG};
    if (d->wake_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, d->wake_fd, &ev) < 0) {
        log_error("eventfd() failed while creating the dispatcher: %s", strerror(errno));
        dispatch_destroy(d);
        return NULL;
    }
    snprintf(d->output_dir, sizeof d->output_dir, "%s/output", cfg->data_dir);
    d->last_ready_mono = clock_mono_ms();
    d->pending_tail = &d->pending;
    d->running = calloc((size_t)pool->count, sizeof *d->running);
    d->next = calloc((size_t)pool->count, sizeof *d->next);
    memcpy(d->stats.latency_bounds, latency_bounds, sizeof latency_bounds);
    if (!d->running || !d->next || store_each_queued(store, load_queued, d) < 0 ||
        store_count_states(store, d->stats.jobs) < 0) {
        dispatch_destroy(d);
        return NULL;
    }
    for (int i = 0; i < pool->count; i++)
        if (pool->slots[i].fd >= 0) watch_slot(d, i);
    return d;
}

void dispatch_destroy(struct dispatch *d)
{
    if (!d) return;
    if (d->wake_fd > 0) close(d->wake_fd);
    queue_free(&d->queue);
    free(d->delayed);
    free(d->running);
    free(d->next);
    free(d->finished);
    proto_buf_free(&d->payload);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void dispatch_on_finish(struct dispatch *d, dispatch_finish_fn fn, void *ctx)
{
    pthread_mutex_lock(&d->lock);
    d->on_finish = fn;
    d->on_finish_ctx = ctx;
    pthread_mutex_unlock(&d->lock);
}

void dispatch_output_path(const struct dispatch *d, int64_t id, const char *stream, char *out,
                          size_t n)
{
    snprintf(out, n, "%s/%lld.%s", d->output_dir, (long long)id, stream);
}

static void count_transition(struct dispatch *d, enum job_state from, enum job_state to)
{
    d->stats.jobs[from]--;
    d->stats.jobs[to]++;
    if (job_state_terminal(to)) d->stats.finished_total[to]++;
}

static void note_finished(struct dispatch *d, int64_t id)
{
    if (d->n_finished == d->cap_finished) {
        size_t cap = d->cap_finished ? d->cap_finished * 2 : 64;
        int64_t *p = realloc(d->finished, cap * sizeof *p);
        if (!p) return; /* the waiter still wakes at its deadline */
        d->finished = p;
        d->cap_finished = cap;
    }
    d->finished[d->n_finished++] = id;
}

/* Tells the hook about jobs that ended; call after their transaction committed. */
static void flush_finished(struct dispatch *d)
{
    for (size_t i = 0; i < d->n_finished; i++)
        if (d->on_finish) d->on_finish(d->on_finish_ctx, d->finished[i]);
    d->n_finished = 0;
}

enum dispatch_result dispatch_submit(struct dispatch *d, struct dispatch_submit *sub,
                                     void (*wait)(void *ctx))
{
    pthread_mutex_lock(&d->lock);
    enum dispatch_result rc = DISPATCH_OK;
    if (d->draining) rc = DISPATCH_SHUTTING_DOWN;
    else if (d->stats.jobs[JOB_QUEUED] + d->pending_jobs + (int64_t)sub->n > d->cfg->max_queued)
        rc = DISPATCH_QUEUE_FULL;
    if (rc == DISPATCH_OK) {
        sub->next = NULL;
        *d->pending_tail = sub;
        d->pending_tail = &sub->next;
        d->pending_jobs += (int64_t)sub->n;
        wait(sub->ctx); /* under the lock: the main loop cannot answer before this */
    }
    pthread_mutex_unlock(&d->lock);
    if (rc == DISPATCH_OK) dispatch_wake(d); /* there is work */
    return rc;
}

/* Main loop, in the batch: stores the waiting submits (each in a savepoint of its own). */
static struct dispatch_submit *store_submits(struct dispatch *d)
{
    struct dispatch_submit *list = d->pending;
    d->pending = NULL;
    d->pending_tail = &d->pending;
    d->pending_jobs = 0;
    int64_t now = clock_wall_ms();
    for (struct dispatch_submit *sub = list; sub; sub = sub->next) {
        sub->created_at = now;
        sub->result = store_insert_jobs(d->store, sub->specs, sub->n, now, sub->ids) == 0
                          ? DISPATCH_OK
                          : DISPATCH_ERROR;
    }
    return list;
}

/* After the commit: queues the stored jobs and answers every submitter. */
static void answer_submits(struct dispatch *d, struct dispatch_submit *list, bool committed)
{
    int64_t since = clock_mono_us();
    while (list) {
        struct dispatch_submit *sub = list;
        list = sub->next; /* sub may be freed by its done() */
        if (!committed) sub->result = DISPATCH_ERROR;
        if (sub->result == DISPATCH_OK) {
            for (size_t i = 0; i < sub->n; i++) {
                if (queue_push_since(&d->queue, sub->specs[i].priority, sub->ids[i], since) < 0)
                    log_error("out of memory while queueing job %lld: it runs after a restart",
                              (long long)sub->ids[i]);
                d->stats.jobs[JOB_QUEUED]++;
            }
            d->stats.submitted_total += sub->n;
        }
        sub->done(sub->ctx);
    }
}

void dispatch_wake(struct dispatch *d)
{
    uint64_t one = 1;
    (void)!write(d->wake_fd, &one, sizeof one);
}

int64_t dispatch_retry_delay_ms(const struct config *cfg, int attempt)
{
    double delay = cfg->retry_backoff;
    for (int i = 1; i < attempt && delay < cfg->retry_backoff_max; i++) delay *= 2;
    if (delay > cfg->retry_backoff_max) delay = cfg->retry_backoff_max;
    return (int64_t)(delay * 1000);
}

static bool remove_delayed(struct dispatch *d, int64_t id)
{
    for (size_t i = 0; i < d->n_delayed; i++)
        if (d->delayed[i].id == id) {
            d->delayed[i] = d->delayed[--d->n_delayed];
            return true;
        }
    return false;
}

/* Slot's job id: the one it runs or one it holds; NULL if neither. */
static struct running *slot_job(struct dispatch *d, int slot, int64_t id)
{
    if (!id) return NULL;
    if (d->running[slot].id == id) return &d->running[slot];
    for (int k = 0; k < DISPATCH_HOLD; k++)
        if (d->next[slot][k].id == id) return &d->next[slot][k];
    return NULL;
}

/* Closes the gaps in a slot's held jobs, keeping their order. */
static void compact_held(struct dispatch *d, int slot)
{
    int n = 0;
    for (int k = 0; k < DISPATCH_HOLD; k++)
        if (d->next[slot][k].id) d->next[slot][n++] = d->next[slot][k];
    for (; n < DISPATCH_HOLD; n++) memset(&d->next[slot][n], 0, sizeof d->next[slot][n]);
}

/* The job id on a worker slot (running, or held as its next), or NULL. */
static struct running *running_job(struct dispatch *d, int64_t id, int *slot)
{
    for (int i = 0; i < d->pool->count; i++) {
        struct running *r = slot_job(d, i, id);
        if (r) {
            if (slot) *slot = i;
            return r;
        }
    }
    return NULL;
}

/* Records a job that never started as canceled (called with the lock held). */
static enum dispatch_result cancel_queued(struct dispatch *d, int64_t id)
{
    struct store_outcome o = {.state = JOB_CANCELED, .exit_code = -1, .signal = -1, .pid = -1,
                              .user_us = -1, .system_us = -1, .maxrss_kb = -1,
                              .detail = "terminated before it started"};
    if (store_job_finish(d->store, id, JOB_QUEUED, &o, clock_wall_ms()) < 0)
        return DISPATCH_ERROR;
    count_transition(d, JOB_QUEUED, JOB_CANCELED);
    note_finished(d, id);
    flush_finished(d);
    return DISPATCH_CANCELED;
}

enum dispatch_result dispatch_terminate(struct dispatch *d, int64_t id, int sig, int64_t grace_ms)
{
    enum dispatch_result rc;
    pthread_mutex_lock(&d->lock);
    int slot;
    struct running *r = running_job(d, id, &slot);
    if (r && !r->started) {
        /* sent to a worker, not started: canceled now, like any queued job. The worker drops
         * it on this KILL; if it started it in this very instant, SIGKILL ends it at once
         * and whatever it reports about the job is ignored (the job is no longer its). */
        pool_send_kill(&d->pool->slots[slot], id, SIGKILL, 0);
        flush_slot(d, slot);
        bool was_cur = r == &d->running[slot];
        memset(r, 0, sizeof *r);
        if (was_cur) promote_next(d, slot);
        else compact_held(d, slot);
        rc = cancel_queued(d, id);
    } else if (r) {
        r->terminate = true;
        pool_send_kill(&d->pool->slots[slot], id, sig, grace_ms);
        flush_slot(d, slot);
        rc = DISPATCH_SIGNALED;
    } else if (queue_remove(&d->queue, id) || remove_delayed(d, id)) {
        rc = cancel_queued(d, id);
    } else {
        struct job j;
        int found = store_get_job(d->store, id, &j, false);
        rc = found == 0 ? DISPATCH_CONFLICT : found == 1 ? DISPATCH_NOT_FOUND : DISPATCH_ERROR;
        if (found == 0) job_free(&j);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int64_t dispatch_running_pid(struct dispatch *d, int64_t id)
{
    pthread_mutex_lock(&d->lock);
    struct running *r = running_job(d, id, NULL);
    int64_t pid = r && r->started ? r->pid : 0;
    pthread_mutex_unlock(&d->lock);
    return pid;
}

enum dispatch_result dispatch_delete(struct dispatch *d, int64_t id)
{
    enum job_state state;
    pthread_mutex_lock(&d->lock);
    int rc = store_delete_job(d->store, id, &state);
    if (rc == 0) {
        d->stats.jobs[state]--;
        char path[PATH_MAX + 32];
        dispatch_output_path(d, id, "stdout", path, sizeof path);
        unlink(path);
        dispatch_output_path(d, id, "stderr", path, sizeof path);
        unlink(path);
    }
    pthread_mutex_unlock(&d->lock);
    return rc == 0 ? DISPATCH_OK : rc == 1 ? DISPATCH_NOT_FOUND : rc == 2 ? DISPATCH_CONFLICT
                                                                           : DISPATCH_ERROR;
}

static const char *slot_state_name(enum pool_slot_state s)
{
    return s == SLOT_IDLE ? "idle" : s == SLOT_BUSY ? "busy" : "starting";
}

size_t dispatch_workers(struct dispatch *d, struct dispatch_worker_info *out, size_t max)
{
    pthread_mutex_lock(&d->lock);
    size_t n = 0;
    for (int i = 0; i < d->pool->count && n < max; i++) {
        const struct pool_slot *s = &d->pool->slots[i];
        out[n++] = (struct dispatch_worker_info){
            .index = i,
            .pid = s->pid,
            .state = slot_state_name(s->state),
            .job_id = d->running[i].id,
            .jobs_done = s->jobs_done,
            .started_at = s->started_at,
        };
    }
    pthread_mutex_unlock(&d->lock);
    return n;
}

void dispatch_stats(struct dispatch *d, struct dispatch_stats *out)
{
    pthread_mutex_lock(&d->lock);
    *out = d->stats;
    out->draining = d->draining;
    double sorted[DISPATCH_RECENT];
    out->recent_n = d->recent_n;
    memcpy(sorted, d->recent, sizeof(double) * (size_t)d->recent_n);
    out->ms_since_worker_ready = clock_mono_ms() - d->last_ready_mono;
    out->workers_total = d->pool->count;
    out->workers_idle = out->workers_busy = out->workers_starting = 0;
    for (int i = 0; i < d->pool->count; i++) {
        enum pool_slot_state s = d->pool->slots[i].state;
        if (s == SLOT_IDLE) out->workers_idle++;
        else if (s == SLOT_BUSY) out->workers_busy++;
        else out->workers_starting++;
    }
    pthread_mutex_unlock(&d->lock);
    if (out->recent_n > 0) { /* quantiles by rank, sorted outside the lock */
        qsort(sorted, (size_t)out->recent_n, sizeof *sorted, compare_double);
        out->recent_p50 = sorted[(out->recent_n - 1) / 2];
        out->recent_p99 = sorted[(out->recent_n * 99 + 99) / 100 - 1];
    }
}

/* --- main loop side --- */

void dispatch_loop_woken(struct dispatch *d)
{
    uint64_t v;
    while (read(d->wake_fd, &v, sizeof v) == (ssize_t)sizeof v) {
    }
}

void dispatch_loop_begin(struct dispatch *d)
{
    pthread_mutex_lock(&d->lock);
    store_begin(d->store);
}

static void observe_latency(struct dispatch *d, double seconds)
{
    if (seconds < 0) seconds = 0;
    for (int i = 0; i < DISPATCH_LATENCY_BUCKETS; i++)
        if (seconds <= latency_bounds[i]) d->stats.latency_counts[i]++;
    d->stats.latency_counts[DISPATCH_LATENCY_BUCKETS]++;
    d->stats.latency_sum += seconds;
    d->stats.latency_count++;
    d->recent[d->recent_next] = seconds;
    d->recent_next = (d->recent_next + 1) % DISPATCH_RECENT;
    if (d->recent_n < DISPATCH_RECENT) d->recent_n++;
}


/* The slot's current job is over: the job it held (if any) is the one it runs now. */
static void promote_next(struct dispatch *d, int slot)
{
    d->running[slot] = d->next[slot][0];
    memset(&d->next[slot][0], 0, sizeof d->next[slot][0]);
    compact_held(d, slot);
    struct pool_slot *s = &d->pool->slots[slot];
    s->job_id = d->running[slot].id;
    if (s->state != SLOT_DEAD && s->state != SLOT_STARTING)
        s->state = s->job_id ? SLOT_BUSY : SLOT_IDLE;
}

/* A job sent to a worker came back unstarted (withdrawn, terminated before it started, or
 * its worker died first): canceled if a terminate asked for it, else queued again. */
static void job_unstarted(struct dispatch *d, struct running *r)
{
    int64_t now = clock_wall_ms();
    if (r->terminate && !r->shutdown) {
        struct store_outcome o = {.state = JOB_CANCELED, .exit_code = -1, .signal = -1,
                                  .user_us = -1, .system_us = -1, .maxrss_kb = -1,
                                  .detail = "terminated before it started"};
        store_job_finish(d->store, r->id, JOB_QUEUED, &o, now);
        count_transition(d, JOB_QUEUED, JOB_CANCELED);
        note_finished(d, r->id);
    } else {
        store_job_unreserve(d->store, r->id);
        queue_push_since(&d->queue, r->priority, r->id, r->since_us);
    }
    memset(r, 0, sizeof *r);
}

/* The worker started the slot's current job at start_us (monotonic µs, 0: unknown): the
 * row says running since then. */
static void job_started(struct dispatch *d, int slot, int64_t pid, int64_t start_us)
{
    struct running *r = &d->running[slot];
    if (r->started) return;
    r->started = true;
    r->pid = pid;
    int64_t now_us = clock_mono_us();
    if (start_us <= 0 || start_us > now_us) start_us = now_us;
    int64_t started_at = clock_wall_ms() - (now_us - start_us) / 1000;
    store_job_running(d->store, r->id, slot, r->attempt, started_at);
    count_transition(d, JOB_QUEUED, JOB_RUNNING);
    observe_latency(d, (double)(start_us - r->since_us) / 1e6);
}

/* Ends a job that was running on slot: records the outcome or re-queues it for a retry. */
static void job_ended(struct dispatch *d, int slot, const struct store_outcome *o)
{
    struct running *r = &d->running[slot];
    int64_t id = r->id, now = clock_wall_ms();
    bool retry = (o->state == JOB_FAILED || o->state == JOB_LOST || o->state == JOB_TIMED_OUT) &&
                 r->attempt < r->max_attempts && !r->terminate;
    if (retry) {
        int64_t delay_ms = dispatch_retry_delay_ms(d->cfg, r->attempt);
        double delay = (double)delay_ms / 1000;
        int64_t not_before = now + delay_ms;
        char detail[300];
        snprintf(detail, sizeof detail, "attempt %d of %d ended %s%s%s; retry in %.3gs",
                 r->attempt, r->max_attempts, job_state_name(o->state), o->detail ? ": " : "",
                 o->detail ? o->detail : "", delay);
        struct job j;
        int64_t priority = 0;
        if (store_get_job(d->store, id, &j, false) == 0) {
            priority = j.spec.priority;
            job_free(&j);
        }
        /* the next attempt's output starts afresh (capture files are made on the first byte) */
        char path[PATH_MAX + 32];
        dispatch_output_path(d, id, "stdout", path, sizeof path);
        unlink(path);
        dispatch_output_path(d, id, "stderr", path, sizeof path);
        unlink(path);
        /* the attempt's outcome stays visible in the event; the row is queued again */
        store_job_requeue(d->store, id, JOB_RUNNING, not_before, detail, now);
        count_transition(d, JOB_RUNNING, JOB_QUEUED);
        load_queued(d, id, priority, not_before);
    } else {
        store_job_finish(d->store, id, JOB_RUNNING, o, now);
        count_transition(d, JOB_RUNNING, o->state);
        note_finished(d, id);
    }
    promote_next(d, slot);
}

static void handle_done(struct dispatch *d, int slot, int64_t id, struct proto_buf *payload)
{
    struct proto_done done;
    struct running *r = slot_job(d, slot, id);
    if (!r) return; /* not ours: stale */
    if (proto_decode_done(payload, &done) < 0) {
        log_error("worker %d sent a malformed DONE for job %lld: replacing it", slot,
                  (long long)id);
        kill(d->pool->slots[slot].pid, SIGKILL); /* its reaping records the job lost */
        return;
    }
    if (done.end == PROTO_END_NOT_STARTED) {
        bool was_cur = r == &d->running[slot];
        job_unstarted(d, r);
        if (was_cur) promote_next(d, slot);
        else compact_held(d, slot);
        return;
    }
    if (r != &d->running[slot]) { /* the worker ran its held job before the current one? */
        log_error("worker %d ended job %lld out of order: replacing it", slot, (long long)id);
        kill(d->pool->slots[slot].pid, SIGKILL);
        return;
    }
    if (!r->started) job_started(d, slot, done.pid, done.start_us); /* a short job's DONE */
    struct store_outcome o = {.exit_code = -1, .signal = -1, .pid = r->pid ? r->pid : -1,
                              .stdout_bytes = (int64_t)done.stdout_bytes,
                              .stderr_bytes = (int64_t)done.stderr_bytes,
                              .truncated = done.truncated != 0,
                              .user_us = done.user_us, .system_us = done.system_us,
                              .maxrss_kb = done.maxrss_kb};
    char detail[320];
    if (done.end == PROTO_END_SPAWN_ERROR) {
        o.state = JOB_FAILED;
        o.exit_code = 127;
        o.error = done.error;
        snprintf(detail, sizeof detail, "could not start: %s", done.error);
    } else {
        if (done.end == PROTO_END_EXITED) o.exit_code = done.code;
        else o.signal = done.code;
        if (done.cause == PROTO_CAUSE_TIMEOUT) o.state = JOB_TIMED_OUT;
        else if (done.cause == PROTO_CAUSE_KILLED) o.state = JOB_TERMINATED;
        else if (done.end == PROTO_END_EXITED && done.code == 0) o.state = JOB_SUCCEEDED;
        else o.state = JOB_FAILED;
        if (done.end == PROTO_END_EXITED) snprintf(detail, sizeof detail, "exit code %d", done.code);
        else snprintf(detail, sizeof detail, "killed by signal %d (%s)", done.code, strsignal(done.code));
        if (o.state == JOB_TIMED_OUT) {
            o.error = "the job's timeout elapsed";
        } else if (o.state == JOB_TERMINATED && r->shutdown) {
            o.error = "terminated by the server's shutdown";
        }
    }
    o.detail = detail;
    job_ended(d, slot, &o);
    d->pool->slots[slot].jobs_done++;
}

void dispatch_loop_worker_event(struct dispatch *d, int index, uint32_t events)
{
    struct pool_slot *s = &d->pool->slots[index];
    if (s->fd < 0) return;
    if (events & EPOLLOUT) flush_slot(d, index);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    long n = proto_reader_fill(&s->reader, s->fd);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { /* EOF: the worker is exiting; its SIGCHLD does the rest */
        epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        kill(s->pid, SIGKILL);
        return;
    }
    struct proto_header h;
    int got;
    while ((got = proto_reader_next(&s->reader, &h, &d->payload)) == 1) {
        struct running *r = &d->running[index];
        switch (h.type) {
        case PROTO_READY:
            if (s->state == SLOT_STARTING) s->state = r->id ? SLOT_BUSY : SLOT_IDLE;
            d->last_ready_mono = clock_mono_ms();
            break;
        case PROTO_STARTED:
            if (r->id == h.job_id && r->id && d->payload.len == sizeof(struct proto_started)) {
                struct proto_started st; /* pid kept in memory (the API shows it) */
                memcpy(&st, d->payload.data, sizeof st);
                job_started(d, index, st.pid, st.start_us);
            }
            break;
        case PROTO_DONE:
            handle_done(d, index, h.job_id, &d->payload);
            d->last_ready_mono = clock_mono_ms();
            break;
        default:
            log_error("worker %d sent an unexpected message type %d", index, h.type);
        }
    }
    if (got < 0) {
        log_error("worker %d (pid %d) sent a corrupt frame: replacing it", index, (int)s->pid);
        epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        kill(s->pid, SIGKILL);
    }
}

static void describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status)) snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(out, n, "status %#x", status);
}

void dispatch_loop_reap(struct dispatch *d)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return;
        struct pool_slot *s = pool_slot_by_pid(d->pool, pid);
        if (!s) continue; /* a stranger (we may be PID 1): reaped, nothing else to do */
        char how[96];
        describe_status(status, how, sizeof how);
        struct running *r = &d->running[s->index];
        for (int k = 0; k < DISPATCH_HOLD; k++) /* never started: they run elsewhere */
            if (d->next[s->index][k].id) job_unstarted(d, &d->next[s->index][k]);
        if (r->id && !r->started) {
            job_unstarted(d, r); /* sent, not started: it runs elsewhere */
        } else if (r->id) {
            /* its job's tree is orphaned now: kill it rather than let it run unseen */
            if (r->pid > 0) kill(-(pid_t)r->pid, SIGKILL);
            pid_t live[1024];
            int nlive = 0;
            for (int i = 0; i < d->pool->count && nlive < 1024; i++)
                if (d->pool->slots[i].pid > 0 && &d->pool->slots[i] != s)
                    live[nlive++] = d->pool->slots[i].pid;
            tree_kill_slot(s->index, live, nlive);
            char detail[160];
            snprintf(detail, sizeof detail, "worker %d (pid %d) %s", s->index, (int)pid, how);
            struct store_outcome o = {.state = JOB_LOST, .exit_code = -1, .signal = -1,
                                      .pid = r->pid ? r->pid : -1, .error = detail,
                                      .user_us = -1, .system_us = -1, .maxrss_kb = -1,
                                      .detail = detail};
            log_warn("job %lld lost: %s", (long long)r->id, detail);
            job_ended(d, s->index, &o);
        }
        if (!d->draining) log_warn("worker %d (pid %d) %s: replacing it", s->index, (int)pid, how);
        pool_slot_dead(d->pool, s, clock_mono_ms());
        d->stats.worker_restarts++;
    }
}

/* Asks a worker to give back a job it holds unstarted (it answers NOT_STARTED). */
static void withdraw_held(struct dispatch *d, int slot, int k)
{
    struct running *n = &d->next[slot][k];
    if (!n->id || n->withdrawing) return;
    n->withdrawing = true;
    pool_send_kill(&d->pool->slots[slot], n->id, 0, 0);
    flush_slot(d, slot);
}

void dispatch_loop_drain(struct dispatch *d)
{
    d->draining = true;
    for (int i = 0; i < d->pool->count; i++) /* they stay queued */
        for (int k = 0; k < DISPATCH_HOLD; k++) withdraw_held(d, i, k);
}

void dispatch_loop_terminate_all(struct dispatch *d, int sig, int64_t grace_ms)
{
    for (int i = 0; i < d->pool->count; i++) {
        struct running *r = &d->running[i];
        if (!r->id) continue;
        r->terminate = r->shutdown = true;
        pool_send_kill(&d->pool->slots[i], r->id, sig, grace_ms);
        flush_slot(d, i);
    }
}

int dispatch_loop_running(struct dispatch *d)
{
    int n = 0;
    for (int i = 0; i < d->pool->count; i++) {
        n += d->running[i].id != 0;
        for (int k = 0; k < DISPATCH_HOLD; k++) n += d->next[i][k].id != 0;
    }
    return n;
}

bool dispatch_loop_saturated(struct dispatch *d)
{
    pthread_mutex_lock(&d->lock);
    bool all = d->pool->count > 0;
    for (int i = 0; i < d->pool->count && all; i++)
        if (!d->running[i].id || !d->next[i][0].id) all = false;
    pthread_mutex_unlock(&d->lock);
    return all;
}

/* Moves retries whose backoff passed into the queue; returns ms until the next one. */
static int64_t release_delayed(struct dispatch *d, int64_t now)
{
    int64_t next = -1;
    for (size_t i = 0; i < d->n_delayed;) {
        if (d->delayed[i].not_before <= now) {
            queue_push_since(&d->queue, d->delayed[i].priority, d->delayed[i].id, clock_mono_us());
            d->delayed[i] = d->delayed[--d->n_delayed];
            continue;
        }
        int64_t wait = d->delayed[i].not_before - now;
        if (next < 0 || wait < next) next = wait;
        i++;
    }
    return next;
}

/* Takes the next queued job and sends it to slot r (its current or its next job; a stale or
 * unreadable entry is dropped instead). The row is reserved (worker set) in this batch; the
 * RUN goes out after the commit, so a crash never leaves a job started but unrecorded. */
static void assign(struct dispatch *d, int slot, struct running *r)
{
    struct queue_entry e;
    if (!queue_pop(&d->queue, &e)) return;
    struct job j;
    int rc = store_get_job(d->store, e.id, &j, true);
    if (rc != 0) {
        log_error("job %lld is queued but cannot be read: skipped", (long long)e.id);
        return;
    }
    if (j.state != JOB_QUEUED) { /* stale entry */
        job_free(&j);
        return;
    }
    char out_path[PATH_MAX + 32], err_path[PATH_MAX + 32];
    dispatch_output_path(d, j.id, "stdout", out_path, sizeof out_path);
    dispatch_output_path(d, j.id, "stderr", err_path, sizeof err_path);
    double timeout = j.spec.timeout > 0 ? j.spec.timeout : d->cfg->default_timeout;
    struct proto_run run = {
        .timeout_ms = timeout > 0 ? (int64_t)(timeout * 1000 + 0.5) : 0,
        .kill_grace_ms = (int64_t)(d->cfg->kill_grace * 1000),
        .max_output = (uint64_t)d->cfg->max_output,
        .cwd = j.spec.cwd,
        .stdout_path = out_path,
        .stderr_path = err_path,
        .argv_blob = j.spec.argv.data,
        .argv_len = (uint32_t)j.spec.argv.len,
        .env_blob = j.spec.env.data,
        .env_len = (uint32_t)j.spec.env.len,
        .stdin_data = j.spec.stdin_data,
        .stdin_len = (uint32_t)j.spec.stdin_len,
    };
    d->payload.len = d->payload.pos = 0;
    d->payload.failed = false;
    proto_encode_run(&d->payload, &run);
    struct pool_slot *s = &d->pool->slots[slot];
    store_job_reserve(d->store, j.id, slot);
    *r = (struct running){.id = j.id, .attempt = j.attempt + 1, .priority = j.spec.priority,
                          .max_attempts = j.spec.max_attempts,
                          .since_us = e.since_us ? e.since_us : clock_mono_us()};
    if (r == &d->running[slot]) {
        s->state = SLOT_BUSY;
        s->job_id = j.id;
    }
    if (d->payload.failed || pool_queue_run(s, j.id, &d->payload) < 0) {
        log_error("out of memory while sending job %lld to worker %d", (long long)j.id, slot);
        kill(s->pid, SIGKILL); /* its reaping puts the job back in the queue */
    }
    job_free(&j);
}

int64_t dispatch_loop_end(struct dispatch *d)
{
    struct dispatch_submit *submits = store_submits(d);
    int64_t now_mono = clock_mono_ms(), wake = -1;
    int64_t next_retry = release_delayed(d, clock_wall_ms());
    if (next_retry >= 0) wake = next_retry;
    for (int i = 0; i < d->pool->count; i++) {
        struct pool_slot *s = &d->pool->slots[i];
        if (s->state == SLOT_DEAD && !d->draining) {
            if (s->respawn_at <= now_mono) {
                if (pool_respawn(d->pool, i) == 0) watch_slot(d, i);
                else {
                    log_error("fork() failed while replacing worker %d: %s", i, strerror(errno));
                    s->respawn_at = now_mono + 1000;
                }
            }
            if (s->state == SLOT_DEAD) {
                int64_t w = s->respawn_at - now_mono;
                if (wake < 0 || w < wake) wake = w < 0 ? 0 : w;
            }
        }
        while (!d->draining && s->state == SLOT_IDLE && d->queue.len > 0)
            assign(d, i, &d->running[i]);
    }
    /* each busy worker also holds the next job, so it starts it the moment the current one
     * ends; an idle worker with nothing queued takes back a held job from a busy one, so a
     * long job never keeps a short one waiting behind it */
    bool idle_worker = false;
    for (int i = 0; i < d->pool->count; i++)
        if (d->pool->slots[i].state == SLOT_IDLE) idle_worker = true;
    for (int i = 0; i < d->pool->count && !d->draining; i++) {
        struct pool_slot *s = &d->pool->slots[i];
        for (int k = 0; k < DISPATCH_HOLD; k++) {
            if (s->state == SLOT_BUSY && !d->next[i][k].id && d->queue.len > 0)
                assign(d, i, &d->next[i][k]);
            if (idle_worker && d->queue.len == 0 && d->next[i][k].id && d->running[i].started)
                withdraw_held(d, i, k);
        }
    }
    /* the jobs submitted in this batch are dispatched in the next iteration (the wake below) */
    bool committed = store_commit(d->store) == 0;
    answer_submits(d, submits, committed);
    if (submits && committed) dispatch_wake(d);
    for (int i = 0; i < d->pool->count; i++)
        if (d->pool->slots[i].out.len > d->pool->slots[i].out.pos) flush_slot(d, i);
    flush_finished(d);
    pthread_mutex_unlock(&d->lock);
    return wake;
}
