/* dispatch: the dispatcher's state and its helpers: creating and freeing it, the phase and
 * slot moves, named queues, keys and gangs, the counters, dependents. Only the main loop
 * changes the state (dispatch_loop.c), so it needs no lock; what other threads touch (the
 * hand-over and the view) is in dispatch_share.c. */
#include "server/dispatch_internal.h"

#include <assert.h>
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
#include "server/runq.h"

static const double latency_bounds[DISPATCH_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30};

static const char *const phase_names[] = {[PHASE_FREE] = "free",
                                          [PHASE_RESERVED] = "reserved",
                                          [PHASE_SENT] = "sent",
                                          [PHASE_WITHDRAWING] = "withdrawing",
                                          [PHASE_STARTED] = "started"};
static const char *const move_names[] = {
    [MOVE_RESERVE] = "reserve", [MOVE_SEND] = "send", [MOVE_WITHDRAW] = "withdraw",
    [MOVE_START] = "start",     [MOVE_BACK] = "back", [MOVE_END] = "end"};

bool dispatch_run_move(struct dispatch *d, int slot, struct running *r, enum run_move move)
{
#define FROM(p) (1u << (p))
    /* for each move: the phases it may start from, and where it leads (dispatch_internal.h) */
    static const struct {
        unsigned from;
        enum run_phase to;
    } moves[] = {
        [MOVE_RESERVE] = {FROM(PHASE_FREE), PHASE_RESERVED},
        [MOVE_SEND] = {FROM(PHASE_RESERVED), PHASE_SENT},
        [MOVE_WITHDRAW] = {FROM(PHASE_SENT), PHASE_WITHDRAWING},
        [MOVE_START] = {FROM(PHASE_SENT) | FROM(PHASE_WITHDRAWING), PHASE_STARTED},
        [MOVE_BACK] = {FROM(PHASE_RESERVED) | FROM(PHASE_SENT) | FROM(PHASE_WITHDRAWING),
                       PHASE_FREE},
        [MOVE_END] = {FROM(PHASE_STARTED), PHASE_FREE},
    };
#undef FROM
    bool ok = (moves[move].from & (1u << r->phase)) != 0;
    if (!ok) {
        d->illegal_moves++;
        log_error("dispatcher bug: job %lld on worker %d: move '%s' while %s", (long long)r->id,
                  slot, move_names[move], phase_names[r->phase]);
        assert(!"a job's phase moved against its diagram");
    }
    r->phase = moves[move].to;
    return ok;
}

void dispatch_slot_move(struct dispatch *d, int index, enum pool_slot_state to)
{
    struct pool_slot *s = &d->pool->slots[index];
    enum pool_slot_state from = s->state;
    if (pool_slot_move(s, to)) return;
    d->illegal_moves++;
    log_error("dispatcher bug: worker %d moved from %s to %s", index, pool_slot_state_name(from),
              pool_slot_state_name(to));
    assert(!"a worker slot's state moved against its diagram");
}

void dispatch_retire_worker(struct dispatch *d, int index)
{
    struct pool_slot *s = &d->pool->slots[index];
    if (s->state == SLOT_EXITING || s->state == SLOT_DEAD || s->pid <= 0) return;
    /* nothing more is sent or assigned to it before its reaping */
    dispatch_slot_move(d, index, SLOT_EXITING);
    if (s->fd >= 0) epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
    kill(s->pid, SIGKILL);
}

void dispatch_watch_slot(struct dispatch *d, int index)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = DISPATCH_WORKER_TAG | (uint64_t)index};
    if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->pool->slots[index].fd, &ev) < 0)
        log_error("epoll_ctl() failed while watching worker %d: %s", index, strerror(errno));
}

/* Sends what is queued for a slot; if the socket is full, waits for EPOLLOUT. Nothing goes
 * to a worker the master gave up on (EXITING: unwatched, SIGKILLed; its reaping decides). */
