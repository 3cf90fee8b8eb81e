/* dispatch_internal.h: the dispatcher's state, shared by its files: dispatch.c (state
 * helpers, and what other threads call: submit, commands, the published view),
 * dispatch_loop.c (worker messages, deaths, the batch), dispatch_cmd.c (commands carried
 * out), dispatch_assign.c (handing jobs to workers). Not for elsewhere. */
#ifndef SPAWNPOOL_DISPATCH_INTERNAL_H
#define SPAWNPOOL_DISPATCH_INTERNAL_H

#include <pthread.h>

#include "server/dispatch.h"
#include "server/log.h"
#include "server/runq.h"

/* Jobs a busy worker holds to start when its current one ends: two, so that it does not
 * run dry while the master waits for a CPU to send it the next one. */
#define DISPATCH_HOLD 3

/* A job waiting for its retry backoff to pass. */
struct delayed {
    int64_t id, priority, not_before; /* wall ms */
};

/* A job's phase on a worker slot: its life from the moment it is reserved for the slot until
 * it is ready again (queued) or over. dispatch_run_move (dispatch.c) is the one place it changes;
 * it checks each move against this diagram (an illegal one is logged, counted in
 * d->illegal_moves, and asserted in debug builds):
 *
 *   FREE -RESERVE-> RESERVED -SEND-> SENT -START-> STARTED -END-> FREE
 *                       |             |  \                ^
 *                       |             |   WITHDRAW        |
 *                       |             |      \            |
 *                       |             |     WITHDRAWING --+ START
 *                       |             |          |
 *                      BACK          BACK       BACK
 *                       v             v          v
 *                      FREE          FREE       FREE
 *
 * RESERVE  dispatch_assign or a gang's start: the row is reserved (worker set, still queued)
 *          in this batch's transaction.
 * SEND     that batch committed: the RUN is written to the worker (dispatch_send_unsent).
 * WITHDRAW KILL 0 to a held job, so that an idle worker can take it (dispatch_give_back).
 * START    STARTED; or a DONE that says it ran (a job over within 1 ms); or its worker died
 *          and it may have begun (the ledger, processes left in its tree, a second death).
 * BACK     it never started: given back before its RUN left (terminate, drain), NOT_STARTED
 *          from the worker (withdrawn, or terminated while held), or its worker died first
 *          (or was given up on before the commit). Queued again with no attempt counted, or
 *          canceled if a terminate asked for it (dispatch_job_unstarted).
 * END      DONE, or its worker died after it began (lost): recorded, or queued for a retry.
 *
 * A held job (d->next) is never STARTED: a worker starts a held job only after the current
 * one ended, and says so after that one's DONE, when the master has made it the current one
 * (dispatch_promote_held); that move from next to running is no move of its phase. */
enum run_phase {
    PHASE_FREE,        /* no job here (id 0) */
    PHASE_RESERVED,    /* its row is reserved in this batch; its RUN waits for the commit */
    PHASE_SENT,        /* its RUN went out: the worker holds it, or is starting it */
    PHASE_WITHDRAWING, /* asked back (KILL 0) so an idle worker can take it; the worker
                        * answers NOT_STARTED, or it had started it already (START) */
    PHASE_STARTED      /* the worker said it started (the row says running) */
};
/* The moves between phases (the arrows above). */
enum run_move { MOVE_RESERVE, MOVE_SEND, MOVE_WITHDRAW, MOVE_START, MOVE_BACK, MOVE_END };

/* A job sent to a worker slot: the one it runs (cur) or one it holds to start as soon as
 * that ends (next). The row stays queued, with `worker` set (a reservation), until the
 * worker says STARTED. Besides its phase, three intents: terminate and shutdown (a terminate
 * reached it, from a client or the drain) and gang (it cannot start later on its own); they
 * decide what its BACK and END record, not which moves are legal. */
