/* dispatch_cmd: the commands other threads hand the main loop (terminate, delete, queue
 * settings, callback results), carried out inside its batch (a bulk delete goes on in
 * dispatch_clean.c). Each is answered only after
 * that batch committed (dispatch_flush_answers), so an answer never tells of a change the
 * database does not hold; a terminate of a job a worker holds waits for the worker to say
 * whether it had started it (canceled, or signaled like any running job). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/dispatch_internal.h"
#include "server/log.h"

static bool remove_delayed(struct dispatch *d, int64_t id)
{
    for (size_t i = 0; i < d->n_delayed; i++)
        if (d->delayed[i].id == id) {
            d->delayed[i] = d->delayed[--d->n_delayed];
            return true;
        }
    return false;
}

/* The job id on a worker slot (running, or held as its next), or NULL. */
static struct running *running_job(struct dispatch *d, int64_t id, int *slot)
{
    for (int i = 0; i < d->pool->count; i++) {
        struct running *r = dispatch_slot_job(d, i, id);
        if (r) {
            if (slot) *slot = i;
            return r;
        }
    }
    return NULL;
}

struct members {
    int64_t *ids;
    size_t n;
    bool failed; /* out of memory */
};

static void add_member(void *ctx, int64_t id)
{
    struct members *m = ctx;
    int64_t *grown = realloc(m->ids, (m->n + 1) * sizeof *grown);
    if (!grown) {
        m->failed = true;
        return;
    }
    m->ids = grown;
    m->ids[m->n++] = id;
}

/* Records a job that never started as canceled by a terminate; a gang member takes its
 * whole group with it (a barrier that can never be passed). Everything it decides on is read
 * before its first write: once a write fails, the batch only journals, and a read would not
 * see the writes before it (the member just canceled would look queued, and be canceled,
 * counted and recorded twice). */
static enum dispatch_result cancel_queued(struct dispatch *d, int64_t id)
{
    struct job j;
    char *group = NULL;
    struct members m = {0};
    enum job_state from = JOB_QUEUED;
    if (store_get_job(d->store, id, &j, false) == 0) {
        if (j.spec.group) group = strdup(j.spec.group);
        if (j.state == JOB_SCHEDULED) from = JOB_SCHEDULED; /* its time has not come */
        job_free(&j);
    }
    if (group) store_each_group_member(d->store, group, add_member, &m);
    if (m.failed) log_error("out of memory: group %s is canceled in part", group);
    enum dispatch_result rc = dispatch_cancel_waiting(d, id, from, NULL);
    /* it may wait parked with a queue or a key: an entry left there would take the place
     * of a live job when the queue or key frees up */
    for (int i = 0; i < d->n_queues; i++)
        runq_remove(&d->queues[i].parked, id);
    for (int i = 0; i < d->n_keys; i++)
        runq_remove(&d->keys[i].parked, id);
    if (group && rc == DISPATCH_CANCELED) {
        char why[200];
        snprintf(why, sizeof why, "member %lld of group %.60s was terminated before the start",
                 (long long)id, group);
        for (size_t i = 0; i < m.n; i++) {
            if (m.ids[i] == id) continue;
            bool scheduled = runq_remove(&d->scheduled, m.ids[i]); /* its run_at to come */
            dispatch_cancel_waiting(d, m.ids[i], scheduled ? JOB_SCHEDULED : JOB_QUEUED, why);
        }
        for (int gi = 0; gi < d->n_groups; gi++)
            if (strcmp(d->groups[gi].name, group) == 0)
                runq_free(&d->groups[gi].members); /* their entries: all canceled */
    }
    free(m.ids);
    free(group);
    return rc;
}