void dispatch_flush_slot(struct dispatch *d, int index)
{
    struct pool_slot *s = &d->pool->slots[index];
    if (s->state == SLOT_EXITING) return;
    int rc = pool_flush(s);
    struct epoll_event ev = {.events = EPOLLIN | (rc == 1 ? EPOLLOUT : 0),
                             .data.u64 = DISPATCH_WORKER_TAG | (uint64_t)index};
    if (s->fd >= 0 && epoll_ctl(d->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) < 0 && rc >= 0) {
        log_error("epoll_ctl() failed while watching worker %d: %s: replacing it", index,
                  strerror(errno));
        rc = -1; /* unwatched, its messages would wait forever */
    }
    if (rc < 0 && s->pid > 0) {
        log_error("write() failed while talking to worker %d: %s: replacing it", index,
                  strerror(errno));
        dispatch_retire_worker(d, index); /* its reaping records its job lost (or retries it) */
    }
}

void dispatch_send_kill(struct dispatch *d, int index, int64_t id, int sig, int64_t grace_ms)
{
    struct pool_slot *s = &d->pool->slots[index];
    if (s->state == SLOT_EXITING || s->fd < 0) return; /* (its reaping kills its jobs) */
    pool_send_kill(s, id, sig, grace_ms);
    dispatch_flush_slot(d, index);
}

void dispatch_send_lease_to(struct dispatch *d, int index)
{
    struct pool_slot *s = &d->pool->slots[index];
    if (s->state == SLOT_EXITING || s->state == SLOT_DEAD || s->fd < 0) return;
    /* three quarters of the timeout from the last renewal (1 ms once past: it starts none) */
    int64_t left = d->renewed_at + (int64_t)(d->cfg->node_timeout * 750) - clock_mono_ms();
    pool_send_lease(s, left > 0 ? left : 1);
    dispatch_flush_slot(d, index);
}

void dispatch_send_lease(struct dispatch *d)
{
    for (int i = 0; i < d->pool->count; i++)
        dispatch_send_lease_to(d, i);
}

void dispatch_make_ready(void *ctx, int64_t id, int64_t priority, int64_t not_before)
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
        runq_push_since(&d->ready, priority, id, clock_mono_us());
    }
}

void dispatch_load_queue_setting(void *ctx, const char *name, int concurrency, bool paused)
{
    struct dispatch *d = ctx;
    int qi = dispatch_qstate(d, name);
    if (qi < 0) return;
    d->queues[qi].concurrency = concurrency;
    d->queues[qi].paused = paused;
}

/* A queued job found at start: it waits for its dependencies, is canceled by one that
 * failed while the server was down, or is queued; one of a paused (or closed) queue is parked
 * with its queue straight away, as dispatch_assign would park it, without reading its row. */
void dispatch_take_queued(void *ctx, const struct store_queued *q)
{
    struct dispatch *d = ctx;
    if (q->has_deps) {
        int64_t culprit;
        enum job_state culprit_state;
        int deps = store_job_deps(d->store, q->id, &culprit, &culprit_state);
        if (deps == DEPS_PENDING) { /* released when they end */
            d->any_after = true;
            return;
        }
        if (deps == DEPS_FAILED) { /* (the state counters are read from the store after this) */
            char why[160];
            snprintf(why, sizeof why, "dependency %lld ended %s", (long long)culprit,
                     job_state_name(culprit_state));
            dispatch_cancel_queued(d, q->id, why);
            return;
        }
    }
    if (q->plain && (q->not_before <= 0 || q->not_before <= clock_wall_ms())) {
        for (int qi = 0; qi < d->n_queues; qi++) /* a queue not there yet is open */
            if (strcmp(d->queues[qi].name, q->queue) == 0) {
                if (dispatch_queue_open(d, qi)) break;
                runq_push_since(&d->queues[qi].parked, q->priority, q->id, clock_mono_us());
                return;
            }
    }
    dispatch_make_ready(d, q->id, q->priority, q->not_before);
}

