/* dispatch_nodes: this node among others that share one PostgreSQL store (nothing here runs
 * on SQLite, where one node has the store to itself).
 *
 * - Claims: a job leaves the ready heap for a worker only once this node's claim committed
 *   (store_job_claim): never two nodes on one attempt. A claim that meets a locked row is
 *   tried again in the next batch; one refused by a limit over all nodes, or a queue paused
 *   in the store, is parked until a job ends somewhere or the settings change.
 * - Hearing: every node tells the others what it made queued ("j ids"), what ended ("e id
 *   state") and that queue settings changed ("q"), by NOTIFY at its commit; this node takes
 *   those jobs up, wakes its long-polls for ended jobs (and their dependents), unparks, and
 *   reads the settings again. A lost listening connection is reopened and, since what was
 *   said meanwhile is not heard, the whole queue is taken up again.
 * - The lease: renewed every second (dispatch_loop_nodes, outside the batches). A node that
 *   cannot renew it for half the node timeout fences itself: it kills what it runs, gives back
 *   what it holds and claims nothing until it renews again. A node whose epoch moved on (it
 *   was declared dead meanwhile; its jobs were recovered by another) registers again and
 *   takes the queue up afresh. The others' leases: one that ran out is declared dead by the
 *   first node that sees it (store_node_rescue) and its jobs are recovered.
 * The docs: docs/cluster.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "server/clock.h"
#include "server/dispatch_internal.h"
#include "server/log.h"

#define RENEW_MS 1000 /* how often the lease is renewed (and dead nodes looked for) */
/* A node declared dead is listed (GET /v1/nodes) this long, then forgotten (ms). */
#define NODE_FORGET_MS (24 * 3600 * 1000LL)

static const struct config *rescue_cfg; /* (store_recover's delay function takes no context) */
static int64_t rescue_delay(double backoff, int attempt)
{
    return dispatch_retry_delay_ms(rescue_cfg, backoff, attempt);
}

int dispatch_nodes_start(struct dispatch *d)
{
    int fd = store_listen(d->store);
    if (fd == -1) return 0; /* SQLite */
    d->clustered = true;
    rescue_cfg = d->cfg;
    d->alone = store_nodes_alive(d->store, (int64_t)(d->cfg->node_timeout * 1000)) == 1;
    d->renewed_at = clock_mono_ms();
    d->renew_at = d->renewed_at + RENEW_MS;
    if (fd < 0) {
        d->resync = true; /* (reopened by dispatch_loop_nodes) */
        return 0;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = DISPATCH_LISTEN_TAG};
    if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_error("epoll_ctl() failed for the listening connection");
        return -1;
    }
    d->listen_fd = fd;
    return 0;
}

/* Forgets every queued job this node knows of (the store has them all). */
static void forget_queued(struct dispatch *d)
{
    runq_free(&d->ready);
    runq_free(&d->later);
    d->n_delayed = 0;
    for (int i = 0; i < d->n_queues; i++)
        runq_free(&d->queues[i].parked);
    for (int i = 0; i < d->n_keys; i++)
        runq_free(&d->keys[i].parked);
    for (int i = 0; i < d->n_groups; i++)
        runq_free(&d->groups[i].members);
}

/* Unparks up to a worker's worth of jobs of every queue and key: a place may have freed up
 * on another node (a claim refused again parks them again). */
static void unpark_all(struct dispatch *d)
{
    struct runq_entry e;
    for (int i = 0; i < d->n_queues; i++)
        for (int n = 0; n < d->pool->count && !d->queues[i].paused; n++) {
            if (!runq_pop(&d->queues[i].parked, &e)) break;
            runq_push_since(&d->ready, e.priority, e.id, e.since_us);
        }
    for (int i = 0; i < d->n_keys; i++)
        for (int n = 0; n < d->pool->count; n++) {
            if (!runq_pop(&d->keys[i].parked, &e)) break;
            runq_push_since(&d->ready, e.priority, e.id, e.since_us);
        }
}

