/* dispatch: who runs what. Owns the queue of waiting jobs, the jobs running on workers,
 * retries, terminate and drain. HTTP threads call submit/terminate/delete/snapshots; the
 * main loop calls the dispatch_loop_* functions. One mutex guards it all. */
#ifndef SPAWNPOOL_DISPATCH_H
#define SPAWNPOOL_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/pool.h"
#include "server/config.h"
#include "server/job.h"
#include "server/store.h"

struct dispatch;

/* Called after a job reached a terminal state and it was committed (any thread). */
typedef void (*dispatch_finish_fn)(void *ctx, int64_t job_id);

/* Creates the dispatcher over a started pool and an open store: loads queued jobs, counts
 * states. Returns NULL on failure (logged). */
struct dispatch *dispatch_create(const struct config *cfg, struct store *store, struct pool *pool,
                                 int epoll_fd);
/* Frees the dispatcher (not the pool or store). */
void dispatch_destroy(struct dispatch *d);
/* Registers the hook told about finished jobs (the API's long-poll waiters). */
void dispatch_on_finish(struct dispatch *d, dispatch_finish_fn fn, void *ctx);

enum dispatch_result {
    DISPATCH_OK,
    DISPATCH_SHUTTING_DOWN, /* draining: no new jobs */
    DISPATCH_QUEUE_FULL,    /* --max-queued reached */
    DISPATCH_NOT_FOUND,
    DISPATCH_CONFLICT, /* the job's state does not allow it */
    DISPATCH_CANCELED, /* terminate: the job was queued and is now canceled */
    DISPATCH_SIGNALED, /* terminate: the job runs and its worker was told */
    DISPATCH_ERROR,    /* storage failed (logged) */
    DISPATCH_INVALID,  /* the request names something that does not exist (message set) */
    DISPATCH_IDEMPOTENCY_MISMATCH /* a key already names a job of another request (message set) */
};

/* A submit waiting for the main loop's next commit (group commit: every submit that
 * arrives while one commits goes into the next, together). */
struct dispatch_submit {
    const struct job_spec *specs;
    size_t n;
    int64_t *ids;                /* out: the new ids */
    int64_t created_at;          /* out: submission time (wall ms) */
    enum dispatch_result result; /* out: OK, INVALID or IDEMPOTENCY_MISMATCH (see error), or
                                  * ERROR (storage) */
    char error[320];             /* out: why, for INVALID and IDEMPOTENCY_MISMATCH */
    char error_field[48];        /* out: the field at fault, for those */
    enum job_state *states;      /* out: per job, queued or (a dependency failed) canceled */
    bool *existing;              /* out: per job, its idempotency key named an earlier job
                                  * (ids[i] is that job; nothing was created for it) */
    void (*done)(void *ctx);     /* called once the result is set (from the main loop) */
    void *ctx;
    struct dispatch_submit *next;
};
/* Queues n jobs (all or none) for the next batch. Returns DISPATCH_OK when queued: then
 * wait(ctx) was called with the dispatcher locked (suspend there), and sub->done(ctx) follows
 * once the jobs are committed or failed. Or SHUTTING_DOWN / QUEUE_FULL at once. */
enum dispatch_result dispatch_submit(struct dispatch *d, struct dispatch_submit *sub,
                                     void (*wait)(void *ctx));
/* Terminates a job: a queued one is canceled at once; a running one gets sig to its tree and
 * SIGKILL after grace_ms. A finished one is a CONFLICT. */
enum dispatch_result dispatch_terminate(struct dispatch *d, int64_t id, int sig, int64_t grace_ms);
/* Forgets a finished job and deletes its output files; CONFLICT while it is not finished. */
enum dispatch_result dispatch_delete(struct dispatch *d, int64_t id);
/* The pid of a running job's main process (kept in memory while it runs), 0 if unknown. */
int64_t dispatch_running_pid(struct dispatch *d, int64_t id);
/* Path of a job's capture file for stream "stdout" or "stderr" into out. */
void dispatch_output_path(const struct dispatch *d, int64_t id, const char *stream, char *out,
                          size_t n);

/* A named queue's settings as the dispatcher holds them. */
struct dispatch_queue_info {
    char name[72];
    int concurrency; /* -1: no limit */
    bool paused;
    int running; /* its jobs on workers now */
};
/* Changes queue name (made if new): concurrency if set_concurrency (-1: no limit), paused if
 * paused >= 0; persists it; writes the result. Returns OK or ERROR. */