struct dispatch *dispatch_create(const struct config *cfg, struct store *store, struct pool *pool,
                                 int epoll_fd)
{
    struct dispatch *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    pthread_mutex_init(&d->share, NULL);
    pthread_cond_init(&d->called, NULL);
    d->commands_tail = &d->commands;
    d->answers_tail = &d->answers;
    d->cfg = cfg;
    d->store = store;
    d->pool = pool;
    d->epoll_fd = epoll_fd;
    d->listen_fd = -1;
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
    d->n_died_slots = 4 * (size_t)pool->count + 16; /* every worker's job, several times over */
    d->died_unstarted = calloc(d->n_died_slots, sizeof *d->died_unstarted);
    d->view.workers = calloc((size_t)pool->count, sizeof *d->view.workers);
    d->view.pids = calloc((size_t)pool->count, sizeof *d->view.pids);
    memcpy(d->stats.latency_bounds, latency_bounds, sizeof latency_bounds);
    dispatch_clean_init(d);
    dispatch_qstate(d, "default");
    for (size_t i = 0; i < cfg->n_queues; i++) { /* declared in the config */
        int qi = dispatch_qstate(d, cfg->queues[i].name);
        if (qi < 0) continue;
        d->queues[qi].concurrency = cfg->queues[i].concurrency;
        d->queues[qi].paused = cfg->queues[i].paused;
    }
    if (!d->running || !d->next || !d->died_unstarted || !d->view.workers || !d->view.pids ||
        store_each_queue_setting(store, dispatch_load_queue_setting, d) < 0 ||
        store_each_queued(store, dispatch_take_queued, d) < 0 || dispatch_load_scheduled(d) < 0 ||
        dispatch_load_schedules(d) < 0 || store_count_states(store, d->stats.jobs) < 0) {
        dispatch_destroy(d);
        return NULL;
    }
    for (int i = 0; i < pool->count; i++)
        if (pool->slots[i].fd >= 0) dispatch_watch_slot(d, i);
    dispatch_publish(d);
    return d;
}

int dispatch_qstate(struct dispatch *d, const char *name)
{
    for (int i = 0; i < d->n_queues; i++)
        if (strcmp(d->queues[i].name, name) == 0) return i;
    struct qstate *grown = realloc(d->queues, (size_t)(d->n_queues + 1) * sizeof *grown);
    if (!grown) return -1;
    d->queues = grown;
    struct qstate *q = &d->queues[d->n_queues];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->concurrency = -1;
    return d->n_queues++;
}

int dispatch_kstate(struct dispatch *d, const char *name)
{
    for (int i = 0; i < d->n_keys; i++)
        if (strcmp(d->keys[i].name, name) == 0) return i;
    struct kstate *grown = realloc(d->keys, (size_t)(d->n_keys + 1) * sizeof *grown);
    if (!grown) return -1;
    d->keys = grown;
    struct kstate *k = &d->keys[d->n_keys];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    return d->n_keys++;
}

/* The index of gang name, or -1 (never makes one). */
static int gang_find(struct dispatch *d, const char *name)
{
    for (int i = 0; i < d->n_groups; i++)
        if (strcmp(d->groups[i].name, name) == 0) return i;
    return -1;
}

int dispatch_gstate(struct dispatch *d, const char *name, int size)
{
    int found = gang_find(d, name);
    if (found >= 0) { /* a name used again after its group started takes the new size */
        if (d->groups[found].members.len == 0 && size > 0) d->groups[found].size = size;
        return found;
    }
    struct gstate *grown = realloc(d->groups, (size_t)(d->n_groups + 1) * sizeof *grown);
    if (!grown) return -1;
    d->groups = grown;
    struct gstate *g = &d->groups[d->n_groups];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->size = size;
    return d->n_groups++;
}

void dispatch_key_done(struct dispatch *d, int ki)
{
    if (ki < 0 || ki >= d->n_keys) return;
    struct kstate *k = &d->keys[ki];
    if (k->running > 0) k->running--;
    struct runq_entry e; /* one place freed: the best job waiting for it may take it */
    if (runq_pop(&k->parked, &e)) runq_push_since(&d->ready, e.priority, e.id, e.since_us);
}

bool dispatch_queue_open(struct dispatch *d, int qi)
{
    if (qi < 0) return true;
    const struct qstate *q = &d->queues[qi];
    return !q->paused && (q->concurrency < 0 || q->running < q->concurrency);
}

void dispatch_queue_unpark(struct dispatch *d, int qi)
{
    struct qstate *q = &d->queues[qi];
    struct runq_entry e;
    int room = q->concurrency < 0 ? INT32_MAX : q->concurrency - q->running;
    while (!q->paused && room-- > 0 && runq_pop(&q->parked, &e))
        runq_push_since(&d->ready, e.priority, e.id, e.since_us);
}

