/* dispatch_share: what the dispatcher shares with other threads, under its `share` mutex
 * only: the hand-over of submits and commands (answered after the commit that carried them
 * out), the answers, and the view published after each commit (workers, queues, counters)
 * that /v1/workers, /healthz, /metrics and the queue list read. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/dispatch_internal.h"

static const char *slot_state_name(enum pool_slot_state s)
{
    return s == SLOT_IDLE      ? "idle"
           : s == SLOT_BUSY    ? "busy"
           : s == SLOT_EXITING ? "exiting"
                               : "starting";
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

const double dispatch_usage_bounds[DISPATCH_USAGE_BUCKETS] = {0.01, 0.05, 0.1, 0.5, 1,    5,
                                                              10,   30,   60,  300, 1800, 3600};

void dispatch_usage_add(struct dispatch_usage *u, double duration, double cpu)
{
    for (int i = 0; i < DISPATCH_USAGE_BUCKETS; i++) {
        if (duration <= dispatch_usage_bounds[i]) u->duration[i]++;
        if (cpu <= dispatch_usage_bounds[i]) u->cpu[i]++;
    }
    u->duration[DISPATCH_USAGE_BUCKETS]++;
    u->cpu[DISPATCH_USAGE_BUCKETS]++;
    u->duration_sum += duration;
    u->cpu_sum += cpu;
    u->count++;
}

/* from a dispatch on an idle pool (under a millisecond) to a queue held for an hour */
const double dispatch_wait_bounds[DISPATCH_WAIT_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600, 3600};

void dispatch_usage_add_wait(struct dispatch_usage *u, double seconds)
{
    if (seconds < 0) seconds = 0;
    for (int i = 0; i < DISPATCH_WAIT_BUCKETS; i++)
        if (seconds <= dispatch_wait_bounds[i]) u->wait[i]++;
    u->wait[DISPATCH_WAIT_BUCKETS]++;
    u->wait_sum += seconds;
    u->wait_count++;
}

size_t dispatch_queue_list(struct dispatch *d, struct dispatch_queue_info *out, size_t max)
{
    pthread_mutex_lock(&d->share);
    size_t n = (size_t)d->view.n_queues < max ? (size_t)d->view.n_queues : max;
    memcpy(out, d->view.queues, n * sizeof *out);
    pthread_mutex_unlock(&d->share);
    return n;
}

enum dispatch_result dispatch_submit(struct dispatch *d, struct dispatch_submit *sub,
                                     void (*wait)(void *ctx))
{
    pthread_mutex_lock(&d->share);
    enum dispatch_result rc = DISPATCH_OK;
    if (d->view.stats.draining || d->closed)
        rc = DISPATCH_SHUTTING_DOWN;
    else if (d->view.stats.store.waiting > 0)
        rc = DISPATCH_UNAVAILABLE;
    else if (d->view.stats.jobs[JOB_QUEUED] + d->view.stats.jobs[JOB_SCHEDULED] + d->pending_jobs +
                 (int64_t)sub->n >
             d->cfg->max_queued) /* (a scheduled job is queued at its time: it counts) */
        rc = DISPATCH_QUEUE_FULL;
    if (rc == DISPATCH_OK) {
        sub->next = NULL;
        *d->pending_tail = sub;
        d->pending_tail = &sub->next;
        d->pending_jobs += (int64_t)sub->n;
        wait(sub->ctx); /* under the lock: the main loop cannot answer before this */
    }
    pthread_mutex_unlock(&d->share);
    if (rc == DISPATCH_OK) dispatch_wake(d); /* there is work */
    return rc;
}

enum dispatch_result dispatch_command(struct dispatch *d, struct dispatch_cmd *cmd,
                                      void (*wait)(void *ctx))
{
    pthread_mutex_lock(&d->share);
    if (d->closed) {
        pthread_mutex_unlock(&d->share);
        return cmd->result = DISPATCH_SHUTTING_DOWN;
    }
    cmd->next = cmd->parked = NULL;
    *d->commands_tail = cmd;
    d->commands_tail = &cmd->next;
    if (wait) wait(cmd->ctx); /* under the lock: the main loop cannot answer before this */
    pthread_mutex_unlock(&d->share);
    dispatch_wake(d);
    return DISPATCH_OK;
}

