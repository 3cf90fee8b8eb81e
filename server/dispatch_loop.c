/* dispatch_loop: the dispatcher's main-loop side: worker messages and deaths, outcomes and
 * retries, group-committed submits, drain. A batch carries out commands, hands out queued
 * jobs (dispatch_assign.c), stores submits and commits; only a committed batch sends its
 * RUNs, answers and wakes waiters (commit or retry, never diverge). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool/ledger.h"
#include "pool/tree.h"
#include "server/clock.h"
#include "server/dispatch_internal.h"
#include "server/log.h"

/* A key's first job was made by the same request (jobs stored before fingerprints were kept
 * match any). */
static bool same_request(const char *stored, const struct job_spec *spec)
{
    return !stored[0] || !spec->idempotency_fingerprint ||
           strcmp(stored, spec->idempotency_fingerprint) == 0;
}

/* Job i's key names job first, made by another request: the submit is refused (Stripe's
 * answer: a client reusing a key by mistake must hear it, not get another job back). */
static void idempotency_mismatch(struct dispatch_submit *sub, size_t i, int64_t first)
{
    sub->result = DISPATCH_IDEMPOTENCY_MISMATCH;
    if (sub->n > 1)
        snprintf(sub->error_field, sizeof sub->error_field, "[%zu].idempotency_key", i);
    else
        snprintf(sub->error_field, sizeof sub->error_field, "idempotency_key");
    snprintf(sub->error, sizeof sub->error,
             "idempotency key '%.120s' was used within 24 h by job %lld for another request: "
             "send that same request to get the job back, or use a new key",
             sub->specs[i].idempotency_key, (long long)first);
}

/* Main loop, at the end of the batch: stores the submits (refused, not retried, if the batch
 * failed: their writes are the journal's tail, dropped then). Memory learns of them only
 * after the commit (answer_submits). */
static void store_submits(struct dispatch *d, struct dispatch_submit *list)
{
    int64_t now = clock_wall_ms();
    for (struct dispatch_submit *sub = list; sub; sub = sub->next) {
        sub->created_at = now;
        sub->result = DISPATCH_OK;
        if (store_failed(d->store)) {
            sub->result = DISPATCH_UNAVAILABLE;
            continue;
        }
        /* dependencies must exist when submitted: so there can be no cycle */
        for (size_t i = 0; i < sub->n && sub->result == DISPATCH_OK; i++) {
            if (sub->specs[i].n_after) d->any_after = true;
            int64_t missing =
                store_missing_job(d->store, sub->specs[i].after, sub->specs[i].n_after);
            if (missing > 0) {
                sub->result = DISPATCH_INVALID;
                if (sub->n > 1)
                    snprintf(sub->error_field, sizeof sub->error_field, "[%zu].after", i);
                else
                    snprintf(sub->error_field, sizeof sub->error_field, "after");
                snprintf(sub->error, sizeof sub->error,
                         "%s: job %lld does not exist (a dependency must exist when its "
                         "dependent is submitted, so there can be no cycle)",
                         sub->error_field, (long long)missing);
            } else if (missing < 0) {
                sub->result = DISPATCH_UNAVAILABLE;
            }
        }
        if (sub->result != DISPATCH_OK) continue;
        /* the same idempotency key within 24 h: the first job, nothing new */
        bool fresh_only = true;
        for (size_t i = 0; i < sub->n && sub->result == DISPATCH_OK; i++) {
            sub->existing[i] = false;
            if (!sub->specs[i].idempotency_key) continue;
            char stored[65];
            int64_t first = store_idempotent_job(d->store, sub->specs[i].idempotency_key,
                                                 now - DISPATCH_IDEMPOTENCY_MS, stored);
            if (first < 0) sub->result = DISPATCH_UNAVAILABLE;
            if (first > 0 && !same_request(stored, &sub->specs[i]))
                idempotency_mismatch(sub, i, first);
            else if (first > 0) {
                sub->existing[i] = true;
                sub->ids[i] = first;
                fresh_only = false;
            }
        }
        if (sub->result != DISPATCH_OK) continue;
        for (size_t i = 0; i < sub->n; i++) { /* insert the new ones (one by one if mixed) */
            if (sub->existing[i]) continue;
            size_t n = fresh_only ? sub->n : 1;
            if (store_insert_jobs(d->store, &sub->specs[i], n, now, &sub->ids[i]) < 0) {
                sub->result = DISPATCH_UNAVAILABLE; /* the batch failed: all submits are */
                break;
            }
            if (fresh_only) break;
        }
        if (sub->result != DISPATCH_OK) continue;
        for (size_t i = 0; i < sub->n; i++) { /* a dependency that already failed cancels it */
            sub->states[i] = JOB_QUEUED;
            if (sub->existing[i]) continue;
            if (sub->specs[i].run_at > now) { /* its dependencies are looked at when it is due */
                sub->states[i] = JOB_SCHEDULED;
                continue;
            }
            int64_t culprit;
            enum job_state culprit_state;
            if (sub->specs[i].n_after &&
                store_job_deps(d->store, sub->ids[i], &culprit, &culprit_state) == DEPS_FAILED) {
                char why[160];
                snprintf(why, sizeof why, "dependency %lld ended %s", (long long)culprit,
                         job_state_name(culprit_state));
                struct store_outcome o = dispatch_canceled_outcome(why);
                store_job_finish(d->store, sub->ids[i], JOB_QUEUED, &o, now);
                sub->states[i] = JOB_CANCELED; /* (counted once committed) */
            }
        }
    }
}