/* One thing another node said (store_notify's payload: "j IDS", "e ID STATE", ...). */
static void heard_one(struct dispatch *d, const char *payload)
{
    if (payload[0] == 'j' && payload[1] == ' ') { /* jobs to take up: read at once */
        int64_t ids[1024];                        /* (a line holds at most ~700: NOTE_MAX bytes) */
        size_t n = 0;
        for (const char *p = payload + 2; *p && n < sizeof ids / sizeof *ids;) {
            char *end;
            long long id = strtoll(p, &end, 10);
            if (end == p) break;
            if (id > 0) ids[n++] = id;
            p = *end == ',' ? end + 1 : end;
        }
        if (!d->fenced) store_queued_ids(d->store, ids, n, dispatch_take_queued, d);
    } else if (payload[0] == 'e' && payload[1] == ' ') { /* a job ended */
        long long id = 0;
        char state[32] = "";
        if (sscanf(payload + 2, "%lld %31s", &id, state) < 1 || id <= 0) return;
        dispatch_note_finished(d, id); /* (its waiters here wake after the commit) */
        enum job_state st;
        if (d->any_after && job_state_parse(state, &st) == 0)
            dispatch_release_dependents(d, id, st);
        unpark_all(d);
        dispatch_wake(d);
    } else if (payload[0] == 't' && payload[1] == ' ') { /* terminate one this node runs */
        long long id = 0, grace = 0;
        int sig = 0;
        if (sscanf(payload + 2, "%lld %d %lld", &id, &sig, &grace) == 3 && id > 0 && sig > 0)
            dispatch_terminate_here(d, id, sig, grace);
    } else if (strcmp(payload, "n") == 0) { /* a node started: this one is no longer alone */
        d->alone = false;
        dispatch_wake(d); /* (the jobs it holds ahead go back: dispatch_loop_end) */
    } else if (strcmp(payload, "s") == 0) { /* schedules changed */
        d->schedules_stale = true;
        dispatch_wake(d);
    } else if (strcmp(payload, "q") == 0) { /* queue settings changed */
        store_each_queue_setting(d->store, dispatch_load_queue_setting, d);
        for (int i = 0; i < d->n_queues; i++)
            dispatch_queue_unpark(d, i);
        dispatch_wake(d);
    }
}

/* One notification: "NODE WHAT\nWHAT..." (a batch's, store_notes_send); this node's own are
 * skipped: it knows what it said. */
static void heard(void *ctx, const char *note)
{
    struct dispatch *d = ctx;
    const char *name = store_node_name(d->store), *lines = strchr(note, ' ');
    if (!lines) return;
    if ((size_t)(lines - note) == strlen(name) && strncmp(note, name, strlen(name)) == 0) return;
    for (const char *p = lines + 1; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char one[8192];
        if (n < sizeof one) {
            memcpy(one, p, n);
            one[n] = '\0';
            heard_one(d, one);
        }
        p += n + (nl ? 1 : 0);
    }
}

/* Takes up every queued job again (after notifications may have been missed). */
static void take_up_all(struct dispatch *d)
{
    forget_queued(d);
    if (store_each_queued(d->store, dispatch_take_queued, d) < 0) {
        d->resync = true; /* (again at the next renewal) */
        return;
    }
    d->resync = false;
    dispatch_wake(d);
}

void dispatch_loop_heard(struct dispatch *d)
{
    if (store_heard(d->store, heard, d) < 0) {
        d->listen_fd = -1; /* (closed with its connection: out of the epoll too) */
        d->resync = true;
    }
}

/* A claim failed (the database refused it, or cannot be reached): hand-outs wait, 50 ms
 * doubling to 5 s, rather than try again every batch; logged once per 10 s with a count;
 * /healthz and /readyz say store_degraded meanwhile. */
