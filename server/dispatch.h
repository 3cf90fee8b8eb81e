/* dispatch: who runs what. Owns the ready heap of waiting jobs, the jobs on workers,
 * retries, terminate and drain. Only the main loop changes anything (the dispatch_loop_*
 * functions): other threads hand it submits and commands, answered after the batch that
 * carried them out committed, and read a view it publishes after each commit. */
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
    DISPATCH_IDEMPOTENCY_MISMATCH, /* a key already names a job of another request (message set) */
    DISPATCH_UNAVAILABLE /* the store cannot commit now (disk full, locked): retry later */
};

/* A submit waiting for the main loop's next commit (group commit: every submit that
 * arrives while one commits goes into the next, together). */
struct dispatch_submit {
    const struct job_spec *specs;
    size_t n;
    int64_t *ids;                /* out: the new ids */
    int64_t created_at;          /* out: submission time (wall ms) */
    enum dispatch_result result; /* out: OK, INVALID or IDEMPOTENCY_MISMATCH (see error), or
                                  * UNAVAILABLE (the store cannot commit: nothing stored) */
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
 * wait(ctx) was called before the main loop can see it (suspend there), and sub->done(ctx)
 * follows once the jobs are committed or refused. Or SHUTTING_DOWN / QUEUE_FULL /
 * UNAVAILABLE at once. */
enum dispatch_result dispatch_submit(struct dispatch *d, struct dispatch_submit *sub,
                                     void (*wait)(void *ctx));

/* A named queue's settings as the dispatcher holds them. */
#define DISPATCH_USAGE_BUCKETS 12
/* The upper bounds (seconds) of the usage histograms' buckets. */
extern const double dispatch_usage_bounds[DISPATCH_USAGE_BUCKETS];
#define DISPATCH_WAIT_BUCKETS 14
/* The upper bounds (seconds) of the queue-wait histogram's buckets. */
extern const double dispatch_wait_bounds[DISPATCH_WAIT_BUCKETS];
/* What the jobs of a queue that ran cost since the server started: wall seconds from start to
 * end, and CPU seconds (user + system); and how long its jobs waited to start (from submit,
 * retry or run_at to start). Cumulative buckets, the last one +Inf. */
struct dispatch_usage {
    uint64_t duration[DISPATCH_USAGE_BUCKETS + 1], cpu[DISPATCH_USAGE_BUCKETS + 1];
    double duration_sum, cpu_sum;
    uint64_t count;
    uint64_t wait[DISPATCH_WAIT_BUCKETS + 1];
    double wait_sum;
    uint64_t wait_count;
};
/* Counts one job that ran for duration seconds and used cpu seconds of CPU. */
void dispatch_usage_add(struct dispatch_usage *u, double duration, double cpu);
/* Counts one start of a job that waited seconds since it became ready to run. */
void dispatch_usage_add_wait(struct dispatch_usage *u, double seconds);

struct dispatch_queue_info {
    char name[72];
    int concurrency; /* -1: no limit */
    bool paused;
    int running; /* its jobs on workers now */
    struct dispatch_usage usage;
};

/* A change asked of the main loop by another thread. */
enum dispatch_cmd_kind {
    /* Terminate job_id: a queued one is canceled (CANCELED); a running one gets sig to its tree
     * and SIGKILL after grace_ms (SIGNALED); one a worker holds is asked and the answer says
     * which happened. A finished one is a CONFLICT. */
    DISPATCH_CMD_TERMINATE,
    /* Forget finished job_id and delete its output files (OK, NOT_FOUND, CONFLICT). */
    DISPATCH_CMD_DELETE,
    /* Change queue `queue` (made if new): concurrency if set_concurrency (-1: no limit), paused
     * if paused >= 0; persisted; queue_out gets the result (OK). */
    DISPATCH_CMD_QUEUE_SET,
    /* Record a notify_url delivery of job_id: notify_done (delivered or given up) deletes it,
     * else it is due again at notify_next_at; notify_detail goes to its events (OK). */
    DISPATCH_CMD_NOTIFY_RESULT,
    /* Change queued job_id: its priority if set_priority, its queue (`queue`) if set_queue;
     * it waits again wherever it waited, by the new values (OK, NOT_FOUND; CONFLICT when it
     * is not queued, or a worker holds it already) */
    DISPATCH_CMD_PATCH_JOB,
    /* Delete the finished jobs that filter matches and no longer needed (store_delete_unneeded),
     * in slices between more urgent work (dispatch_loop_clean); deleted and kept get the
     * counts (OK). */
    DISPATCH_CMD_DELETE_FINISHED,
    /* Create (schedule_create: CONFLICT if it exists, QUEUE_FULL past
     * DISPATCH_MAX_SCHEDULES) or change (NOT_FOUND if it does not: only the fields in
     * schedule->given, over the schedule as it is then) schedule `schedule`; its next run is
     * worked out again when its cron, zone or pause changed (OK). The main loop takes
     * schedule->cron and ->tz (set to NULL). */
    DISPATCH_CMD_SCHEDULE_PUT,
    /* Delete schedule `schedule->name` (OK, NOT_FOUND). */
    DISPATCH_CMD_SCHEDULE_DELETE
};
struct cron;
struct tz;
/* The fields of a schedule a PATCH gave (dispatch_schedule.given). */
enum {
    SCHEDULE_GIVEN_CRON = 1,
    SCHEDULE_GIVEN_TIMEZONE = 2,
    SCHEDULE_GIVEN_JOB = 4,
    SCHEDULE_GIVEN_OVERLAP = 8,
    SCHEDULE_GIVEN_PAUSED = 16,
    SCHEDULE_GIVEN_CATCH_UP = 32
};
/* Schedules a server keeps at most. */
#define DISPATCH_MAX_SCHEDULES 1000
/* A schedule as the API validated it, for DISPATCH_CMD_SCHEDULE_PUT / _DELETE. */
struct dispatch_schedule {
    char name[72];
    char cron_text[256], timezone[256];
    struct cron *cron; /* parsed cron_text (the main loop takes it) */
    struct tz *tz;     /* loaded timezone (the main loop takes it) */
    char *job;         /* the submit body of each run (JSON text) */
    enum store_overlap overlap;
    bool paused, catch_up;
    unsigned given; /* a change: SCHEDULE_GIVEN_* of the fields it sets; the others stay */
};
/* Turns a schedule's job (a submit body) into a spec, as a POST /v1/jobs would: the API's
 * parser, handed to the dispatcher by the front end. 0, or -1 with why in err. */
typedef int (*dispatch_job_parser)(void *ctx, const char *json, struct job_spec *out, char *err,
                                   size_t errlen);
/* Sets the parser schedules make their jobs with (before the main loop runs). */
void dispatch_set_job_parser(struct dispatch *d, dispatch_job_parser fn, void *ctx);
struct dispatch_cmd {
    enum dispatch_cmd_kind kind;
    int64_t job_id;
    int sig;          /* TERMINATE */
    int64_t grace_ms; /* TERMINATE */
    char queue[72];   /* QUEUE_SET, PATCH_JOB */
    bool set_queue;   /* PATCH_JOB */
    bool set_priority;
    int64_t priority;
    int concurrency;
    bool set_concurrency;
    int paused;
    struct dispatch_queue_info *queue_out;
    bool notify_done; /* NOTIFY_RESULT */
    int64_t notify_next_at;
    const char *notify_detail;
    struct store_filter filter;  /* DELETE_FINISHED (its limit unused; what it points at lives
                                  * until answered); its before is moved down as slices go */
    int64_t deleted, kept;       /* DELETE_FINISHED, out: deleted; finished but still needed */
    enum dispatch_result result; /* out; UNAVAILABLE while the store cannot commit */
    void (*done)(void *ctx);     /* called once result is set, after its batch committed */
    void *ctx;
    struct dispatch_cmd *next;
    struct dispatch_cmd *parked; /* (a terminate waiting for its worker's answer) */
    bool wrote;                  /* (it changed the store: answered only once that is committed) */
    struct dispatch_schedule *schedule; /* SCHEDULE_PUT, SCHEDULE_DELETE */
    bool schedule_create;               /* SCHEDULE_PUT: a POST (not a PATCH) */
};
/* Queues cmd for the next batch and returns DISPATCH_OK: wait(ctx) was called before the
 * main loop could see it (suspend there), cmd->done(ctx) follows when cmd->result is set.
 * Or SHUTTING_DOWN at once, once the main loop has stopped (nothing called). */
enum dispatch_result dispatch_command(struct dispatch *d, struct dispatch_cmd *cmd,
                                      void (*wait)(void *ctx));
/* The same for a thread that may block until the answer (the callback sender). */
enum dispatch_result dispatch_call(struct dispatch *d, struct dispatch_cmd *cmd);
/* The pid of a running job's main process (as of the last commit), 0 if unknown. */
int64_t dispatch_running_pid(struct dispatch *d, int64_t id);
/* Path of a job's capture file for stream "stdout" or "stderr" into out. */
void dispatch_output_path(const struct dispatch *d, int64_t id, const char *stream, char *out,
                          size_t n);

/* Copies the queues known to the dispatcher (up to max); returns how many. */
size_t dispatch_queue_list(struct dispatch *d, struct dispatch_queue_info *out, size_t max);

/* One worker as GET /v1/workers shows it. */
struct dispatch_worker_info {
    int index;
    int pid;           /* 0 while being replaced */
    const char *state; /* "idle", "busy", "starting" (or dead, to be replaced), "exiting" */
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
    int workers_total, workers_idle, workers_busy, workers_starting, workers_exiting;
    bool draining;
    int64_t ms_since_worker_ready; /* since a worker last said READY (or the start) */
    double latency_bounds[DISPATCH_LATENCY_BUCKETS];       /* seconds, upper bounds */
    uint64_t latency_counts[DISPATCH_LATENCY_BUCKETS + 1]; /* cumulative, last is +Inf */
    double latency_sum;
    uint64_t latency_count;
    double recent_p50, recent_p99; /* over the last DISPATCH_RECENT starts, seconds */
    int recent_n;
    struct store_health store; /* the write path: waiting > 0 means degraded */
    bool claims_failing;       /* several nodes: claims fail (degraded too; store.error says why) */
    uint64_t deleted_retention, deleted_request; /* finished jobs deleted: by retention, asked */
    double retain;       /* the retention in force: seconds a finished job is kept (0: no limit) */
    int64_t retain_jobs; /* finished jobs kept at most (0: no limit) */
};
/* Backoff before the retry that follows attempt n: the job's retry_backoff (seconds; < 0:
 * --retry-backoff) doubled per attempt, capped at --retry-backoff-max. */
int64_t dispatch_retry_delay_ms(const struct config *cfg, double backoff, int attempt);
/* Wakes the main loop so it recomputes its deadlines (after a new long-poll). Any thread. */
void dispatch_wake(struct dispatch *d);
/* Copies the counters (as of the last commit; the store's health as of the last batch). */
void dispatch_stats(struct dispatch *d, struct dispatch_stats *out);

/* --- main loop side (one thread) --- */

/* Epoll data tag of worker channels: (DISPATCH_WORKER_TAG | slot index). */
#define DISPATCH_WORKER_TAG (UINT64_C(1) << 32)
/* Epoll data tag of the dispatcher's wake-up eventfd (poked after a submit). */
#define DISPATCH_WAKE_TAG (UINT64_C(2) << 32)
/* Epoll data tag of the store's connection that hears the other nodes (PostgreSQL). */
#define DISPATCH_LISTEN_TAG (UINT64_C(3) << 32)
/* Starts hearing the other nodes (PostgreSQL; nothing on SQLite). 0 or -1. */
int dispatch_nodes_start(struct dispatch *d);
/* Takes in what the other nodes said (in a batch; DISPATCH_LISTEN_TAG is ready). */
void dispatch_loop_heard(struct dispatch *d);
/* Outside a batch: renews this node's lease, fences it when it cannot, declares nodes whose
 * lease ran out dead and recovers their jobs. Returns ms until it wants to run again (-1:
 * never: SQLite). */
int64_t dispatch_loop_nodes(struct dispatch *d);
/* Reads the wake-up eventfd empty (call when DISPATCH_WAKE_TAG is ready). */
void dispatch_loop_woken(struct dispatch *d);
/* Starts a batch: one transaction for everything until end. */
void dispatch_loop_begin(struct dispatch *d);
/* Ends a batch: carries out commands and submits, assigns queued jobs to idle workers,
 * respawns dead workers when due, commits; only then sends RUNs, answers, tells the finish
 * hook and publishes the view. A batch that fails to commit is retried (store.h) and
 * meanwhile nothing it decided leaves the process. Returns ms until it next needs to run
 * (-1: never). */
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
/* Changes the retention in force (SIGHUP): seconds a finished job is kept and finished jobs
 * kept at most (0: no limit for either). */
void dispatch_loop_set_retention(struct dispatch *d, double retain, int64_t retain_jobs);
/* Deletes finished jobs for retention and bulk deletes: one slice of a few dozen jobs in a
 * transaction of its own (its files unlinked after its commit), when nothing waits in the main
 * loop's epoll, or when the last slice was long ago. Returns ms until it wants to run again (0:
 * now, -1: only when something changes). */
int64_t dispatch_loop_clean(struct dispatch *d);
/* After the main loop's last batch: answers every submit and command still waiting
 * (SHUTTING_DOWN), and every later one at once. */
void dispatch_loop_close(struct dispatch *d);
/* Writes of failed batches still waiting to commit (0: the store holds everything). */
size_t dispatch_loop_unsaved(struct dispatch *d);
/* True when every worker runs a job and holds another: then nothing waits on the master for
 * a moment, and it may gather more events into one batch (fewer commits and wake-ups). */
bool dispatch_loop_saturated(struct dispatch *d);

#endif