/* After the commit: queues the stored jobs and answers every submitter. */
static void answer_submits(struct dispatch *d, struct dispatch_submit *list, bool committed)
{
    int64_t since = clock_mono_us();
    while (list) {
        struct dispatch_submit *sub = list;
        list = sub->next; /* sub may be freed by its done() */
        if (!committed && sub->result == DISPATCH_OK) sub->result = DISPATCH_UNAVAILABLE;
        if (sub->result == DISPATCH_OK) {
            for (size_t i = 0; i < sub->n; i++) {
                if (sub->existing[i]) continue;        /* an earlier job, not new */
                if (sub->states[i] == JOB_SCHEDULED) { /* waits for its time */
                    d->stats.jobs[JOB_SCHEDULED]++;
                    dispatch_schedule_job(d, sub->ids[i], sub->specs[i].run_at);
                    continue;
                }
                d->stats.jobs[JOB_QUEUED]++;
                if (sub->states[i] != JOB_QUEUED) { /* canceled: a dependency failed */
                    dispatch_count(d, JOB_QUEUED, JOB_CANCELED);
                    continue;
                }
                if (sub->specs[i].n_after) { /* waits until its dependencies succeed */
                    int64_t culprit;
                    enum job_state cs;
                    if (store_job_deps(d->store, sub->ids[i], &culprit, &cs) != DEPS_MET) continue;
                }
                if (runq_push_since(&d->ready, sub->specs[i].priority, sub->ids[i], since) < 0)
                    log_error("out of memory while queueing job %lld: it runs after a restart",
                              (long long)sub->ids[i]);
            }
            for (size_t i = 0; i < sub->n; i++)
                d->stats.submitted_total += !sub->existing[i];
        }
        sub->done(sub->ctx);
    }
}

void dispatch_loop_woken(struct dispatch *d)
{
    uint64_t v;
    while (read(d->wake_fd, &v, sizeof v) == (ssize_t)sizeof v) {
    }
}

void dispatch_loop_begin(struct dispatch *d)
{
    store_begin(d->store);
}

static void observe_latency(struct dispatch *d, double seconds)
{
    if (seconds < 0) seconds = 0;
    for (int i = 0; i < DISPATCH_LATENCY_BUCKETS; i++)
        if (seconds <= d->stats.latency_bounds[i]) d->stats.latency_counts[i]++;
    d->stats.latency_counts[DISPATCH_LATENCY_BUCKETS]++;
    d->stats.latency_sum += seconds;
    d->stats.latency_count++;
    d->recent[d->recent_next] = seconds;
    d->recent_next = (d->recent_next + 1) % DISPATCH_RECENT;
    if (d->recent_n < DISPATCH_RECENT) d->recent_n++;
}

/* A job sent to a worker came back unstarted (withdrawn, terminated before it started, or
 * its worker died first): canceled if a terminate asked for it, else queued again. */