void dispatch_loop_close(struct dispatch *d)
{
    pthread_mutex_lock(&d->share);
    d->closed = true;
    struct dispatch_submit *submits = d->pending;
    d->pending = NULL;
    d->pending_tail = &d->pending;
    struct dispatch_cmd *commands = d->commands;
    d->commands = NULL;
    d->commands_tail = &d->commands;
    pthread_mutex_unlock(&d->share);
    while (submits) {
        struct dispatch_submit *sub = submits;
        submits = sub->next; /* sub may be freed by its done() */
        sub->result = DISPATCH_SHUTTING_DOWN;
        sub->done(sub->ctx);
    }
    while (commands) {
        struct dispatch_cmd *cmd = commands;
        commands = cmd->next;
        dispatch_answer(d, cmd, DISPATCH_SHUTTING_DOWN);
    }
    for (int i = 0; i < d->pool->count; i++) {
        dispatch_answer_waiting(d, &d->running[i], DISPATCH_SHUTTING_DOWN);
        for (int k = 0; k < DISPATCH_HOLD; k++)
            dispatch_answer_waiting(d, &d->next[i][k], DISPATCH_SHUTTING_DOWN);
    }
    dispatch_clean_close(d, DISPATCH_SHUTTING_DOWN); /* bulk deletes under way */
    if (dispatch_loop_unsaved(d)) /* what they were told would be a change never stored */
        for (struct dispatch_cmd *cmd = d->answers; cmd; cmd = cmd->next)
            cmd->result = DISPATCH_UNAVAILABLE;
    dispatch_flush_answers(d);
}

struct call {
    struct dispatch *d;
    bool answered;
};

/* (called by the main loop with `share` held: see dispatch_flush_answers) */
static void call_done(void *ctx)
{
    struct call *c = ctx;
    c->answered = true;
    pthread_cond_broadcast(&c->d->called);
}

enum dispatch_result dispatch_call(struct dispatch *d, struct dispatch_cmd *cmd)
{
    struct call c = {d, false};
    cmd->done = call_done;
    cmd->ctx = &c;
    if (dispatch_command(d, cmd, NULL) != DISPATCH_OK) return cmd->result;
    pthread_mutex_lock(&d->share);
    while (!c.answered)
        pthread_cond_wait(&d->called, &d->share);
    pthread_mutex_unlock(&d->share);
    return cmd->result;
}

void dispatch_answer(struct dispatch *d, struct dispatch_cmd *cmd, enum dispatch_result result)
{
    cmd->result = result;
    cmd->next = NULL;
    *d->answers_tail = cmd;
    d->answers_tail = &cmd->next;
}

void dispatch_answer_waiting(struct dispatch *d, struct running *r, enum dispatch_result result)
{
    while (r->waiting) {
        struct dispatch_cmd *cmd = r->waiting;
        r->waiting = cmd->parked;
        cmd->wrote = true; /* (its answer comes with the job's start or end: a write) */
        dispatch_answer(d, cmd, result);
    }
}

void dispatch_flush_unwritten_answers(struct dispatch *d)
{
    struct dispatch_cmd *keep = NULL, **keep_tail = &keep, *now = NULL, **now_tail = &now;
    for (struct dispatch_cmd *cmd = d->answers, *next; cmd; cmd = next) {
        next = cmd->next;
        cmd->next = NULL;
        if (cmd->wrote) {
            *keep_tail = cmd;
            keep_tail = &cmd->next;
        } else {
            *now_tail = cmd;
            now_tail = &cmd->next;
        }
    }
    d->answers = now;
    d->answers_tail = now_tail;
    dispatch_flush_answers(d); /* those that changed nothing in the store */
    d->answers = keep;
    d->answers_tail = keep ? keep_tail : &d->answers;
}

void dispatch_flush_answers(struct dispatch *d)
{
    if (!d->answers) return;
    struct dispatch_cmd *list = d->answers;
    d->answers = NULL;
    d->answers_tail = &d->answers;
    pthread_mutex_lock(&d->share); /* (dispatch_call's waiter checks under it) */
    while (list) {
        struct dispatch_cmd *cmd = list;
        list = cmd->next; /* cmd may be freed by its done() */
        if (cmd->kind == DISPATCH_CMD_DELETE && cmd->result == DISPATCH_OK) {
            char path[PATH_MAX + 32]; /* its row is gone for good: now its files */
            dispatch_output_path(d, cmd->job_id, "stdout", path, sizeof path);
            unlink(path);
            dispatch_output_path(d, cmd->job_id, "stderr", path, sizeof path);
            unlink(path);
        }
        cmd->done(cmd->ctx);
    }
    pthread_mutex_unlock(&d->share);
}