struct running {
    int64_t id; /* 0: none */
    enum run_phase phase;
    int64_t pid;      /* the job's process (group), 0 until STARTED */
    int64_t since_us; /* monotonic µs it became ready to run (dispatch latency) */
    int64_t priority;
    int attempt, max_attempts;
    double retry_backoff;         /* seconds before its first retry; < 0: --retry-backoff */
    bool terminate;               /* a terminate request reached it */
    bool shutdown;                /* ... sent by the server's drain */
    bool fenced;                  /* killed by its node fencing itself: lost (retried if it may) */
    int q;                        /* index of its queue in d->queues */
    int k;                        /* index of its concurrency key in d->keys, -1: none */
    bool gang;                    /* a gang member: it cannot start later on its own */
    bool callback;                /* it has a notify_url */
    struct dispatch_cmd *waiting; /* terminates waiting to hear whether it had started */
};

/* A RUN decided in a batch, sent once that batch committed (dispatch_assign.c). */
struct unsent {
    int slot;
    int64_t id;
    struct proto_buf frame; /* the RUN's payload (kept for reuse once sent) */
};

/* A job that ended while the store could not be read exactly (a failed batch): its
 * dependents are looked at after a commit. */
struct ended {
    int64_t id;
    enum job_state state;
};

/* How long an idempotency key names its first job (and keeps it from retention). */
#define DISPATCH_IDEMPOTENCY_MS (24 * 3600 * 1000LL)

/* Deleting finished jobs (dispatch_clean.c): the retention pass under way and the bulk deletes
 * waiting, each done in slices. */
struct clean {
    double max_age;     /* --retain: seconds, 0: off */
    int64_t max_jobs;   /* --retain-jobs, 0: off */
    bool pass;          /* a retention pass is under way ... */
    int64_t at, id;     /* ... and has looked at the jobs up to (finished_at, id) */
    int64_t cutoff;     /* ... deleting those that finished before (wall ms) */
    bool dirty;         /* a job ended since the last pass began */
    int64_t pass_end;   /* monotonic ms the last pass ended */
    int64_t next_pass;  /* monotonic ms the next one is due (at the latest) */
    int64_t last_slice; /* monotonic ms */
    struct dispatch_cmd *bulk, **bulk_tail; /* DELETE_FINISHED commands, the first at work */
    int64_t *unlink;                        /* deleted jobs whose files go after the commit */
    size_t n_unlink, cap_unlink;
};

/* What other threads read, copied after every commit (dispatch_publish). */
struct dispatch_view {
    struct dispatch_stats stats;
    struct dispatch_worker_info *workers; /* pool->count */
    int64_t *pids;                        /* per slot: its job's pid once started, else 0 */
    struct dispatch_queue_info *queues;
    int n_queues, cap_queues;
    double recent[DISPATCH_RECENT]; /* the latency ring, unsorted */
    int64_t last_ready_mono;
};

/* A named queue (multiprocessing's Queue): pause and concurrency, and the jobs it holds
 * back while paused or full, kept apart so they never block other queues' jobs. */
struct qstate {
    char name[72];
    int concurrency; /* jobs of it on workers at most, -1: no limit */
    bool paused;     /* starts nothing, takes submits */
    int running;     /* its jobs on workers (running or held) */
    struct runq parked;
    struct dispatch_usage usage; /* of its jobs that ran (/metrics) */
};

/* A concurrency key (Lock / Semaphore): its jobs on workers, and those held back while it
 * is at its limit (kept apart, so they never block unrelated jobs). */
struct kstate {
    char name[136];
    int running;
    struct runq parked;
};

/* A gang (Barrier): its members popped from the ready heap wait here until all
 * group_size of them are, and that many workers are free. */
struct gstate {
    char name[136];
    int size;
    struct runq members;
};