void dispatch_job_unstarted(struct dispatch *d, int slot, struct running *r)
{
    dispatch_run_move(d, slot, r, MOVE_BACK);
    dispatch_answer_waiting(d, r, DISPATCH_CANCELED);
    if (r->gang && !r->terminate) { /* its group started without it: it never can */
        dispatch_cancel_queued(d, r->id,
                               "its worker went away before it started: it can no "
                               "longer start together with its group");
    } else if (r->terminate && !r->shutdown) {
        dispatch_cancel_queued(d, r->id, NULL);
    } else {
        store_job_unreserve(d->store, r->id);
        runq_push_since(&d->ready, r->priority, r->id, r->since_us);
    }
    dispatch_forget_job(d, r);
}

void dispatch_forget_job(struct dispatch *d, struct running *r)
{
    int qi = r->q, ki = r->k;
    memset(r, 0, sizeof *r);
    dispatch_queue_done(d, qi);
    dispatch_key_done(d, ki);
}

/* The worker started the slot's current job at start_us (monotonic µs; 0: unknown, now;
 * -1: unknown and not a dispatch latency sample): the row says running since then. */
static void job_started(struct dispatch *d, int slot, int64_t pid, int64_t start_us)
{
    struct running *r = &d->running[slot];
    if (r->phase == PHASE_STARTED) return;
    dispatch_run_move(d, slot, r, MOVE_START);
    r->pid = pid;
    int64_t now_us = clock_mono_us();
    bool known = start_us >= 0; /* -1: a job taken to have run by its dead worker */
    if (start_us <= 0 || start_us > now_us) start_us = now_us;
    int64_t started_at = clock_wall_ms() - (now_us - start_us) / 1000;
    store_job_running(d->store, r->id, slot, r->attempt, started_at);
    dispatch_count(d, JOB_QUEUED, JOB_RUNNING);
    dispatch_answer_waiting(d, r, DISPATCH_SIGNALED); /* it began: terminated like any */
    if (!known) return;
    double waited = (double)(start_us - r->since_us) / 1e6;
    observe_latency(d, waited);
    if (r->q >= 0 && r->q < d->n_queues) dispatch_usage_add_wait(&d->queues[r->q].usage, waited);
}

/* Ends a job that was running on slot: records the outcome or re-queues it for a retry. */
static void job_ended(struct dispatch *d, int slot, const struct store_outcome *o)
{
    struct running *r = &d->running[slot];
    int64_t id = r->id, now = clock_wall_ms();
    bool retry = (o->state == JOB_FAILED || o->state == JOB_LOST || o->state == JOB_TIMED_OUT) &&
                 r->attempt < r->max_attempts && !r->terminate;
    if (retry) {
        int64_t delay_ms = dispatch_retry_delay_ms(d->cfg, r->retry_backoff, r->attempt);
        double delay = (double)delay_ms / 1000;
        int64_t not_before = now + delay_ms;
        char detail[300];
        snprintf(detail, sizeof detail, "attempt %d of %d ended %s%s%s; retry in %.3gs", r->attempt,
                 r->max_attempts, job_state_name(o->state), o->detail ? ": " : "",
                 o->detail ? o->detail : "", delay);
        /* the next attempt's output starts afresh (capture files are made on the first byte) */
        char path[PATH_MAX + 32];
        dispatch_output_path(d, id, "stdout", path, sizeof path);
        unlink(path);
        dispatch_output_path(d, id, "stderr", path, sizeof path);
        unlink(path);
        /* the attempt's outcome stays visible in the event; the row is queued again */
        store_job_requeue(d->store, id, JOB_RUNNING, not_before, detail, now);
        dispatch_count(d, JOB_RUNNING, JOB_QUEUED);
        dispatch_make_ready(d, id, r->priority, not_before);
    } else {
        struct store_outcome known = *o;
        known.no_callback = !r->callback; /* (read with the job when it was handed out) */
        store_job_finish(d->store, id, JOB_RUNNING, &known, now);
        dispatch_count(d, JOB_RUNNING, o->state);
        dispatch_note_finished(d, id);
        dispatch_release_dependents(d, id, o->state);
    }
    dispatch_answer_waiting(d, r, DISPATCH_SIGNALED);
    dispatch_queue_done(d, r->q);
    dispatch_key_done(d, r->k);
    dispatch_run_move(d, slot, r, MOVE_END); /* (the job it held, if any, takes its place) */
    dispatch_promote_held(d, slot);
}