static void terminate(struct dispatch *d, struct dispatch_cmd *cmd)
{
    int slot;
    int64_t id = cmd->job_id;
    bool writable = !store_failed(d->store);
    struct running *r = running_job(d, id, &slot);
    if (r && r->phase == PHASE_RESERVED) { /* its RUN never left: given back, canceled */
        if (!writable) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
        r->terminate = true;
        dispatch_give_back(d, slot, r); /* (a terminated job given back is canceled) */
        return dispatch_answer(d, cmd, DISPATCH_CANCELED);
    }
    if (r) {
        /* a held job the worker may be starting this very moment: it gets the signal and
         * grace of a running one, and the worker's answer decides (NOT_STARTED: canceled,
         * STARTED: signaled), so a job that began is never recorded as never started */
        r->terminate = true;
        dispatch_send_kill(d, slot, id, cmd->sig, cmd->grace_ms);
        /* (so that a recovery after a crash within its grace does not run it again) */
        store_job_terminate_asked(d->store, id, cmd->sig);
        if (r->phase == PHASE_STARTED) return dispatch_answer(d, cmd, DISPATCH_SIGNALED);
        cmd->parked = r->waiting;
        r->waiting = cmd;
        return;
    }
    if (!writable) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
    if (runq_remove(&d->ready, id) || remove_delayed(d, id)) {
        enum dispatch_result rc = cancel_queued(d, id);
        /* (with several nodes the entry may be stale: another node took the job: below) */
        if (rc != DISPATCH_CONFLICT || !d->clustered) return dispatch_answer(d, cmd, rc);
    }
    struct job j;
    int found = store_get_job(d->store, id, &j, false);
    enum dispatch_result rc = found == 0   ? DISPATCH_CONFLICT
                              : found == 1 ? DISPATCH_NOT_FOUND
                                           : DISPATCH_ERROR;
    if (found == 0 && d->clustered && j.node && strcmp(j.node, store_node_name(d->store)) != 0 &&
        (j.state == JOB_RUNNING || (j.state == JOB_QUEUED && j.worker >= 0))) {
        /* another node holds it: that node is told (at the commit) and kills it there; if
         * it dies first, its rescuer finds the terminate asked and does not run it again */
        store_job_terminate_asked(d->store, id, cmd->sig);
        char note[96];
        snprintf(note, sizeof note, "t %lld %d %lld", (long long)id, cmd->sig,
                 (long long)cmd->grace_ms);
        store_notify(d->store, note);
        job_free(&j);
        return dispatch_answer(d, cmd, DISPATCH_SIGNALED);
    }
    if (found == 0 && j.state == JOB_SCHEDULED) runq_remove(&d->scheduled, id);
    if (found == 0 && (j.state == JOB_QUEUED || j.state == JOB_SCHEDULED))
        rc = cancel_queued(d, id); /* parked, waiting for deps or for its run_at */
    if (found == 0) job_free(&j);
    dispatch_answer(d, cmd, rc);
}

void dispatch_terminate_here(struct dispatch *d, int64_t id, int sig, int64_t grace_ms)
{
    int slot;
    struct running *r = running_job(d, id, &slot);
    if (!r) return; /* (ended meanwhile, or never here) */
    r->terminate = true;
    if (r->phase == PHASE_RESERVED) {
        dispatch_give_back(d, slot, r); /* (a terminated job given back is canceled) */
        return;
    }
    dispatch_send_kill(d, slot, id, sig, grace_ms);
}

static void delete_job(struct dispatch *d, struct dispatch_cmd *cmd)
{
    if (store_failed(d->store)) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
    enum job_state state;
    int rc = store_delete_job(d->store, cmd->job_id, &state);
    if (rc == 0) { /* (its files go once this is committed) */
        d->stats.jobs[state]--;
        d->stats.deleted_request++;
    }
    dispatch_answer(d, cmd,
                    rc == 0   ? DISPATCH_OK
                    : rc == 1 ? DISPATCH_NOT_FOUND
                    : rc == 2 ? DISPATCH_CONFLICT
                              : DISPATCH_ERROR);
}

static void queue_set(struct dispatch *d, struct dispatch_cmd *cmd)
{
    if (store_failed(d->store)) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
    int qi = dispatch_qstate(d, cmd->queue);
    if (qi < 0) return dispatch_answer(d, cmd, DISPATCH_ERROR);
    struct qstate *q = &d->queues[qi];
    if (cmd->set_concurrency) q->concurrency = cmd->concurrency;
    if (cmd->paused >= 0) q->paused = cmd->paused;
    store_queue_save(d->store, q->name, q->concurrency, q->paused);
    d->queues_saved = true; /* (a claim refused meanwhile is tried again after the commit) */
    dispatch_queue_unpark(d, qi);
    struct dispatch_queue_info *out = cmd->queue_out;
    snprintf(out->name, sizeof out->name, "%s", q->name);
    out->concurrency = q->concurrency;
    out->paused = q->paused;
    out->running = q->running;
    dispatch_answer(d, cmd, DISPATCH_OK);
}

/* Changes a queued job's priority and/or queue. Wherever it waits (ready, parked with its
 * queue or key, with its gang, delayed for a retry, or for its dependencies) it waits again
 * by the new values: one taken out of a heap goes back to the ready heap, and dispatch_assign
 * parks it anew by its row. One a worker holds already is a CONFLICT: it starts now. */