/* A schedule as the main loop runs it (dispatch_schedules.c). */
struct sched {
    char name[72];
    struct cron *cron;
    struct tz *tz;
    char *job; /* the submit body of each run */
    char cron_text[256];
    enum store_overlap overlap;
    bool paused, catch_up;
    int64_t next_run_at; /* wall ms, 0: none (paused, or never again) */
    int64_t last_job_id; /* the job its last run made, 0: none */
    /* a run decided in this batch, applied to the fields above once it committed */
    bool fired;
    int64_t fired_job, fired_next, fired_priority;
};

struct dispatch {
    /* guards what other threads touch: pending submits and commands, draining, the view */
    pthread_mutex_t share;
    pthread_cond_t called; /* dispatch_call's answers */
    struct dispatch_view view;
    struct dispatch_cmd *commands, **commands_tail; /* for the next batch */
    bool closed; /* the main loop has stopped: nothing is handed over any more */
    struct dispatch_cmd *answers, **answers_tail; /* carried out: answered after the commit */
    struct unsent *unsent; /* RUNs waiting for their batch's commit, in order */
    size_t n_unsent, cap_unsent;
    struct ended *ended; /* jobs whose dependents wait for an exact read */
    size_t n_ended, cap_ended;
    const struct config *cfg;
    struct store *store;
    struct pool *pool;
    int epoll_fd;
    int wake_fd; /* eventfd in the main loop's epoll (DISPATCH_WAKE_TAG) */
    char output_dir[PATH_MAX + 16];
    struct runq ready; /* jobs that may start now (struct running: those on workers) */
    struct delayed *delayed;
    size_t n_delayed, cap_delayed;
    struct runq scheduled;   /* scheduled jobs, by run_at (priority -run_at): dispatch_timers.c */
    struct running *running; /* per slot: the job it runs (or is about to) */
    struct running (*next)[DISPATCH_HOLD]; /* per slot: the jobs it holds to start next */
    int64_t *died_unstarted; /* ring of jobs re-queued because their worker died before they
                              * reported a start: a second time means they ran */
    size_t n_died_slots, n_died_unstarted;
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
    bool any_after;        /* some job was submitted with "after": job ends look for dependents */
    struct qstate *queues; /* named queues seen so far (never shrinks: indexes stay) */
    int n_queues;
    struct kstate *keys; /* concurrency keys seen so far (never shrinks) */
    int n_keys;
    struct gstate *groups; /* gangs seen so far (never shrinks) */
    int n_groups;
    struct sched *scheds; /* the schedules (dispatch_schedules.c) */
    int n_scheds;
    dispatch_job_parser parse_job; /* turns a schedule's job into a spec (the API's parser) */
    void *parse_job_ctx;
    struct clean clean;          /* retention and bulk deletes */
    unsigned long illegal_moves; /* moves of a job's phase or a slot's state that broke their
                                  * diagrams (bugs, logged; the unit test wants none) */
    /* dispatch_nodes.c: this node among the others sharing a PostgreSQL store */
    bool clustered;     /* the store is PostgreSQL: jobs are claimed, nodes are heard */
    int listen_fd;      /* the store's listening connection in the epoll (-1: none) */
    bool resync;        /* notifications may have been missed: take the queue up again */
    bool fenced;        /* the lease could not be renewed: no claims, jobs killed */
    bool alone;         /* no other node holds a live lease: jobs may be held ahead */
    int64_t renew_at;   /* monotonic ms of the next renewal */
    int64_t renewed_at; /* monotonic ms of the last one that worked */
    int64_t forget_at;  /* monotonic ms of the next look for dead nodes to forget */
    struct runq later;  /* claims that met a locked row: tried again next batch */
    struct claim_wait { /* jobs handed out this batch, their claims in one statement */
        int slot;       /* (dispatch_claims_settle, before the batch commits) */
        int64_t id;
    } * claims;
    int n_claims, cap_claims;
    int64_t claims_failing_since; /* monotonic ms claims began to fail (0: they work) */
    int64_t claim_retry_at;       /* monotonic ms hand-outs wait for after a failed claim */
    int64_t claim_backoff_ms;     /* 50 ms doubling to 5 s while they fail */
    struct log_every claim_log;   /* their log lines: one per 10 s */
    int64_t listen_retry_at;      /* monotonic ms the listening connection is tried again */
    struct rescued_end {          /* jobs a rescue here ended: their waiters and dependents here */
        int64_t id;               /* are seen to in the next batch (dispatch_rescued_ends), as */
        enum job_state state;     /* another node's end is when heard */
    } * rescued_ends;
    int n_rescued_ends;
    bool queues_saved;    /* this batch changed a queue's settings */
    bool schedules_stale; /* another node changed or ran a schedule: read them again */
};