static void handle_done(struct dispatch *d, int slot, int64_t id, struct proto_buf *payload)
{
    struct proto_done done;
    struct running *r = dispatch_slot_job(d, slot, id);
    if (!r) return; /* not ours: stale */
    if (proto_decode_done(payload, &done) < 0) {
        log_error("worker %d sent a malformed DONE for job %lld: replacing it", slot,
                  (long long)id);
        dispatch_retire_worker(d, slot); /* its reaping records the job lost */
        return;
    }
    if (done.end == PROTO_END_NOT_STARTED) {
        bool was_cur = r == &d->running[slot];
        dispatch_job_unstarted(d, slot, r);
        if (was_cur)
            dispatch_promote_held(d, slot);
        else
            dispatch_compact_held(d, slot);
        return;
    }
    if (r != &d->running[slot]) { /* the worker ran its held job before the current one? */
        log_error("worker %d ended job %lld out of order: replacing it", slot, (long long)id);
        dispatch_retire_worker(d, slot);
        return;
    }
    if (r->phase != PHASE_STARTED) /* a short job's DONE */
        job_started(d, slot, done.pid, done.start_us);
    struct store_outcome o = {.exit_code = -1,
                              .signal = -1,
                              .pid = r->pid ? r->pid : -1,
                              .stdout_bytes = (int64_t)done.stdout_bytes,
                              .stderr_bytes = (int64_t)done.stderr_bytes,
                              .truncated = done.truncated != 0,
                              .user_us = done.user_us,
                              .system_us = done.system_us,
                              .maxrss_kb = done.maxrss_kb,
                              .usage_from = done.usage_from};
    char detail[320];
    if (done.end == PROTO_END_SPAWN_ERROR) {
        o.state = JOB_FAILED;
        o.exit_code = 127;
        o.error = done.error;
        snprintf(detail, sizeof detail, "could not start: %s", done.error);
    } else {
        if (done.end == PROTO_END_EXITED)
            o.exit_code = done.code;
        else
            o.signal = done.code;
        if (done.cause == PROTO_CAUSE_TIMEOUT)
            o.state = JOB_TIMED_OUT;
        else if (done.cause == PROTO_CAUSE_KILLED)
            o.state = JOB_TERMINATED;
        else if (done.cause == PROTO_CAUSE_FENCED) /* (not the job's doing: lost, retried) */
            o.state = JOB_LOST;
        else if (done.end == PROTO_END_EXITED && done.code == 0)
            o.state = JOB_SUCCEEDED;
        else
            o.state = JOB_FAILED;
        if (done.end == PROTO_END_EXITED)
            snprintf(detail, sizeof detail, "exit code %d", done.code);
        else
            snprintf(detail, sizeof detail, "killed by signal %d (%s)", done.code,
                     strsignal(done.code));
        if (o.state == JOB_TIMED_OUT) {
            o.error = "the job's timeout elapsed";
        } else if (done.cause == PROTO_CAUSE_FENCED) {
            o.error = "its node's lease ran out (the server did not renew it in time): its "
                      "worker killed it";
        } else if (o.state == JOB_TERMINATED && r->fenced) { /* (not the job's doing: lost) */
            o.state = JOB_LOST;
            o.error = "its node lost its lease to the database and killed it (fenced itself)";
        } else if (o.state == JOB_TERMINATED && r->shutdown) {
            o.error = "terminated by the server's shutdown";
        } else if (done.error[0]) { /* the worker knows why (over its memory limit) */
            o.error = done.error;
        }
    }
    if (done.cause == PROTO_CAUSE_FENCED)
        snprintf(detail, sizeof detail, "killed by its worker: the node's lease ran out");
    o.detail = detail;
    if (done.end != PROTO_END_SPAWN_ERROR && r->q >= 0 && r->q < d->n_queues) {
        int64_t ran_us = done.start_us > 0 ? clock_mono_us() - done.start_us : 0;
        int64_t cpu_us =
            (done.user_us > 0 ? done.user_us : 0) + (done.system_us > 0 ? done.system_us : 0);
        dispatch_usage_add(&d->queues[r->q].usage, (double)ran_us / 1e6, (double)cpu_us / 1e6);
    }
    job_ended(d, slot, &o);
    d->pool->slots[slot].jobs_done++;
}