void dispatch_queue_done(struct dispatch *d, int qi)
{
    if (qi < 0 || qi >= d->n_queues) return;
    if (d->queues[qi].running > 0) d->queues[qi].running--;
    dispatch_queue_unpark(d, qi);
}

void dispatch_destroy(struct dispatch *d)
{
    if (!d) return;
    if (d->wake_fd > 0) close(d->wake_fd);
    runq_free(&d->ready);
    runq_free(&d->later);
    runq_free(&d->scheduled);
    dispatch_free_schedules(d);
    free(d->delayed);
    free(d->running);
    free(d->next);
    free(d->died_unstarted);
    for (int i = 0; i < d->n_queues; i++)
        runq_free(&d->queues[i].parked);
    free(d->queues);
    for (int i = 0; i < d->n_keys; i++)
        runq_free(&d->keys[i].parked);
    free(d->keys);
    for (int i = 0; i < d->n_groups; i++)
        runq_free(&d->groups[i].members);
    free(d->groups);
    free(d->finished);
    for (size_t i = 0; i < d->cap_unsent; i++)
        proto_buf_free(&d->unsent[i].frame);
    free(d->unsent);
    free(d->claims);
    free(d->rescued_ends);
    free(d->ended);
    dispatch_clean_close(d, DISPATCH_SHUTTING_DOWN);
    free(d->view.workers);
    free(d->view.pids);
    free(d->view.queues);
    proto_buf_free(&d->payload);
    pthread_cond_destroy(&d->called);
    pthread_mutex_destroy(&d->share);
    free(d);
}

void dispatch_on_finish(struct dispatch *d, dispatch_finish_fn fn, void *ctx)
{
    d->on_finish = fn; /* set before the main loop runs */
    d->on_finish_ctx = ctx;
}

void dispatch_output_path(const struct dispatch *d, int64_t id, const char *stream, char *out,
                          size_t n)
{
    snprintf(out, n, "%s/%lld.%s", d->output_dir, (long long)id, stream);
}

void dispatch_count(struct dispatch *d, enum job_state from, enum job_state to)
{
    d->stats.jobs[from]--;
    d->stats.jobs[to]++;
    if (job_state_terminal(to)) {
        d->stats.finished_total[to]++;
        d->clean.dirty = true; /* (retention looks again soon) */
    }
}

void dispatch_note_finished(struct dispatch *d, int64_t id)
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
void dispatch_flush_finished(struct dispatch *d)
{
    for (size_t i = 0; i < d->n_finished; i++)
        if (d->on_finish) d->on_finish(d->on_finish_ctx, d->finished[i]);
    d->n_finished = 0;
}

int64_t dispatch_retry_delay_ms(const struct config *cfg, double backoff, int attempt)
{
    double delay = backoff >= 0 ? backoff : cfg->retry_backoff;
    for (int i = 1; i < attempt && delay < cfg->retry_backoff_max; i++)
        delay *= 2;
    if (delay > cfg->retry_backoff_max) delay = cfg->retry_backoff_max;
    return (int64_t)(delay * 1000);
}

/* Slot's job id: the one it runs or one it holds; NULL if neither. */
struct running *dispatch_slot_job(struct dispatch *d, int slot, int64_t id)
{
    if (!id) return NULL;
    if (d->running[slot].id == id) return &d->running[slot];
    for (int k = 0; k < DISPATCH_HOLD; k++)
        if (d->next[slot][k].id == id) return &d->next[slot][k];
    return NULL;
}

/* Closes the gaps in a slot's held jobs, keeping their order. */
void dispatch_compact_held(struct dispatch *d, int slot)
{
    int n = 0;
    for (int k = 0; k < DISPATCH_HOLD; k++)
        if (d->next[slot][k].id) d->next[slot][n++] = d->next[slot][k];
    for (; n < DISPATCH_HOLD; n++)
        memset(&d->next[slot][n], 0, sizeof d->next[slot][n]);
}

struct store_outcome dispatch_canceled_outcome(const char *error)
{
    return (struct store_outcome){.state = JOB_CANCELED,
                                  .exit_code = -1,
                                  .signal = -1,
                                  .pid = -1,
                                  .error = error,
                                  .user_us = -1,
                                  .system_us = -1,
                                  .maxrss_kb = -1,
                                  .detail = error ? error : "terminated before it started"};
}