/* Moves job r on slot (its current or a held one) along its phase diagram (above): the
 * one place r->phase changes. Returns false if the move was not legal from r's phase (made
 * all the same, logged and counted: a bug). */
bool dispatch_run_move(struct dispatch *d, int slot, struct running *r, enum run_move move);
/* Moves worker slot index to state `to` (pool_slot_move, pool/pool.h: the one place a slot's
 * state changes); an illegal move is logged and counted like a job's. */
void dispatch_slot_move(struct dispatch *d, int index, enum pool_slot_state to);
/* The state of queue name, made (open, no limit) if new; its index, or -1 on ENOMEM. */
int dispatch_qstate(struct dispatch *d, const char *name);
/* True if queue qi may start another job now. */
bool dispatch_queue_open(struct dispatch *d, int qi);
/* A job of queue qi left its worker: one fewer on workers, and its parked jobs come back
 * when it is open again. */
void dispatch_queue_done(struct dispatch *d, int qi);
/* The state of concurrency key name, made if new; its index, or -1 on ENOMEM. */
int dispatch_kstate(struct dispatch *d, const char *name);
/* The state of gang name of size members, made if new; its index, or -1 on ENOMEM. */
int dispatch_gstate(struct dispatch *d, const char *name, int size);
/* A job of key ki left its worker: its best parked job comes back. */
void dispatch_key_done(struct dispatch *d, int ki);
/* Gives up on a worker (EOF, corrupt frame, failed write): EXITING, unwatched, SIGKILLed;
 * its reaping does the rest (its jobs: lost, retried or queued again). */
void dispatch_retire_worker(struct dispatch *d, int index);
/* Tells worker index how long the node's lease holds (PROTO_LEASE: three quarters of the
 * timeout from the last renewal): one running a job past it without a newer word kills it,
 * one about to start a job does not. */
void dispatch_send_lease_to(struct dispatch *d, int index);
/* dispatch_send_lease_to every worker (after each renewal). */
void dispatch_send_lease(struct dispatch *d);
/* Watches a worker slot's channel in the main loop's epoll. */
void dispatch_watch_slot(struct dispatch *d, int index);
/* Sends what is queued for a slot; if the socket is full, waits for EPOLLOUT. Nothing goes to
 * an EXITING worker. */
void dispatch_flush_slot(struct dispatch *d, int index);
/* Sends KILL{sig, grace_ms} for job id to slot index's worker, unless it is EXITING (its
 * reaping kills its jobs and decides what they became). */
void dispatch_send_kill(struct dispatch *d, int index, int64_t id, int sig, int64_t grace_ms);
/* Makes job id ready to run: into the ready heap, or (a retry's backoff) the delayed list until
 * not_before (wall ms). */
void dispatch_make_ready(void *ctx, int64_t id, int64_t priority, int64_t not_before);
/* Moves one job between state counters (and counts it finished if to is terminal). */
void dispatch_count(struct dispatch *d, enum job_state from, enum job_state to);
/* Notes a job that ended in this batch; dispatch_flush_finished tells the hook. */
void dispatch_note_finished(struct dispatch *d, int64_t id);
/* Tells the finish hook about the noted jobs; call after their transaction committed. */
void dispatch_flush_finished(struct dispatch *d);
/* Slot's job id: the one it runs or one it holds; NULL if neither. */
struct running *dispatch_slot_job(struct dispatch *d, int slot, int64_t id);
/* Closes the gaps in a slot's held jobs, keeping their order. */
void dispatch_compact_held(struct dispatch *d, int slot);
/* dispatch_assign.c: moves retries whose backoff passed into the ready heap; ms to the next. */
int64_t dispatch_release_delayed(struct dispatch *d, int64_t now);
/* Takes the next queued job and sends it to slot as r (its current or a held job); false if
 * none was (none waits, or the store cannot be reached for a claim: stop for this batch). */