void dispatch_loop_worker_event(struct dispatch *d, int index, uint32_t events)
{
    struct pool_slot *s = &d->pool->slots[index];
    if (s->fd < 0 || s->state == SLOT_EXITING) return; /* (given up on: its reaping decides) */
    if (events & EPOLLOUT) dispatch_flush_slot(d, index);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    long n = proto_reader_fill(&s->reader, s->fd);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { /* EOF: the worker is exiting; its SIGCHLD does the rest */
        dispatch_retire_worker(d, index);
        return;
    }
    struct proto_header h;
    int got;
    while ((got = proto_reader_next(&s->reader, &h, &d->payload)) == 1) {
        struct running *r = &d->running[index];
        switch (h.type) {
        case PROTO_READY:
            if (s->state == SLOT_STARTING)
                dispatch_slot_move(d, index, r->id ? SLOT_BUSY : SLOT_IDLE);
            /* (several nodes: its lease before any RUN, or its first jobs would be unfenced
             * until the next renewal) */
            if (d->clustered) dispatch_send_lease_to(d, index);
            d->last_ready_mono = clock_mono_ms();
            break;
        case PROTO_STARTED: {
            struct proto_started st; /* pid kept in memory (the API shows it) */
            if (proto_decode_started(&d->payload, &st) < 0) {
                log_error("worker %d (pid %d) sent a malformed STARTED: replacing it", index,
                          (int)s->pid);
                dispatch_retire_worker(d, index); /* its reaping: its job lost or retried */
                return;
            }
            if (r->id == h.job_id && r->id) job_started(d, index, st.pid, st.start_us);
            break;
        }
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
        dispatch_retire_worker(d, index);
    }
}

static void describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status))
        snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, n, "status %#x", status);
}

/* Notes that job id's worker died before it reported a start; true if that happened to it
 * lately already (then it is taken to have run, and killed its worker). */
static bool died_unstarted_before(struct dispatch *d, int64_t id)
{
    for (size_t i = 0; i < d->n_died_slots; i++)
        if (d->died_unstarted[i] == id) return true;
    d->died_unstarted[d->n_died_unstarted++ % d->n_died_slots] = id;
    return false;
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
        /* whatever its job left is orphaned now: kill it rather than let it run unseen */
        if (r->id && r->pid > 1) kill(-(pid_t)r->pid, SIGKILL);
        pid_t live[1024];
        int nlive = 0;
        for (int i = 0; i < d->pool->count && nlive < 1024; i++)
            if (d->pool->slots[i].pid > 0 && &d->pool->slots[i] != s)
                live[nlive++] = d->pool->slots[i].pid;
        int left = tree_kill_slot(s->index, live, nlive);
        /* its jobs in the order it starts them: the current one, then those it held (it may
         * have started a held one before its DONE for the previous got out). One it began to
         * start may have run: lost, or retried. It began if it said so, if the start ledger
         * says so (written before the spawn), or, for the current one, if processes were left
         * in its tree or its worker died on it before (a job that kills its worker at once
         * must not be re-run forever). The others never ran: ready again. */
        for (int n = 0; n <= DISPATCH_HOLD && r->id; n++) {
            bool sent = r->phase != PHASE_RESERVED;
            bool began = sent && (r->phase == PHASE_STARTED || ledger_began(s->index, r->id) ||
                                  (n == 0 && (left > 0 || died_unstarted_before(d, r->id))));
            if (!began) {
                dispatch_job_unstarted(d, s->index, r);
                dispatch_promote_held(d, s->index);
                continue;
            }
            if (r->phase != PHASE_STARTED) job_started(d, s->index, 0, -1);
            char detail[160];
            snprintf(detail, sizeof detail, "worker %d (pid %d) %s", s->index, (int)pid, how);
            struct store_outcome o = {.state = JOB_LOST,
                                      .exit_code = -1,
                                      .signal = -1,
                                      .pid = r->pid ? r->pid : -1,
                                      .error = detail,
                                      .user_us = -1,
                                      .system_us = -1,
                                      .maxrss_kb = -1,
                                      .detail = detail};
            log_warn("job %lld lost: %s", (long long)r->id, detail);
            job_ended(d, s->index, &o); /* (the next held job becomes the current one) */
        }
        if (!d->draining) log_warn("worker %d (pid %d) %s: replacing it", s->index, (int)pid, how);
        pool_slot_dead(d->pool, s, clock_mono_ms());
        d->stats.worker_restarts++;
    }
}