enum dispatch_result dispatch_cancel_queued(struct dispatch *d, int64_t id, const char *error)
{
    return dispatch_cancel_waiting(d, id, JOB_QUEUED, error);
}

enum dispatch_result dispatch_cancel_waiting(struct dispatch *d, int64_t id, enum job_state from,
                                             const char *error)
{
    struct store_outcome o = dispatch_canceled_outcome(error);
    int rc = store_job_finish(d->store, id, from, &o, clock_wall_ms());
    if (rc != 0) return DISPATCH_CONFLICT; /* not waiting any more: canceled already */
    dispatch_count(d, from, JOB_CANCELED);
    dispatch_note_finished(d, id);
    dispatch_release_dependents(d, id, JOB_CANCELED);
    return DISPATCH_CANCELED;
}

struct release {
    struct dispatch *d;
    int64_t id;
    enum job_state state;
};

static void release_one(void *ctx, int64_t dependent)
{
    struct release *rl = ctx;
    int64_t culprit = rl->id;
    enum job_state culprit_state = rl->state;
    int deps = rl->state == JOB_SUCCEEDED
                   ? store_job_deps(rl->d->store, dependent, &culprit, &culprit_state)
                   : DEPS_FAILED;
    if (deps == DEPS_MET) {
        struct job j;
        if (store_get_job(rl->d->store, dependent, &j, false) == 0) {
            runq_push_since(&rl->d->ready, j.spec.priority, dependent, clock_mono_us());
            job_free(&j);
        }
    } else if (deps == DEPS_FAILED) {
        char why[160];
        snprintf(why, sizeof why, "dependency %lld ended %s", (long long)culprit,
                 job_state_name(culprit_state));
        dispatch_cancel_queued(rl->d, dependent, why);
    }
}

/* Keeps job id's end for dispatch_release_ended (its dependents are looked at later). */
static void defer_release(struct dispatch *d, int64_t id, enum job_state state)
{
    if (d->n_ended == d->cap_ended) {
        size_t cap = d->cap_ended ? d->cap_ended * 2 : 16;
        struct ended *grown = realloc(d->ended, cap * sizeof *grown);
        if (!grown) {
            log_error("out of memory: job %lld's dependents start after a restart", (long long)id);
            return;
        }
        d->ended = grown;
        d->cap_ended = cap;
    }
    d->ended[d->n_ended++] = (struct ended){id, state};
}

/* Looks at job id's dependents now if the batch can read exactly; if it cannot, or stops
 * being able to midway (a write failed: later reads would not see this batch), again later
 * (releasing twice is harmless: a stale entry of the run queue is dropped when popped, and
 * a cancel of a job no longer queued changes nothing). */
static void release_or_defer(struct dispatch *d, int64_t id, enum job_state state)
{
    if (!store_failed(d->store)) {
        struct release rl = {d, id, state};
        store_each_dependent(d->store, id, release_one, &rl);
    }
    if (store_failed(d->store)) defer_release(d, id, state);
}

void dispatch_release_dependents(struct dispatch *d, int64_t id, enum job_state state)
{
    if (!d->any_after) return; /* no job ever waited on another: nothing to look up */
    release_or_defer(d, id, state);
}

void dispatch_release_ended(struct dispatch *d)
{
    size_t n = d->n_ended;
    struct ended *list = d->ended;
    d->ended = NULL; /* (release_or_defer appends what must wait again) */
    d->n_ended = d->cap_ended = 0;
    for (size_t i = 0; i < n; i++)
        release_or_defer(d, list[i].id, list[i].state);
    free(list);
}

/* The slot's current job is over: the job it held (if any) is the one it runs now. */
void dispatch_promote_held(struct dispatch *d, int slot)
{
    d->running[slot] = d->next[slot][0];
    memset(&d->next[slot][0], 0, sizeof d->next[slot][0]);
    dispatch_compact_held(d, slot);
    struct pool_slot *s = &d->pool->slots[slot];
    s->job_id = d->running[slot].id;
    if (s->state == SLOT_IDLE || s->state == SLOT_BUSY)
        dispatch_slot_move(d, slot, s->job_id ? SLOT_BUSY : SLOT_IDLE);
}