bool dispatch_assign(struct dispatch *d, int slot, struct running *r);
/* Starts every complete gang group that has enough idle workers; true while one waits. */
bool dispatch_start_gangs(struct dispatch *d);
/* The slot's current job is over: the first job it held is the one it runs now. */
void dispatch_promote_held(struct dispatch *d, int slot);

/* dispatch_cmd.c: terminates job id if this node runs or holds it, as asked by another node
 * ("t" notification): signal sig, SIGKILL after grace_ms. */
void dispatch_terminate_here(struct dispatch *d, int64_t id, int sig, int64_t grace_ms);
/* A saved queue setting (store_each_queue_setting's fn; ctx: the dispatcher) applied to the
 * queue's state (at start, and when another node changed it). */
void dispatch_load_queue_setting(void *ctx, const char *name, int concurrency, bool paused);
/* dispatch_nodes.c: a queued job found in the store (at start, or one another node made
 * queued) waits the way it should: for its dependencies, parked, delayed or ready. */
void dispatch_take_queued(void *ctx, const struct store_queued *q);
/* Claims the job e (read into j) for slot: true if it is this node's now; otherwise e went
 * where it belongs (dropped, parked, or tried again next batch) and j is freed; *stop is set
 * when the store cannot be reached (no more claims this batch). */
bool dispatch_claim(struct dispatch *d, int slot, const struct runq_entry *e, struct job *j,
                    bool *stop);
/* Claims the jobs dispatch_claim handed out on trust this batch, all in one statement; one
 * another node has, or that cannot be claimed now, is taken back from its slot unwritten
 * (its RUN is not sent) and goes where dispatch_claim would have put it. Before the commit. */
void dispatch_claims_settle(struct dispatch *d);
/* The ends of jobs this node's rescue of a dead node recorded, taken like ends heard from
 * another node (its waiters wake, its dependents are released). In a batch. */
void dispatch_rescued_ends(struct dispatch *d);

/* dispatch_timers.c: job id waits, scheduled, until run_at (wall ms). */
void dispatch_schedule_job(struct dispatch *d, int64_t id, int64_t run_at);
/* Reads the scheduled jobs at start. Returns 0 or -1. */
int dispatch_load_scheduled(struct dispatch *d);
/* Makes the scheduled jobs whose run_at came queued (call in a batch that has not failed);
 * returns ms until the next one is due, or -1 if none waits. */
int64_t dispatch_fire_timers(struct dispatch *d, int64_t now);

/* dispatch_schedules.c: reads the schedules at start; one whose time passed while the
 * server was down runs once now if it catches up, else waits for its next time. 0 or -1. */
int dispatch_load_schedules(struct dispatch *d);
/* Frees the schedules. */
void dispatch_free_schedules(struct dispatch *d);
/* The schedules due at now whose overlap is "replace": their last job, if alive, is
 * terminated (call in a batch that has not failed, before the submits' mark). */
void dispatch_schedules_replace(struct dispatch *d, int64_t now);
/* The schedules due at now make their jobs (or skip): written like submits, after the
 * batch's mark, so a batch that fails drops them and the time comes again. */
void dispatch_schedules_fire(struct dispatch *d, int64_t now);
/* After the batch: what fired takes effect in memory if it committed, else is forgotten.
 * True if jobs were made (to hand out). */