void dispatch_give_back(struct dispatch *d, int slot, struct running *r)
{
    if (r->phase == PHASE_WITHDRAWING || r->phase == PHASE_STARTED || !r->id) return;
    if (r->phase == PHASE_SENT) { /* the worker is asked; it answers NOT_STARTED, or runs it */
        if (d->pool->slots[slot].state == SLOT_EXITING) return; /* its reaping gives it back */
        dispatch_run_move(d, slot, r, MOVE_WITHDRAW);
        dispatch_send_kill(d, slot, r->id, 0, 0);
        return;
    }
    bool was_cur = r == &d->running[slot];
    dispatch_job_unstarted(d, slot, r); /* never left the master: taken back here and now */
    if (was_cur)
        dispatch_promote_held(d, slot);
    else
        dispatch_compact_held(d, slot);
}

void dispatch_loop_drain(struct dispatch *d)
{
    d->draining = true;
    for (int i = 0; i < d->pool->count; i++) /* they stay queued */
        for (int k = DISPATCH_HOLD - 1; k >= 0; k--)
            dispatch_give_back(d, i, &d->next[i][k]);
}

void dispatch_loop_terminate_all(struct dispatch *d, int sig, int64_t grace_ms)
{
    for (int i = 0; i < d->pool->count; i++) {
        struct running *r = &d->running[i];
        if (r->phase == PHASE_RESERVED) {
            r->shutdown = true; /* (given back: it stays queued) */
            dispatch_give_back(d, i, r);
        }
        if (r->phase == PHASE_FREE || r->phase == PHASE_RESERVED) continue;
        r->terminate = r->shutdown = true;
        dispatch_send_kill(d, i, r->id, sig, grace_ms);
    }
}

int dispatch_loop_running(struct dispatch *d)
{
    int n = 0;
    for (int i = 0; i < d->pool->count; i++)
        n += d->running[i].id != 0;
    return n;
}

bool dispatch_loop_busy(struct dispatch *d)
{
    for (int i = 0; i < d->pool->count; i++) {
        if (d->running[i].id) return true;
        for (int k = 0; k < DISPATCH_HOLD; k++)
            if (d->next[i][k].id) return true;
    }
    return false;
}

bool dispatch_loop_saturated(struct dispatch *d)
{
    bool all = d->pool->count > 0;
    for (int i = 0; i < d->pool->count && all; i++)
        if (!d->running[i].id || !d->next[i][0].id) all = false;
    return all;
}

size_t dispatch_loop_unsaved(struct dispatch *d)
{
    struct store_health h;
    store_health(d->store, &h);
    return h.waiting;
}