static void claims_failed(struct dispatch *d)
{
    int64_t now = clock_mono_ms();
    if (!d->claims_failing_since) d->claims_failing_since = now;
    d->claim_backoff_ms = d->claim_backoff_ms ? d->claim_backoff_ms * 2 : 50;
    if (d->claim_backoff_ms > 5000) d->claim_backoff_ms = 5000;
    d->claim_retry_at = now + d->claim_backoff_ms;
    d->stats.claims_failing = true;
    unsigned long dropped;
    if (log_every(&d->claim_log, 10000, &dropped))
        log_error("database: %s (jobs are handed out again in %lld ms; %lu more failed claims "
                  "since the last such line)",
                  store_claim_error(d->store), (long long)d->claim_backoff_ms, dropped);
}

/* A claim went through: if they failed before, that is over. */
static void claims_work(struct dispatch *d)
{
    if (!d->claims_failing_since) return;
    log_info("database: claims work again after %.1fs",
             (double)(clock_mono_ms() - d->claims_failing_since) / 1000);
    d->claims_failing_since = d->claim_retry_at = d->claim_backoff_ms = 0;
    d->claim_log = (struct log_every){0};
    d->stats.claims_failing = false;
}

/* Where job e goes when its claim did not go through (c: why); qi, key: its queue's state
 * and its concurrency key. */
static void claim_refused(struct dispatch *d, const struct runq_entry *e, enum store_claim c,
                          int qi, const char *key)
{
    /* refused for what this very batch changed but has not committed (a job of the queue or
     * key ended, the queue resumed): tried again after the commit */
    if (c == CLAIM_FULL && (d->n_finished > 0 || d->queues_saved)) c = CLAIM_BUSY;
    if (c == CLAIM_FULL) { /* parked with what holds it back */
        int ki = key ? dispatch_kstate(d, key) : -1;
        if (ki >= 0)
            runq_push_since(&d->keys[ki].parked, e->priority, e->id, e->since_us);
        else if (qi >= 0)
            runq_push_since(&d->queues[qi].parked, e->priority, e->id, e->since_us);
    } else if (c == CLAIM_BUSY || c == CLAIM_FAILED) {
        runq_push_since(&d->later, e->priority, e->id, e->since_us);
    } /* (CLAIM_TAKEN: another node's now, or no longer queued: forgotten) */
}

bool dispatch_claim(struct dispatch *d, int slot, const struct runq_entry *e, struct job *j,
                    bool *stop)
{
    if (!d->clustered) return true; /* (SQLite: send_to_slot reserves it in the batch) */
    int qi = dispatch_qstate(d, j->spec.queue);
    int qlimit = qi >= 0 ? d->queues[qi].concurrency : -1;
    const char *key = j->spec.concurrency_key;
    if (qlimit < 0 && !key) { /* no limit to count: handed out now, claimed with the others */
        if (d->n_claims == d->cap_claims) {
            int cap = d->cap_claims ? d->cap_claims * 2 : 16;
            struct claim_wait *grown = realloc(d->claims, (size_t)cap * sizeof *grown);
            if (!grown) { /* (out of memory: tried again next batch) */
                runq_push_since(&d->later, e->priority, e->id, e->since_us);
                job_free(j);
                *stop = true;
                return false;
            }
            d->claims = grown;
            d->cap_claims = cap;
        }
        d->claims[d->n_claims++] = (struct claim_wait){.slot = slot, .id = j->id};
        return true;
    }
    enum store_claim c = store_job_claim(d->store, j->id, slot, j->spec.queue, qlimit, key,
                                         key ? j->spec.concurrency_limit : -1);
    if (c == CLAIM_FAILED)
        claims_failed(d);
    else
        claims_work(d);
    if (c == CLAIM_OK) return true;
    claim_refused(d, e, c, qi, key);
    *stop = c == CLAIM_FAILED;
    job_free(j);
    return false;
}