static void patch_job(struct dispatch *d, struct dispatch_cmd *cmd)
{
    if (store_failed(d->store)) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
    int64_t id = cmd->job_id;
    if (running_job(d, id, NULL)) return dispatch_answer(d, cmd, DISPATCH_CONFLICT);
    struct job j;
    int found = store_get_job(d->store, id, &j, false);
    if (found != 0)
        return dispatch_answer(d, cmd, found == 1 ? DISPATCH_NOT_FOUND : DISPATCH_ERROR);
    bool queued = j.state == JOB_QUEUED || j.state == JOB_SCHEDULED; /* (scheduled: promoted
                                                                      * by its new row) */
    int64_t priority = cmd->set_priority ? cmd->priority : j.spec.priority;
    job_free(&j);
    if (!queued) return dispatch_answer(d, cmd, DISPATCH_CONFLICT);
    if (cmd->set_queue && dispatch_qstate(d, cmd->queue) < 0)
        return dispatch_answer(d, cmd, DISPATCH_ERROR);
    store_job_patch(d->store, id, cmd->set_priority ? &priority : NULL,
                    cmd->set_queue ? cmd->queue : NULL);
    bool waiting = runq_remove(&d->ready, id);
    for (int i = 0; i < d->n_queues; i++)
        waiting |= runq_remove(&d->queues[i].parked, id);
    for (int i = 0; i < d->n_keys; i++)
        waiting |= runq_remove(&d->keys[i].parked, id);
    for (int gi = 0; gi < d->n_groups; gi++)
        waiting |= runq_remove(&d->groups[gi].members, id);
    for (size_t i = 0; i < d->n_delayed; i++) /* (it stays delayed, by its new priority) */
        if (d->delayed[i].id == id) d->delayed[i].priority = priority;
    if (waiting) runq_push_since(&d->ready, priority, id, clock_mono_us());
    dispatch_answer(d, cmd, DISPATCH_OK);
}

static void notify_result(struct dispatch *d, struct dispatch_cmd *cmd)
{
    if (store_failed(d->store)) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
    store_notification_result(d->store, cmd->job_id, cmd->notify_done, cmd->notify_next_at,
                              cmd->notify_detail, clock_wall_ms());
    dispatch_answer(d, cmd, DISPATCH_OK);
}

void dispatch_run_command(struct dispatch *d, struct dispatch_cmd *cmd)
{
    size_t before = store_journal_mark(d->store);
    cmd->wrote = false;
    switch (cmd->kind) {
    case DISPATCH_CMD_TERMINATE:
        terminate(d, cmd);
        break;
    case DISPATCH_CMD_DELETE:
        delete_job(d, cmd);
        break;
    case DISPATCH_CMD_QUEUE_SET:
        queue_set(d, cmd);
        break;
    case DISPATCH_CMD_NOTIFY_RESULT:
        notify_result(d, cmd);
        break;
    case DISPATCH_CMD_PATCH_JOB:
        patch_job(d, cmd);
        break;
    case DISPATCH_CMD_SCHEDULE_PUT:
        dispatch_schedule_put(d, cmd);
        break;
    case DISPATCH_CMD_SCHEDULE_DELETE:
        dispatch_schedule_delete(d, cmd);
        break;
    case DISPATCH_CMD_DELETE_FINISHED: /* in slices, answered after the last one */
        if (store_failed(d->store)) return dispatch_answer(d, cmd, DISPATCH_UNAVAILABLE);
        dispatch_clean_command(d, cmd);
        return;
    default:
        dispatch_answer(d, cmd, DISPATCH_ERROR);
    }
    /* (a parked terminate is not answered yet: its answer is marked when it comes) */
    if (store_journal_mark(d->store) != before) cmd->wrote = true;
}

static void free_cmd(void *ctx)
{
    free(ctx);
}

void dispatch_terminate_job(struct dispatch *d, int64_t id)
{
    struct dispatch_cmd *cmd = calloc(1, sizeof *cmd);
    if (!cmd) {
        log_error("out of memory: job %lld is not terminated", (long long)id);
        return;
    }
    *cmd = (struct dispatch_cmd){.kind = DISPATCH_CMD_TERMINATE,
                                 .job_id = id,
                                 .sig = SIGTERM,
                                 .grace_ms = (int64_t)(d->cfg->kill_grace * 1000),
                                 .done = free_cmd,
                                 .ctx = cmd};
    dispatch_run_command(d, cmd); /* answered (freed) after the commit, like a client's */
}
