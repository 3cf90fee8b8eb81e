/* dispatch_assign: handing queued jobs to workers: retries whose backoff passed back into
 * the ready heap, a job's row loaded and reserved, its RUN message (stdin_from by the
 * producer's file), and gang groups started together. Called from the end of each main-loop batch.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/dispatch_internal.h"
#include "server/log.h"

/* Moves retries whose backoff passed into the ready heap; returns ms until the next one. */
int64_t dispatch_release_delayed(struct dispatch *d, int64_t now)
{
    int64_t next = -1;
    for (size_t i = 0; i < d->n_delayed;) {
        if (d->delayed[i].not_before <= now) {
            runq_push_since(&d->ready, d->delayed[i].priority, d->delayed[i].id, clock_mono_us());
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
/* Reads a queued job for e; false (entry dropped) if it is stale or cannot be read. */
static bool load_entry(struct dispatch *d, const struct runq_entry *e, struct job *j)
{
    int rc = store_get_job(d->store, e->id, j, true);
    if (rc != 0) {
        log_error("job %lld is queued but cannot be read: skipped", (long long)e->id);
        return false;
    }
    if (j->state != JOB_QUEUED || j->worker >= 0) { /* stale (or already with a worker) */
        job_free(j);
        return false;
    }
    return true;
}

static void send_to_slot(struct dispatch *d, int slot, struct running *r,
                         const struct runq_entry *e, struct job *j);
static struct unsent *next_unsent(struct dispatch *d);

bool dispatch_assign(struct dispatch *d, int slot, struct running *r)
{
    struct runq_entry e;
    struct job j;
    int qi, ki;
    for (;;) { /* the best job whose queue may start one; others are parked, not in the way */
        if (!runq_pop(&d->ready, &e)) return false;
        if (!load_entry(d, &e, &j)) continue;
        qi = dispatch_qstate(d, j.spec.queue);
        if (j.spec.group && qi >= 0 && d->queues[qi].paused) { /* a pause holds gangs too */
            runq_push_since(&d->queues[qi].parked, e.priority, e.id, e.since_us);
            job_free(&j);
            continue;
        }
        if (j.spec.group) { /* a gang member waits with its group (dispatch_start_gangs) */
            int gi = dispatch_gstate(d, j.spec.group, j.spec.group_size);
            if (gi >= 0) {
                runq_push_since(&d->groups[gi].members, e.priority, e.id, e.since_us);
                if ((int)d->groups[gi].members.len >= d->groups[gi].size) dispatch_wake(d);
            }
            job_free(&j);
            continue;
        }
        ki = j.spec.concurrency_key ? dispatch_kstate(d, j.spec.concurrency_key) : -1;
        bool key_open = ki < 0 || d->keys[ki].running < j.spec.concurrency_limit;
        if (dispatch_queue_open(d, qi) && key_open) {
            bool stop = false; /* (several nodes: it must be this node's first) */
            if (dispatch_claim(d, slot, &e, &j, &stop)) break;
            if (stop) return false;
            continue;
        }
        /* held back: parked with what holds it back, not in the way of other jobs */
        struct runq *parking = !key_open ? &d->keys[ki].parked : &d->queues[qi].parked;
        runq_push_since(parking, e.priority, e.id, e.since_us);
        job_free(&j);
    }
    send_to_slot(d, slot, r, &e, &j);
    return true;
}

/* The variables every job finds in its environment, set by the server (its own env cannot
 * override them). */
static const char *const identity_vars[] = {"SPAWNPOOL_JOB_ID", "SPAWNPOOL_ATTEMPT",
                                            "SPAWNPOOL_QUEUE", "SPAWNPOOL_JOB_NAME", NULL};

/* True if "K=V" names one of identity_vars. */
static bool is_identity(const char *kv)
{
    for (int i = 0; identity_vars[i]; i++) {
        size_t n = strlen(identity_vars[i]);
        if (strncmp(kv, identity_vars[i], n) == 0 && kv[n] == '=') return true;
    }
    return false;
}

/* The job's env blob without any identity variable it set, then the server's: its id, this
 * attempt, its queue and (when named) its name. malloc'd into *out (NULL: out of memory). */
static uint32_t identity_env(const struct job *j, int attempt, char **out)
{
    const char *name = j->spec.name ? j->spec.name : NULL;
    size_t cap = j->spec.env.len + 96 + strlen(j->spec.queue) + (name ? strlen(name) + 24 : 0);
    char *b = malloc(cap);
    *out = b;
    if (!b) return 0;
    size_t n = 0;
    const char *env = j->spec.env.data;
    for (const char *e = env; e && e < env + j->spec.env.len; e += strlen(e) + 1) {
        if (is_identity(e)) continue;
        size_t len = strlen(e) + 1;
        memcpy(b + n, e, len);
        n += len;
    }
    n += (size_t)snprintf(b + n, cap - n, "SPAWNPOOL_JOB_ID=%lld", (long long)j->id) + 1;
    n += (size_t)snprintf(b + n, cap - n, "SPAWNPOOL_ATTEMPT=%d", attempt) + 1;
    n += (size_t)snprintf(b + n, cap - n, "SPAWNPOOL_QUEUE=%s", j->spec.queue) + 1;
    if (name) n += (size_t)snprintf(b + n, cap - n, "SPAWNPOOL_JOB_NAME=%s", name) + 1;
    return (uint32_t)n;
}

/* Reserves job j for slot r and encodes its RUN, sent once the batch committed; frees j. */
static void send_to_slot(struct dispatch *d, int slot, struct running *r,
                         const struct runq_entry *e_in, struct job *jp)
{
    struct runq_entry e = *e_in;
    struct job j = *jp;
    int qi = dispatch_qstate(d, j.spec.queue);
    int ki = j.spec.concurrency_key ? dispatch_kstate(d, j.spec.concurrency_key) : -1;
    if (qi >= 0) d->queues[qi].running++;
    if (ki >= 0) d->keys[ki].running++;
    /* Pipe: the worker opens the other (finished) job's captured stdout, whatever its size
     * (what --max-output kept of it); the master reads none of it */
    char out_path[PATH_MAX + 32], err_path[PATH_MAX + 32], in_path[PATH_MAX + 32] = "";
    if (j.spec.stdin_from > 0)
        dispatch_output_path(d, j.spec.stdin_from, "stdout", in_path, sizeof in_path);
    dispatch_output_path(d, j.id, "stdout", out_path, sizeof out_path);
    dispatch_output_path(d, j.id, "stderr", err_path, sizeof err_path);
    struct proto_run run = {
        /* the timeout was resolved at submit (api/submit.c) */
        .timeout_ms = j.spec.timeout > 0 ? (int64_t)(j.spec.timeout * 1000 + 0.5) : 0,
        .kill_grace_ms = (int64_t)(d->cfg->kill_grace * 1000),
        /* the job's (kept at submit), bounded by the server's as it is now */
        .max_output = (uint64_t)(j.spec.max_output > 0 && j.spec.max_output < d->cfg->max_output
                                     ? j.spec.max_output
                                     : d->cfg->max_output),
        .cwd = j.spec.cwd,
        .stdout_path = out_path,
        .stderr_path = err_path,
        .argv_blob = j.spec.argv.data,
        .argv_len = (uint32_t)j.spec.argv.len,
        .env_blob = NULL, /* (below: the job's, and who it is) */
        .stdin_data = j.spec.stdin_data,
        .stdin_len = (uint32_t)j.spec.stdin_len,
        .stdin_path = in_path,
        .limits = j.spec.limits,
    };
    char stages[PROTO_MAX_STAGES * 8] = "";
    if (j.spec.pipeline) { /* "2,1,3" -> "2\0" "1\0" "3\0" */
        size_t n = strlen(j.spec.pipeline);
        if (n + 1 < sizeof stages) {
            memcpy(stages, j.spec.pipeline, n + 1);
            for (size_t i = 0; i < n; i++)
                if (stages[i] == ',') stages[i] = '\0';
            run.stages = stages;
            run.stages_len = (uint32_t)n + 1;
        }
    }
    char *env = NULL;
    run.env_len = identity_env(&j, j.attempt + 1, &env);
    run.env_blob = env;
    struct unsent *u = env ? next_unsent(d) : NULL;
    if (u) {
        u->slot = slot;
        u->id = j.id;
        u->frame.len = u->frame.pos = 0;
        u->frame.failed = false;
        proto_encode_run(&u->frame, &run);
    }
    free(env);
    struct pool_slot *s = &d->pool->slots[slot];
    if (!d->clustered) store_job_reserve(d->store, j.id, slot); /* (else claimed already) */
    *r = (struct running){.id = j.id,
                          .phase = r->phase, /* (moved below) */
                          .attempt = j.attempt + 1,
                          .priority = j.spec.priority,
                          .max_attempts = j.spec.max_attempts,
                          .retry_backoff = j.spec.has_retry_backoff ? j.spec.retry_backoff : -1,
                          .since_us = e.since_us ? e.since_us : clock_mono_us(),
                          .q = qi,
                          .k = ki,
                          .gang = j.spec.group != NULL,
                          .callback = j.spec.notify_url != NULL};
    dispatch_run_move(d, slot, r, MOVE_RESERVE);
    if (r == &d->running[slot]) {
        s->job_id = j.id;
        dispatch_slot_move(d, slot, SLOT_BUSY);
    }
    if (!u || u->frame.failed) {
        log_error("out of memory while sending job %lld to worker %d", (long long)j.id, slot);
        if (u) d->n_unsent--;
        dispatch_retire_worker(d, slot); /* its reaping makes the job ready again */
    }
    job_free(&j);
}

/* A place at the end of the unsent RUNs (its buffer kept from earlier use), or NULL. */
static struct unsent *next_unsent(struct dispatch *d)
{
    if (d->n_unsent == d->cap_unsent) {
        size_t cap = d->cap_unsent ? d->cap_unsent * 2 : 16;
        struct unsent *grown = realloc(d->unsent, cap * sizeof *grown);
        if (!grown) return NULL;
        memset(grown + d->cap_unsent, 0, (cap - d->cap_unsent) * sizeof *grown);
        d->unsent = grown;
        d->cap_unsent = cap;
    }
    return &d->unsent[d->n_unsent++];
}

void dispatch_send_unsent(struct dispatch *d)
{
    for (size_t i = 0; i < d->n_unsent; i++) {
        struct unsent *u = &d->unsent[i];
        struct running *r = dispatch_slot_job(d, u->slot, u->id);
        if (!r || r->phase != PHASE_RESERVED) continue; /* given back, or its worker died */
        struct pool_slot *s = &d->pool->slots[u->slot];
        if (s->fd < 0 || s->state == SLOT_EXITING) continue; /* its reaping gives it back */
        dispatch_run_move(d, u->slot, r, MOVE_SEND);
        if (pool_queue_run(s, u->id, &u->frame) < 0 && s->pid > 0) {
            log_error("out of memory while sending job %lld to worker %d", (long long)u->id,
                      u->slot);
            dispatch_retire_worker(d, u->slot); /* its reaping makes the job ready again */
        }
    }
    d->n_unsent = 0;
}

/* Barrier: a group whose members are all queued starts when as many workers are free, all
 * in this round; meanwhile nothing else is given to workers, so they free up. Returns true
 * while a complete group waits for workers. */
/* Several nodes: claims gs's members for the idle slots all at once (one transaction: a
 * group is one node's whole, or nobody's yet) and starts them; a member another node took is
 * forgotten, the others wait again with their group. */
static void start_gang_claimed(struct dispatch *d, struct gstate *gs)
{
    int n = gs->size, got = 0;
    struct runq_entry *es = calloc((size_t)n, sizeof *es);
    struct job *js = calloc((size_t)n, sizeof *js);
    int64_t *ids = calloc((size_t)n, sizeof *ids);
    int *slots = calloc((size_t)n, sizeof *slots);
    for (int i = 0; es && js && ids && slots && i < d->pool->count && got < n; i++) {
        if (d->pool->slots[i].state != SLOT_IDLE || d->next[i][0].id) continue;
        while (runq_pop(&gs->members, &es[got])) {
            if (!load_entry(d, &es[got], &js[got])) continue;
            ids[got] = js[got].id;
            slots[got++] = i;
            break;
        }
    }
    bool claimed = got == n && store_jobs_claim_group(d->store, ids, slots, n) == CLAIM_OK;
    for (int k = 0; k < got; k++) {
        if (claimed) {
            send_to_slot(d, slots[k], &d->running[slots[k]], &es[k], &js[k]);
            continue;
        }
        /* (not all of it: each member waits again, unless another node has it now) */
        if (store_queued_one(d->store, ids[k], NULL, NULL) == 1)
            runq_push_since(&d->later, es[k].priority, es[k].id, es[k].since_us);
        job_free(&js[k]);
    }
    free(es);
    free(js);
    free(ids);
    free(slots);
}

bool dispatch_start_gangs(struct dispatch *d)
{
    struct runq_entry e;
    for (int g = 0; g < d->n_groups; g++) {
        struct gstate *gs = &d->groups[g];
        if (gs->size <= 0 || (int)gs->members.len < gs->size) continue;
        int idle = 0;
        for (int i = 0; i < d->pool->count; i++)
            idle += d->pool->slots[i].state == SLOT_IDLE && !d->next[i][0].id;
        if (idle < gs->size) return true; /* complete: wait for enough free workers */
        if (d->clustered) {
            start_gang_claimed(d, gs);
            continue;
        }
        for (int i = 0, started = 0; i < d->pool->count && started < gs->size; i++) {
            if (d->pool->slots[i].state != SLOT_IDLE || d->next[i][0].id) continue;
            struct job j;
            while (runq_pop(&gs->members, &e)) {
                if (!load_entry(d, &e, &j)) continue;
                send_to_slot(d, i, &d->running[i], &e, &j);
                started++;
                break;
            }
        }
    }
    return false;
}