void dispatch_publish(struct dispatch *d)
{
    struct dispatch_view *v = &d->view;
    if (v->cap_queues < d->n_queues) {
        struct dispatch_queue_info *grown = realloc(v->queues, (size_t)d->n_queues * sizeof *grown);
        if (grown) v->queues = grown, v->cap_queues = d->n_queues;
    }
    pthread_mutex_lock(&d->share);
    v->stats = d->stats;
    v->stats.draining = d->draining;
    memcpy(v->recent, d->recent, sizeof(double) * (size_t)d->recent_n);
    v->stats.recent_n = d->recent_n;
    v->last_ready_mono = d->last_ready_mono;
    store_health(d->store, &v->stats.store);
    if (d->stats.claims_failing && v->stats.store.waiting == 0)
        snprintf(v->stats.store.error, sizeof v->stats.store.error, "%s",
                 store_claim_error(d->store));
    for (int i = 0; i < d->pool->count; i++) {
        const struct pool_slot *s = &d->pool->slots[i];
        v->workers[i] = (struct dispatch_worker_info){
            .index = i,
            .pid = s->pid,
            .state = slot_state_name(s->state),
            .job_id = d->running[i].id,
            .jobs_done = s->jobs_done,
            .started_at = s->started_at,
        };
        v->pids[i] = d->running[i].phase == PHASE_STARTED ? d->running[i].pid : 0;
    }
    v->n_queues = d->n_queues < v->cap_queues ? d->n_queues : v->cap_queues;
    for (int i = 0; i < v->n_queues; i++) {
        snprintf(v->queues[i].name, sizeof v->queues[i].name, "%s", d->queues[i].name);
        v->queues[i].concurrency = d->queues[i].concurrency;
        v->queues[i].paused = d->queues[i].paused;
        v->queues[i].usage = d->queues[i].usage;
        v->queues[i].running = d->queues[i].running;
    }
    pthread_mutex_unlock(&d->share);
}

void dispatch_publish_health(struct dispatch *d)
{
    pthread_mutex_lock(&d->share);
    store_health(d->store, &d->view.stats.store);
    pthread_mutex_unlock(&d->share);
}

void dispatch_wake(struct dispatch *d)
{
    uint64_t one = 1;
    (void)!write(d->wake_fd, &one, sizeof one);
}

int64_t dispatch_running_pid(struct dispatch *d, int64_t id)
{
    int64_t pid = 0;
    pthread_mutex_lock(&d->share);
    for (int i = 0; i < d->pool->count && !pid; i++)
        if (d->view.workers[i].job_id == id) pid = d->view.pids[i];
    pthread_mutex_unlock(&d->share);
    return pid;
}

size_t dispatch_workers(struct dispatch *d, struct dispatch_worker_info *out, size_t max)
{
    size_t n = (size_t)d->pool->count < max ? (size_t)d->pool->count : max;
    pthread_mutex_lock(&d->share);
    memcpy(out, d->view.workers, n * sizeof *out);
    pthread_mutex_unlock(&d->share);
    return n;
}

void dispatch_stats(struct dispatch *d, struct dispatch_stats *out)
{
    double sorted[DISPATCH_RECENT];
    pthread_mutex_lock(&d->share);
    *out = d->view.stats;
    memcpy(sorted, d->view.recent, sizeof(double) * (size_t)out->recent_n);
    out->ms_since_worker_ready = clock_mono_ms() - d->view.last_ready_mono;
    out->workers_total = d->pool->count;
    out->workers_idle = out->workers_busy = out->workers_starting = out->workers_exiting = 0;
    for (int i = 0; i < d->pool->count; i++) {
        const char *st = d->view.workers[i].state;
        if (strcmp(st, "idle") == 0)
            out->workers_idle++;
        else if (strcmp(st, "busy") == 0)
            out->workers_busy++;
        else if (strcmp(st, "exiting") == 0)
            out->workers_exiting++;
        else
            out->workers_starting++;
    }
    pthread_mutex_unlock(&d->share);
    if (out->recent_n > 0) { /* quantiles by rank, sorted outside the lock */
        qsort(sorted, (size_t)out->recent_n, sizeof *sorted, compare_double);
        out->recent_p50 = sorted[(out->recent_n - 1) / 2];
        out->recent_p99 = sorted[(out->recent_n * 99 + 99) / 100 - 1];
    }
}