void dispatch_claims_settle(struct dispatch *d)
{
    int n = d->n_claims;
    if (n == 0) return;
    d->n_claims = 0;
    int64_t *ids = calloc((size_t)n, sizeof *ids);
    int *slots = calloc((size_t)n, sizeof *slots);
    enum store_claim *out = calloc((size_t)n, sizeof *out);
    bool got = ids && slots && out;
    for (int i = 0; got && i < n; i++) {
        ids[i] = d->claims[i].id;
        slots[i] = d->claims[i].slot;
    }
    if (!got || store_jobs_claim(d->store, ids, slots, n, out) < 0) {
        for (int i = 0; out && i < n; i++)
            out[i] = CLAIM_FAILED;
        claims_failed(d);
    } else {
        claims_work(d);
    }
    for (int i = 0; i < n; i++) {
        if (out && out[i] == CLAIM_OK) continue;
        int slot = d->claims[i].slot;
        struct running *r = dispatch_slot_job(d, slot, d->claims[i].id);
        if (!r || r->phase != PHASE_RESERVED) continue;
        /* taken back unwritten: nothing of it is in the store, its RUN is not sent */
        struct runq_entry e = {.priority = r->priority, .id = r->id, .since_us = r->since_us};
        int qi = r->q;
        bool current = r == &d->running[slot];
        dispatch_run_move(d, slot, r, MOVE_BACK);
        dispatch_forget_job(d, r);
        if (current)
            dispatch_promote_held(d, slot);
        else
            dispatch_compact_held(d, slot);
        claim_refused(d, &e, out ? out[i] : CLAIM_FAILED, qi, NULL);
    }
    free(ids);
    free(slots);
    free(out);
}

/* Kills what this node runs and gives back what it holds: it may no longer hold its lease. */
static void fence_self(struct dispatch *d, const char *why)
{
    if (d->fenced) return;
    d->fenced = true;
    log_error("node %s: %s: fencing itself: its running jobs are killed, it claims nothing "
              "until its lease is renewed",
              store_node_name(d->store), why);
    for (int i = 0; i < d->pool->count; i++) {
        for (int k = 0; k < DISPATCH_HOLD; k++)
            if (d->next[i][k].phase == PHASE_SENT || d->next[i][k].phase == PHASE_RESERVED)
                dispatch_give_back(d, i, &d->next[i][k]);
        /* what runs is killed and ends lost, queued again while it has attempts left (a
         * rescuer that declared this node dead decided already: the write is fenced off) */
        struct running *r = &d->running[i];
        if (r->phase == PHASE_RESERVED) dispatch_give_back(d, i, r);
        if (r->phase == PHASE_FREE || r->phase == PHASE_RESERVED) continue;
        r->fenced = true;
        dispatch_send_kill(d, i, r->id, SIGKILL, 0);
    }
}

static void rescued_one(void *ctx, int64_t id)
{
    struct dispatch *d = ctx;
    store_queued_one(d->store, id, dispatch_take_queued, d);
    store_notify_jobs(d->store, &id, 1); /* (the others may take it too) */
}

static void rescued_end(void *ctx, int64_t id, enum job_state state)
{
    struct dispatch *d = ctx;
    struct rescued_end *grown =
        realloc(d->rescued_ends, (size_t)(d->n_rescued_ends + 1) * sizeof *grown);
    if (!grown) return; /* (out of memory: its waiters here wake at their timeout) */
    d->rescued_ends = grown;
    d->rescued_ends[d->n_rescued_ends++] = (struct rescued_end){id, state};
    dispatch_wake(d);
}

void dispatch_rescued_ends(struct dispatch *d)
{
    for (int i = 0; i < d->n_rescued_ends; i++) {
        struct rescued_end *e = &d->rescued_ends[i];
        dispatch_note_finished(d, e->id); /* (its waiters here wake after the commit) */
        if (d->any_after) dispatch_release_dependents(d, e->id, e->state);
    }
    if (d->n_rescued_ends > 0) unpark_all(d);
    d->n_rescued_ends = 0;
}