enum dispatch_result dispatch_queue_set(struct dispatch *d, const char *name, int concurrency,
                                        bool set_concurrency, int paused,
                                        struct dispatch_queue_info *out);
/* Copies the queues known to the dispatcher (up to max); returns how many. */
size_t dispatch_queue_list(struct dispatch *d, struct dispatch_queue_info *out, size_t max);

/* One worker as GET /v1/workers shows it. */
struct dispatch_worker_info {
    int index;
    int pid;           /* 0 while being replaced */
    const char *state; /* "idle", "busy", "starting" */
    int64_t job_id;    /* 0: none */
    uint64_t jobs_done;
    int64_t started_at; /* wall ms */
};
/* Copies the worker table into out (up to max entries); returns how many. */
size_t dispatch_workers(struct dispatch *d, struct dispatch_worker_info *out, size_t max);

#define DISPATCH_LATENCY_BUCKETS 12
#define DISPATCH_RECENT 1024
/* Counters for /healthz and /metrics. */
struct dispatch_stats {
    int64_t jobs[JOB_STATE_COUNT];
    uint64_t submitted_total;
    uint64_t finished_total[JOB_STATE_COUNT];
    uint64_t worker_restarts;
    int workers_total, workers_idle, workers_busy, workers_starting;
    bool draining;
    int64_t ms_since_worker_ready; /* since a worker last said READY (or the start) */
    double latency_bounds[DISPATCH_LATENCY_BUCKETS];       /* seconds, upper bounds */
    uint64_t latency_counts[DISPATCH_LATENCY_BUCKETS + 1]; /* cumulative, last is +Inf */
    double latency_sum;
    uint64_t latency_count;
    double recent_p50, recent_p99; /* over the last DISPATCH_RECENT starts, seconds */
    int recent_n;
};
/* Backoff before the retry that follows attempt n: --retry-backoff doubled per attempt,
 * capped at --retry-backoff-max. */
int64_t dispatch_retry_delay_ms(const struct config *cfg, int attempt);
/* Wakes the main loop so it recomputes its deadlines (after a new long-poll). Any thread. */
void dispatch_wake(struct dispatch *d);
/* Copies the counters. */
void dispatch_stats(struct dispatch *d, struct dispatch_stats *out);

/* --- main loop side (one thread) --- */

/* Epoll data tag of worker channels: (DISPATCH_WORKER_TAG | slot index). */
#define DISPATCH_WORKER_TAG (UINT64_C(1) << 32)
/* Epoll data tag of the dispatcher's wake-up eventfd (poked after a submit). */
#define DISPATCH_WAKE_TAG (UINT64_C(2) << 32)
/* Reads the wake-up eventfd empty (call when DISPATCH_WAKE_TAG is ready). */
void dispatch_loop_woken(struct dispatch *d);
/* Starts a batch: takes the lock and opens one transaction for everything until end. */
void dispatch_loop_begin(struct dispatch *d);
/* Ends a batch: assigns queued jobs to idle workers, respawns dead workers when due,
 * commits, then tells the finish hook. Returns ms until it next needs to run (-1: never). */
int64_t dispatch_loop_end(struct dispatch *d);
/* Handles an epoll event (EPOLLIN, EPOLLOUT, ...) on worker slot index's channel. */
void dispatch_loop_worker_event(struct dispatch *d, int index, uint32_t events);
/* Reaps exited children: workers (their job becomes lost or is retried) and strangers. */
void dispatch_loop_reap(struct dispatch *d);
/* Stops starting jobs and refuses submits (SHUTTING_DOWN). */
void dispatch_loop_drain(struct dispatch *d);
/* Terminates every running job (recorded as terminated by shutdown). */
void dispatch_loop_terminate_all(struct dispatch *d, int sig, int64_t grace_ms);
/* Jobs running now (or starting: sent to a worker as its current job); not the queued jobs
 * a busy worker holds to start next (the drain gives those back). */
int dispatch_loop_running(struct dispatch *d);
/* True while a worker has any job, running or held (a drain waits until held jobs are given
 * back and running ones ended). */
bool dispatch_loop_busy(struct dispatch *d);
/* True when every worker runs a job and holds another: then nothing waits on the master for
 * a moment, and it may gather more events into one batch (fewer commits and wake-ups).
 * Call outside a batch (it locks). */
bool dispatch_loop_saturated(struct dispatch *d);

#endif
