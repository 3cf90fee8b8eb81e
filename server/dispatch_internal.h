/* dispatch_internal.h: the dispatcher's state, shared by its files: dispatch.c (state
 * helpers, and what other threads call: submit, commands, the published view),
 * dispatch_loop.c (worker messages, deaths, the batch), dispatch_cmd.c (commands carried
 * out), dispatch_assign.c (handing jobs to workers). Not for elsewhere. */
#ifndef SPAWNPOOL_DISPATCH_INTERNAL_H
#define SPAWNPOOL_DISPATCH_INTERNAL_H

#include <pthread.h>

#include "server/dispatch.h"
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
    int64_t id;       /* 0: none */
    int64_t pid;      /* the job's process (group), 0 until STARTED */
    int64_t since_us; /* monotonic µs it became ready to run (dispatch latency) */
    int64_t priority;
    int attempt, max_attempts;
    bool sent;        /* its RUN went out (only after the batch that reserved it committed) */
    bool started;     /* STARTED seen: the row says running */
    bool terminate;   /* a terminate request reached it */
    bool shutdown;    /* ... sent by the server's drain */
    bool withdrawing; /* asked back (not started) so an idle worker can take it */
    int q;            /* index of its queue in d->queues */
    int k;            /* index of its concurrency key in d->keys, -1: none */
    bool gang;        /* a gang member: it cannot start later on its own */
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
    struct queue parked;
};

/* A concurrency key (Lock / Semaphore): its jobs on workers, and those held back while it
 * is at its limit (kept apart, so they never block unrelated jobs). */
struct kstate {
    char name[136];
    int running;
    struct queue parked;
};

/* A gang (Barrier): its members popped from the main queue wait here until all
 * group_size of them are, and that many workers are free. */
struct gstate {
    char name[136];
    int size;
    struct queue members;
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
    struct queue queue;
    struct delayed *delayed;
    size_t n_delayed, cap_delayed;
    struct running *running;               /* per slot: the job it runs (or is about to) */
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
};

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
/* Watches a worker slot's channel in the main loop's epoll. */
void dispatch_watch_slot(struct dispatch *d, int index);
/* Sends what is queued for a slot; if the socket is full, waits for EPOLLOUT. */
void dispatch_flush_slot(struct dispatch *d, int index);
/* Queues job id (or parks it until not_before, wall ms, for a retry backoff). */
void dispatch_queue_job(void *ctx, int64_t id, int64_t priority, int64_t not_before);
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
/* dispatch_assign.c: moves retries whose backoff passed into the queue; ms to the next. */
int64_t dispatch_release_delayed(struct dispatch *d, int64_t now);
/* Takes the next queued job and sends it to slot as r (its current or a held job). */
void dispatch_assign(struct dispatch *d, int slot, struct running *r);
/* Starts every complete gang group that has enough idle workers; true while one waits. */
bool dispatch_start_gangs(struct dispatch *d);
/* The slot's current job is over: the first job it held is the one it runs now. */
void dispatch_promote_held(struct dispatch *d, int slot);

/* Job id reached a terminal state: its queued dependents may run now (all their
 * dependencies succeeded) or are canceled (this one did not succeed), recursively. */
void dispatch_release_dependents(struct dispatch *d, int64_t id, enum job_state state);
/* Records a queued job canceled (error says why, NULL for a terminate), with its
 * dependents. Returns DISPATCH_CANCELED or DISPATCH_CONFLICT (not queued any more). */
enum dispatch_result dispatch_cancel_queued(struct dispatch *d, int64_t id, const char *error);
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
/* Puts a queue's parked jobs back in the run queue, as far as it is open. */
void dispatch_queue_unpark(struct dispatch *d, int qi);
/* dispatch_cmd.c: carries out one command in the batch (answered after the commit). */
void dispatch_run_command(struct dispatch *d, struct dispatch_cmd *cmd);
/* A job a worker holds but has not started (r on slot) is given up: its RUN is not sent
 * (or the worker is asked to drop it, when sent), and it is queued again. */
void dispatch_give_back(struct dispatch *d, int slot, struct running *r);
/* Sends the RUNs of the batch that just committed (dispatch_assign.c). */
void dispatch_send_unsent(struct dispatch *d);
/* A job sent to a worker came back unstarted: canceled if a terminate asked for it, else
 * queued again (dispatch_loop.c). */
void dispatch_job_unstarted(struct dispatch *d, struct running *r);

#endif