bool dispatch_schedules_settle(struct dispatch *d, bool committed);
/* Ms until the next schedule is due, 0 if one is, -1 if none waits. */
int64_t dispatch_schedules_next(const struct dispatch *d, int64_t now);
/* The commands DISPATCH_CMD_SCHEDULE_PUT and _DELETE. */
void dispatch_schedule_put(struct dispatch *d, struct dispatch_cmd *cmd);
void dispatch_schedule_delete(struct dispatch *d, struct dispatch_cmd *cmd);
/* dispatch_cmd.c: terminates job id as a client's terminate would (SIGTERM and the kill
 * grace; canceled if it has not started), with no one to answer. */
void dispatch_terminate_job(struct dispatch *d, int64_t id);

/* Job id reached a terminal state: its queued dependents may run now (all their
 * dependencies succeeded) or are canceled (this one did not succeed), recursively. */
void dispatch_release_dependents(struct dispatch *d, int64_t id, enum job_state state);
/* The outcome of a job canceled before it started (error says why, NULL for a terminate). */
struct store_outcome dispatch_canceled_outcome(const char *error);
/* Records a queued job canceled (error says why, NULL for a terminate), with its
 * dependents. Returns DISPATCH_CANCELED or DISPATCH_CONFLICT (not queued any more). */
enum dispatch_result dispatch_cancel_queued(struct dispatch *d, int64_t id, const char *error);
/* The same for a job waiting in state from (queued or scheduled). */
enum dispatch_result dispatch_cancel_waiting(struct dispatch *d, int64_t id, enum job_state from,
                                             const char *error);
/* Looks at the dependents of jobs that ended while the store could not be read (call in a
 * batch that has not failed). */
void dispatch_release_ended(struct dispatch *d);
/* Moves cmd to the answers given after the next commit, with result. */
void dispatch_answer(struct dispatch *d, struct dispatch_cmd *cmd, enum dispatch_result result);
/* Answers every terminate waiting on r with result. */
void dispatch_answer_waiting(struct dispatch *d, struct running *r, enum dispatch_result result);
/* Answers the commands carried out (call after the commit). */
void dispatch_flush_answers(struct dispatch *d);
/* Answers those that wrote nothing (a batch that failed keeps the rest for its retry). */
void dispatch_flush_unwritten_answers(struct dispatch *d);
/* Copies the state other threads read into the view (call after a commit). */
void dispatch_publish(struct dispatch *d);
/* Copies only the store's health into the view (after a failed batch). */
void dispatch_publish_health(struct dispatch *d);
/* Puts a named queue's parked jobs back in the ready heap, as far as it is open. */
void dispatch_queue_unpark(struct dispatch *d, int qi);
/* dispatch_clean.c: sets up retention from the config (dispatch_create). */
void dispatch_clean_init(struct dispatch *d);
/* Takes a DELETE_FINISHED command: answered once its last slice committed. */
void dispatch_clean_command(struct dispatch *d, struct dispatch_cmd *cmd);
/* Answers the bulk deletes still waiting with result, frees what cleaning holds. */
void dispatch_clean_close(struct dispatch *d, enum dispatch_result result);
/* dispatch_cmd.c: carries out one command in the batch (answered after the commit). */
void dispatch_run_command(struct dispatch *d, struct dispatch_cmd *cmd);
/* A job a worker holds but has not started (r on slot) is given up: its RUN is not sent
 * (or the worker is asked to drop it, when sent), and it is queued again. */
void dispatch_give_back(struct dispatch *d, int slot, struct running *r);
/* Sends the RUNs of the batch that just committed (dispatch_assign.c). */
void dispatch_send_unsent(struct dispatch *d);
/* Job r on slot comes back unstarted (its BACK move): canceled if a terminate asked for it,
 * else queued again (dispatch_loop.c). */
void dispatch_job_unstarted(struct dispatch *d, int slot, struct running *r);
/* Clears r (its phase moved back or ended already) and lets go of its queue's and concurrency
 * key's counts. */
void dispatch_forget_job(struct dispatch *d, struct running *r);

#endif