/* Declares the nodes whose lease ran out dead, and recovers their jobs. */
static void rescue_dead(struct dispatch *d)
{
    int64_t timeout_ms = (int64_t)(d->cfg->node_timeout * 1000);
    struct store_dead_node dead[8];
    int n = store_nodes_dead(d->store, timeout_ms, dead, 8);
    for (int i = 0; i < n; i++) {
        struct store_recovery r = {.requeued_fn = rescued_one, .ended_fn = rescued_end, .ctx = d};
        int rc =
            store_node_rescue(d->store, &dead[i], timeout_ms, clock_wall_ms(), rescue_delay, &r);
        if (rc == 1)
            log_warn("node %s: its lease ran out %.1fs ago: declared dead; of its jobs %d lost, "
                     "%d queued again (attempts left) and %d ended as a terminate asked",
                     dead[i].name, d->cfg->node_timeout, r.lost, r.requeued, r.terminated);
    }
}

int64_t dispatch_loop_nodes(struct dispatch *d)
{
    if (!d->clustered) return -1;
    int64_t now = clock_mono_ms();
    if (d->listen_fd < 0 && !d->fenced && now >= d->listen_retry_at) {
        /* reopened (tried once a second); what was missed is read afresh */
        d->listen_retry_at = now + 1000;
        int fd = store_listen(d->store);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = DISPATCH_LISTEN_TAG};
        if (fd >= 0 && epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0) d->listen_fd = fd;
    }
    if (d->resync && d->listen_fd >= 0 && !d->fenced) {
        store_begin(d->store);
        take_up_all(d);
        store_commit(d->store);
    }
    if (now < d->renew_at) return d->renew_at - now;
    d->renew_at = now + RENEW_MS;
    int64_t half_ms = (int64_t)(d->cfg->node_timeout * 500);
    int rc = store_node_renew(d->store);
    if (rc == 1) {
        d->renewed_at = now;
        /* the workers' own fence: each kills its job if this word is not renewed within
         * three quarters of the timeout (the master may be stopped while its jobs run on:
         * SIGSTOP, a pause), before another node may rescue them (at the whole) */
        dispatch_send_lease(d);
        if (d->fenced) {
            log_info("node %s: its lease is renewed again: claiming jobs",
                     store_node_name(d->store));
            d->fenced = false;
            d->resync = true;
        }
        rescue_dead(d);
        if (now >= d->forget_at) { /* (dead nodes are listed a day, then forgotten) */
            d->forget_at = now + 10000;
            int n = store_nodes_forget(d->store, NODE_FORGET_MS);
            if (n > 0) log_info("forgot %d node(s) declared dead over a day ago", n);
        }
        /* alone, a node may hold jobs ahead for its busy workers as one on SQLite does; with
         * others it must not: an idle node could run them */
        bool alone = store_nodes_alive(d->store, (int64_t)(d->cfg->node_timeout * 1000)) == 1;
        if (alone && !d->alone) dispatch_wake(d); /* (busy workers may take jobs ahead now) */
        d->alone = alone;
        /* the counts by state: the other nodes change them too (one read a second) */
        int64_t counts[JOB_STATE_COUNT];
        if (store_count_states(d->store, counts) == 0) {
            memcpy(d->stats.jobs, counts, sizeof counts);
            dispatch_publish(d);
        }
    } else if (rc == 0) { /* declared dead meanwhile: its jobs are recovered by another */
        fence_self(d, "its lease was taken over (declared dead by another node)");
        if (store_node_register(d->store, NULL, NULL, SPAWNPOOL_VERSION) == 0) {
            log_info("node %s: registered again (lease epoch %lld)", store_node_name(d->store),
                     (long long)store_node_epoch(d->store));
            d->renewed_at = now;
            dispatch_send_lease(d);
            d->fenced = false;
            d->resync = true;
        }
    } else if (now - d->renewed_at >= half_ms) {
        fence_self(d, "it could not renew its lease for half the node timeout");
    }
    return RENEW_MS;
}