int64_t dispatch_loop_end(struct dispatch *d)
{
    pthread_mutex_lock(&d->share); /* what other threads handed over for this batch */
    struct dispatch_submit *submits = d->pending;
    d->pending = NULL;
    d->pending_tail = &d->pending;
    d->pending_jobs = 0;
    struct dispatch_cmd *commands = d->commands;
    d->commands = NULL;
    d->commands_tail = &d->commands;
    pthread_mutex_unlock(&d->share);

    if (!store_failed(d->store)) dispatch_release_ended(d);
    while (commands) {
        struct dispatch_cmd *cmd = commands;
        commands = cmd->next;
        dispatch_run_command(d, cmd);
    }
    /* nothing new is handed out by a batch that failed: it could not read exactly */
    bool writable = !store_failed(d->store);
    int64_t now_mono = clock_mono_ms(), wake = -1;
    int64_t next_retry = writable ? dispatch_release_delayed(d, clock_wall_ms()) : -1;
    if (next_retry >= 0) wake = next_retry;
    int64_t now_wall = clock_wall_ms();
    int64_t next_timer = writable ? dispatch_fire_timers(d, now_wall) : -1;
    if (next_timer >= 0 && (wake < 0 || next_timer < wake)) wake = next_timer;
    if (writable && !d->draining) dispatch_schedules_replace(d, now_wall);
    /* claims that met a locked row in the last batch are tried again */
    struct runq_entry back;
    struct runq later = d->later;
    memset(&d->later, 0, sizeof d->later);
    while (runq_pop(&later, &back))
        runq_push_since(&d->ready, back.priority, back.id, back.since_us);
    runq_free(&later);
    /* (several nodes: not while claims fail, until their backoff passes) */
    bool claims_wait = now_mono < d->claim_retry_at;
    if (claims_wait && (wake < 0 || d->claim_retry_at - now_mono < wake))
        wake = d->claim_retry_at - now_mono;
    bool hand_out =
        writable && !d->draining && !d->fenced && !claims_wait && !dispatch_start_gangs(d);
    for (int i = 0; i < d->pool->count; i++) {
        struct pool_slot *s = &d->pool->slots[i];
        if (s->state == SLOT_DEAD && !d->draining) {
            if (s->respawn_at <= now_mono) {
                if (pool_respawn(d->pool, i) == 0)
                    dispatch_watch_slot(d, i);
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
        while (hand_out && s->state == SLOT_IDLE && d->ready.len > 0)
            if (!dispatch_assign(d, i, &d->running[i]) && d->ready.len > 0)
                hand_out = false; /* (the store cannot be reached for a claim) */
    }
    /* each busy worker also holds the next job, so it starts it the moment the current one
     * ends; an idle worker with nothing queued takes back a held job from a busy one, so a
     * long job never keeps a short one waiting behind it */
    bool idle_worker = false;
    for (int i = 0; i < d->pool->count; i++)
        if (d->pool->slots[i].state == SLOT_IDLE) idle_worker = true;
    /* (not while other nodes share the store: a busy node would claim jobs ahead that an idle
     * one could run; those it held while it was alone go back, for any node to take) */
    for (int i = 0; i < d->pool->count && writable && d->clustered && !d->alone; i++)
        for (int k = DISPATCH_HOLD - 1; k >= 0; k--)
            if (d->next[i][k].phase == PHASE_SENT || d->next[i][k].phase == PHASE_RESERVED)
                dispatch_give_back(d, i, &d->next[i][k]);
    for (int i = 0; i < d->pool->count && hand_out && (!d->clustered || d->alone); i++) {
        struct pool_slot *s = &d->pool->slots[i];
        for (int k = 0; k < DISPATCH_HOLD; k++) {
            if (s->state == SLOT_BUSY && !d->next[i][k].id && d->ready.len > 0 &&
                !dispatch_assign(d, i, &d->next[i][k]) && d->ready.len > 0)
                hand_out = false; /* (the store cannot be reached for a claim) */
            if (idle_worker && d->ready.len == 0 && d->running[i].phase == PHASE_STARTED &&
                d->next[i][k].phase == PHASE_SENT)
                dispatch_give_back(d, i, &d->next[i][k]);
        }
    }
    dispatch_claims_settle(d); /* (several nodes: what was handed out is claimed first) */
    dispatch_rescued_ends(d);
    /* the submits go last: their writes are the journal's tail, dropped if the batch fails
     * (the client hears 503 and may retry; nothing half-stored waits for a replay) */
    size_t mark = store_journal_mark(d->store);
    if (writable && !d->draining) dispatch_schedules_fire(d, now_wall); /* (written as submits) */
    store_submits(d, submits);
    bool committed = store_commit(d->store) == 0;
    if (!committed) store_journal_drop(d->store, mark);
    bool healthy = committed || store_journal_mark(d->store) == 0;
    answer_submits(d, submits, committed);
    bool made = dispatch_schedules_settle(d, committed);
    int64_t next_schedule = d->draining ? -1 : dispatch_schedules_next(d, clock_wall_ms());
    if (next_schedule >= 0 && (wake < 0 || next_schedule < wake)) wake = next_schedule;
    if (!healthy) { /* kept back until the retry commits: RUNs, answers, finish hooks */
        dispatch_flush_unwritten_answers(d); /* (a signal sent, a refusal: nothing to wait for) */
        dispatch_publish_health(d);
        struct store_health h;
        store_health(d->store, &h);
        if (wake < 0 || h.retry_in_ms < wake) wake = h.retry_in_ms;
        return wake;
    }
    if (submits || d->n_ended || made) dispatch_wake(d);      /* the new jobs are handed out next */
    if (d->later.len > 0 && (wake < 0 || wake > 5)) wake = 5; /* (claims to try again) */
    d->queues_saved = false;
    dispatch_send_unsent(d);
    for (int i = 0; i < d->pool->count; i++)
        if (d->pool->slots[i].out.len > d->pool->slots[i].out.pos) dispatch_flush_slot(d, i);
    dispatch_flush_finished(d);
    dispatch_flush_answers(d);
    dispatch_publish(d);
    return wake;
}
