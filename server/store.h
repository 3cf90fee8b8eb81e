/* store: the only code that touches SQLite. The thread that opens the store is its writer
 * (the main loop): it alone writes, through one connection, and groups every change of one
 * iteration into one transaction (store_begin/store_commit); its reads see its own writes. A
 * batch that cannot commit is rolled back and replayed until it does (commit or retry).
 * Every other thread reads through a read-only connection of its own: it sees the last
 * commit and never waits for the writer. */
#ifndef SPAWNPOOL_STORE_H
#define SPAWNPOOL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/job.h"

struct store;

/* Opens (creating if needed) the database at path (SQLite in WAL mode, or a PostgreSQL URL)
 * and applies migrations. Returns 0, or -1 with a message in err, or DB_UNREACHABLE (-2)
 * when PostgreSQL did not answer or turned connections away for now (it may come up). */
int store_open(struct store **out, const char *path, char *err, size_t errlen);
/* full: every commit is fsync'd (survives a power failure); else synchronous=NORMAL (WAL:
 * survives a crash of the process; the last commits may be lost on power failure). */
int store_set_durability(struct store *s, bool full);
/* Closes the database; statements are finalized. */
void store_close(struct store *s);
/* Opens n read-only connections ahead for the threads other than the one that opened the
 * store (that one writes; the others read through a connection of their own, taken on their
 * first read), so no read opens one later and the fds the server holds stay as they are.
 * Returns 0, or -1 if one could not be opened (logged). */
int store_read_ahead(struct store *s, int n);

/* Starts (or nests into) a batch (the writer's thread only) until store_commit. The
 * outermost begin retries a waiting journal when its backoff has passed; before that the
 * batch only journals (store_failed is true). */
void store_begin(struct store *s);
/* Ends one level; the outermost commits. Returns 0, or -1 if the batch failed: it is rolled
 * back, and its journal waits to be replayed by a later batch (store_waiting). */
int store_commit(struct store *s);
/* True once the current batch has failed (its writes are only journaled). */
bool store_failed(const struct store *s);
/* Writes journaled so far (a mark for store_journal_drop). */
size_t store_journal_mark(const struct store *s);
/* After a failed store_commit: forgets the writes journaled after mark (a submit refused
 * instead of retried). */
void store_journal_drop(struct store *s, size_t mark);
/* The state of the write path, for /healthz and /metrics. */
struct store_health {
    size_t waiting;          /* writes of failed batches waiting to commit (0: healthy) */
    uint64_t failed_commits; /* batches that failed since the start */
    int64_t failing_ms;      /* for how long the journal has waited (0: not) */
    int64_t retry_in_ms;     /* until the next attempt */
    char error[200];         /* why the last attempt failed */
};
/* Fills h (call on the main loop's thread). */
void store_health(const struct store *s, struct store_health *h);

/* Inserts n jobs (state queued, one "submitted" event each) in one transaction and writes
 * their ids; nothing is inserted if any insert fails. Returns 0 or -1. */
int store_insert_jobs(struct store *s, const struct job_spec *specs, size_t n, int64_t now,
                      int64_t *ids);
/* What a job's dependencies say about it. */
enum store_deps {
    DEPS_MET,     /* none, or all succeeded: it may run */
    DEPS_PENDING, /* some have not ended yet */
    DEPS_FAILED   /* one ended otherwise: *culprit says which (and *culprit_state how) */
};
/* Checks job id's dependencies (rows of job_dependencies). Returns an enum store_deps, or
 * -1 on error. */
int store_job_deps(struct store *s, int64_t id, int64_t *culprit, enum job_state *culprit_state);
/* Calls fn for every queued job that depends on id. Returns 0 or -1. */
int store_each_dependent(struct store *s, int64_t id, void (*fn)(void *ctx, int64_t dependent),
                         void *ctx);
/* The job submitted with key at or after since (wall ms), with the fingerprint of its
 * request in fingerprint ("" if it has none); or 0 (an older holder of the key lets it go);
 * -1 on error. */
int64_t store_idempotent_job(struct store *s, const char *key, int64_t since, char fingerprint[65]);
/* Checks that every id exists; returns 0, or the first id that does not (or -1 on error). */
int64_t store_missing_job(struct store *s, const int64_t *ids, size_t n);
/* Reads one job (with its stdin only if with_stdin). Returns 0, 1 if there is none, -1. */
int store_get_job(struct store *s, int64_t id, struct job *out, bool with_stdin);

/* Filters of GET /v1/jobs, all of them together; zero / NULL means no filter (limit is
 * required). Every combination is answered from an index, never by a scan of the whole table
 * (server/store_list.c; tests/unit/test_list_plan.c checks each one's plan). */
struct store_filter {
    enum job_state states[JOB_STATE_COUNT]; /* jobs in one of these states (n_states of them) */
    int n_states;                           /* 0: any state */
    const char *queue;
    const char *name; /* the job's name, or with name_prefix what its name starts with */
    bool name_prefix;
    int64_t rerun_of;              /* only reruns of this job; 0: any */
    const char *schedule;          /* only runs of this schedule; NULL: any */
    const int64_t *created_after;  /* wall ms: created after it (exclusive); NULL: no bound */
    const int64_t *created_before; /* ... created before it (exclusive) */
    const int64_t *finished_after; /* ... ended after it (exclusive): jobs that have ended */
    int64_t before;                /* only ids below this */
    int limit;                     /* rows at most, >= 1 */
};
/* Lists jobs newest first (without stdin). *jobs is malloc'd, free each with job_free.
 * Returns 0 or -1. */
int store_list_jobs(struct store *s, const struct store_filter *f, struct job **jobs, size_t *n);
/* Deletes a finished job and its events; *state gets the state it had. Returns 0, 1 if
 * there is none, 2 if it is not in a terminal state (nothing deleted), -1 on error. */
int store_delete_job(struct store *s, int64_t id, enum job_state *state);
/* A finished job as store_oldest_finished lists it. */
struct store_finished {
    int64_t id, finished_at; /* wall ms */
    enum job_state state;
};
/* Reads into out up to max jobs that finished before before_at (wall ms), after (after_at,
 * after_id) in the order (finished_at, id): the oldest first, from where the last call
 * stopped. Returns how many, or -1. */
int store_oldest_finished(struct store *s, int64_t after_at, int64_t after_id, int64_t before_at,
                          struct store_finished *out, int max);
/* Deletes job id with its events and dependency rows (not its output files) if it is
 * finished and no longer needed: kept while a job that has not ended names it in after or
 * stdin_from, while its idempotency key was given at or after keys_since (wall ms), and while its
 * notify_url callback waits. In the writer's batch. Returns 1 deleted, 0 kept (or not finished, or
 * gone), -1 on error. */
int store_delete_unneeded(struct store *s, int64_t id, int64_t keys_since);

/* Reserves a queued job for worker slot (sent to it, not started yet). Returns 0 or -1. */
int store_job_reserve(struct store *s, int64_t id, int worker);
/* Notes that job id, which runs or a worker holds, was asked to terminate with sig: a
 * recovery that finds it without its end (its node died, the server stopped) ends it,
 * terminated (canceled if it never started), rather than run it again. Returns 0 or -1. */
int store_job_terminate_asked(struct store *s, int64_t id, int sig);
/* True if the calling thread's last read failed because the database could not be reached
 * (down, restarting, unreachable): a retry later may work (the API answers 503). */
bool store_read_unreachable(void);
/* Takes the reservation back: the job is plainly queued again. Returns 0 or -1. */
int store_job_unreserve(struct store *s, int64_t id);
/* Records queued -> running on worker (attempt counted). Returns 0 or -1. */
int store_job_running(struct store *s, int64_t id, int worker, int attempt, int64_t now);

/* How a job ended, as recorded. */
struct store_outcome {
    enum job_state state;
    int exit_code;     /* -1: null */
    int signal;        /* -1: null */
    const char *error; /* NULL: null */
    int64_t pid;       /* the main process; 0 or -1: keep what the row has */
    int64_t stdout_bytes, stderr_bytes;
    bool truncated;
    int64_t user_us, system_us, maxrss_kb; /* -1: unknown */
    int usage_from;                        /* PROTO_USAGE_* bits: from the cgroup leaf */
    const char *detail;                    /* for the event row */
    bool no_callback; /* the caller knows the job has no notify_url: none is looked for */
};
/* Records the transition from `from` to a terminal state. Returns 0, 1 if the job was not
 * in state `from` (nothing written), or -1. */
int store_job_finish(struct store *s, int64_t id, enum job_state from,
                     const struct store_outcome *o, int64_t now);
/* A queued job's priority (when priority is not NULL) and queue (when not NULL) change. */
int store_job_patch(struct store *s, int64_t id, const int64_t *priority, const char *queue);
/* Puts a job back in the queue (retry), not to start before not_before (wall ms). */
int store_job_requeue(struct store *s, int64_t id, enum job_state from, int64_t not_before,
                      const char *detail, int64_t now);

/* store_schedules.c. Calls fn for every scheduled job (state scheduled) with its run_at
 * (wall ms). Returns 0 or -1. */
int store_each_scheduled(struct store *s, void (*fn)(void *ctx, int64_t id, int64_t run_at),
                         void *ctx);
/* Scheduled job id becomes queued (its run_at came; event recorded); *priority and *has_deps
 * (it has "after" rows) say how it waits now. Returns 0, 1 if it is not scheduled (canceled
 * meanwhile: nothing written), or -1. Call only in a batch that has not failed. */
int store_job_promote(struct store *s, int64_t id, int64_t now, int64_t *priority, bool *has_deps);

/* What a schedule does when its time comes while the job of its last run is alive. */
enum store_overlap {
    OVERLAP_ALLOW,  /* starts another one beside it */
    OVERLAP_SKIP,   /* makes none this time (counted in skipped) */
    OVERLAP_REPLACE /* terminates it, then starts the new one */
};
/* The API name of an overlap ("allow", ...). */
const char *store_overlap_name(enum store_overlap o);
/* Parses an overlap name; 0, or -1 if unknown. */
int store_overlap_parse(const char *name, enum store_overlap *out);
/* A schedule (/v1/schedules) as stored; the strings are valid during the call they are
 * passed to only. */
struct store_schedule {
    const char *name, *cron, *timezone;
    const char *job; /* the submit body of each run (JSON) */
    enum store_overlap overlap;
    bool paused, catch_up;
    int64_t created_at, updated_at;                /* wall ms */
    int64_t next_run_at, last_run_at, last_job_id; /* 0: none */
    int64_t runs, skipped;
};
/* Creates or replaces schedule sc->name's definition (cron, timezone, job, overlap, paused,
 * catch_up, next_run_at, updated_at; created_at only when new); its counts and last run
 * stay. Returns 0 or -1. */
int store_schedule_put(struct store *s, const struct store_schedule *sc);
/* Deletes a schedule (the jobs it made keep its name). Returns 0 or -1. */
int store_schedule_delete(struct store *s, const char *name);
/* Sets a schedule's next run (0: none). Returns 0 or -1. */
int store_schedule_next(struct store *s, const char *name, int64_t next_run_at);
/* Takes schedule name's run due at due_at (its next_run_at): 1 if this node does it, 0 if
 * the schedule's next run is no longer that (another node took it, or it changed). Not
 * journaled, like store_schedule_fired. -1 on error. */
int store_schedule_take(struct store *s, const char *name, int64_t due_at);
/* Records that a schedule's time `at` came: it made job_id (0: skipped), and runs next at
 * next_run_at (0: never). Not journaled, like a submit's insert: if the batch fails, it is
 * dropped with the job it made, and the time comes again. Returns 0 or -1. */
int store_schedule_fired(struct store *s, const char *name, int64_t at, int64_t next_run_at,
                         int64_t job_id);
/* Calls fn for schedule name (NULL: every schedule, by name). Returns how many, or -1. */
int store_each_schedule(struct store *s, const char *name,
                        void (*fn)(void *ctx, const struct store_schedule *sc), void *ctx);

/* What startup recovery knows, and what it did. */
struct store_recovery {
    const char *node;       /* only the jobs this node held (NULL: every job: one node, SQLite) */
    const int64_t *started; /* jobs the last run's workers began to start (pool/ledger.h) */
    size_t n_started;
    bool started_known; /* false: no ledger, so any reserved job may have started */
    int lost, requeued; /* out: jobs that may have run, lost or queued for another attempt */
    int terminated;     /* out: jobs asked to terminate, ended (terminated, or canceled) */
    int released;       /* out: jobs a worker only held, queued again with no attempt */
    /* called for each job queued again (NULL: none), once the recovery committed */
    void (*requeued_fn)(void *ctx, int64_t id);
    /* called for each job it ended (lost, terminated, canceled; NULL: none), once committed */
    void (*ended_fn)(void *ctx, int64_t id, enum job_state state);
    void *ctx;
};
/* Startup recovery: a job a worker held that never started (known, and not in started)
 * is only released back to the queue; every job left running, or reserved and maybe
 * started, becomes lost, or is queued again (not before now + retry_delay_ms(its
 * retry_backoff, -1 if it has none; attempt))
 * while it has attempts left; events recorded. A job asked to terminate
 * (store_job_terminate_asked) is never run again: it ends terminated, or canceled if it
 * never started. Returns 0 or -1. */
int store_recover(struct store *s, int64_t now,
                  int64_t (*retry_delay_ms)(double backoff, int attempt), struct store_recovery *r);
/* A queued job, as store_each_queued passes it. */
struct store_queued {
    int64_t id, priority;
    int64_t not_before; /* wall ms, 0: none */
    const char *queue;  /* its named queue; valid during the call only */
    bool plain;         /* in no gang group and under no concurrency key */
    bool has_deps;      /* it has "after" rows: ask store_job_deps whether it may run */
};
/* Calls fn for every queued job, in id order among those without dependencies and among
 * those with (has_deps). Jobs without are passed while the read runs, so fn must not use the
 * store for them; jobs with are passed after it, so fn may (cancel one, say). On the way it
 * finds out whether a live job has a notify_url (until then, from store_open on, every job
 * end looks for a callback). Returns 0 or -1. */
int store_each_queued(struct store *s, void (*fn)(void *ctx, const struct store_queued *q),
                      void *ctx);
/* Saves a queue's settings (concurrency -1: no limit). Returns 0 or -1. */
int store_queue_save(struct store *s, const char *name, int concurrency, bool paused);
/* Calls fn for every saved queue setting. Returns 0 or -1. */
int store_each_queue_setting(struct store *s,
                             void (*fn)(void *ctx, const char *name, int concurrency, bool paused),
                             void *ctx);
/* Counts queued and running jobs of every queue that has some: fn(name, queued, running). */
int store_queue_counts(struct store *s,
                       void (*fn)(void *ctx, const char *name, int64_t queued, int64_t running),
                       void *ctx);
/* One row of job_events. */
struct store_event {
    int64_t id, job_id, at;
    const char *from, *to, *detail; /* from and detail may be NULL */
};
/* Calls fn for up to limit events after after_id (of job_id if > 0, of jobs in queue if not
 * NULL), in order. Returns how many, or -1. */
int store_each_event(struct store *s, int64_t after_id, int64_t job_id, const char *queue,
                     int limit, void (*fn)(void *ctx, const struct store_event *e), void *ctx);
/* Calls fn for every queued or scheduled job of gang group. Returns 0 or -1. */
int store_each_group_member(struct store *s, const char *group, void (*fn)(void *ctx, int64_t id),
                            void *ctx);
/* A notify_url callback to deliver. */
struct store_notification {
    int64_t job_id;
    char url[2100];
    int attempts;
};
/* Reads up to max callbacks due at now (wall ms) into out; returns how many, or -1. */
int store_notifications_due(struct store *s, int64_t now, struct store_notification *out, int max);
/* Records a delivery: done (delivered, or given up) deletes it; else it is due again at
 * next_at. detail goes to job_events (the job's state, unchanged). Returns 0 or -1. */
int store_notification_result(struct store *s, int64_t job_id, bool done, int64_t next_at,
                              const char *detail, int64_t now);
/* store_output.c: a job's output as chunks in the database, for the nodes that did not run
 * it (PostgreSQL only; server/output_ship.c writes them; on SQLite there are none). */
/* True if the store keeps output chunks (PostgreSQL). */
bool store_output_shared(struct store *s);
/* Bytes [pos, pos + len) of one stream of one attempt of a job. */
struct store_chunk {
    int64_t pos;
    unsigned char *data; /* malloc'd (store_chunk_free) */
    size_t len;
};
/* Reads the chunk of job id's attempt and stream ("stdout", "stderr") that holds byte offset
 * into *out. Returns 1; 2 if the stream ends at or before offset (its end mark is stored); 0
 * if nothing is stored at offset yet; -1 on error (logged). */
int store_output_chunk(struct store *s, int64_t id, int attempt, const char *stream, int64_t offset,
                       struct store_chunk *out);
/* Frees a chunk's data and zeroes it. */
void store_chunk_free(struct store_chunk *c);
/* How far that stream is stored: *end (bytes), and *complete if its end mark is. 0 or -1. */
int store_output_end(struct store *s, int64_t id, int attempt, const char *stream, int64_t *end,
                     bool *complete);
/* The newest event id (0 if none), or -1. */
int64_t store_last_event(struct store *s);
/* Counts jobs per state into counts. Returns 0 or -1. */
int store_count_states(struct store *s, int64_t counts[JOB_STATE_COUNT]);
/* Counts the events recorded for a job (for tests and audits); -1 on error. */
int64_t store_count_events(struct store *s, int64_t job_id);

/* store_nodes.c: the nodes sharing the store (server/store_nodes.c says how). */
/* This node's name ("" before store_node_register) and lease epoch. */
const char *store_node_name(const struct store *s);
int64_t store_node_epoch(const struct store *s);
/* Registers this node (its lease epoch one more than its name's last), so the jobs it claims
 * carry it: every later write about them is fenced with it; name NULL: again, with the name
 * and URL of the last time. 0 or -1 (logged). */
int store_node_register(struct store *s, const char *name, const char *url, const char *version);
/* Whether another server holds node name's lease: 1 if it is renewed while this one watches
 * (up to the node timeout, timeout_ms), 0 once it is free or runs out (a server of that name
 * that stopped), -1 on error. */
int store_node_in_use(struct store *s, const char *name, int64_t timeout_ms);
/* Sets the URL this node advertises. 0 or -1. */
int store_node_set_url(struct store *s, const char *url);
/* Gives this node's lease up (a clean stop: its name is free at once; the others find it
 * stopped, with nothing to recover). */
void store_node_release(struct store *s);
/* Renews this node's lease: 1, or 0 if its epoch moved on (declared dead by another node: its
 * jobs were recovered), or -1 if the database could not be reached. */
int store_node_renew(struct store *s);
/* How many nodes hold a live lease (this one included), or -1. */
int store_nodes_alive(struct store *s, int64_t timeout_ms);
/* A node whose lease ran out. */
struct store_dead_node {
    char name[64];
    int64_t epoch;
};
/* Lists up to max other nodes whose lease is older than timeout_ms and that nobody rescued
 * yet. Returns how many, or -1. */
int store_nodes_dead(struct store *s, int64_t timeout_ms, struct store_dead_node *out, int max);
/* Declares node dead (if its lease is still out and nobody did: its epoch moves on) and
 * recovers its jobs as store_recover does (r->node is set; what may have started counts as an
 * attempt). Returns 1 if this node did it, 0 if not (another did, or the node came back), -1. */
int store_node_rescue(struct store *s, const struct store_dead_node *dead, int64_t timeout_ms,
                      int64_t now, int64_t (*retry_delay_ms)(double backoff, int attempt),
                      struct store_recovery *r);
/* Forgets the nodes declared dead more than after_ms ago (by the database's clock) that no
 * job still names as its runner: GET /v1/nodes does not list them any more. Returns how many,
 * or -1. */
int store_nodes_forget(struct store *s, int64_t after_ms);
/* A row of nodes, for GET /v1/nodes (strings valid during the call only). */
struct store_node {
    const char *name, *url, *version;
    int64_t started_at, heartbeat_at, rescued_at; /* wall ms; rescued_at 0: not */
    int64_t epoch, running;                       /* running: its jobs that run */
    bool alive;                                   /* its lease is younger than timeout_ms */
};
/* Calls fn for every node, by name (any thread). Returns how many, or -1. */
int store_each_node(struct store *s, int64_t timeout_ms,
                    void (*fn)(void *ctx, const struct store_node *n), void *ctx);
/* Tells the other nodes (PostgreSQL NOTIFY on channel spawnpool, sent at the commit of the
 * current batch; nothing on SQLite): "j ID[,ID...]" jobs to take up, "e ID STATE" a job
 * ended, "q" queue settings changed, "t ID SIGNAL GRACE_MS" terminate a job its node runs. */
void store_notify(struct store *s, const char *payload);
/* store_notify "j ..." for n job ids (in as many notifications as they need). */
void store_notify_jobs(struct store *s, const int64_t *ids, size_t n);
/* Opens the connection that hears the other nodes (PostgreSQL). Returns its descriptor to
 * poll, -1 on SQLite (nothing to hear), or -2 if it cannot be opened (logged). */
int store_listen(struct store *s);
/* Calls fn with each notification heard (without waiting). Returns how many, or -1 if the
 * connection was lost: it is reopened by the next store_listen (what was sent meanwhile is
 * not heard: take the queued jobs up again). */
int store_heard(struct store *s, void (*fn)(void *ctx, const char *payload), void *ctx);
/* How a claim went. */
enum store_claim {
    CLAIM_TAKEN, /* another node holds it, or it is no longer queued: forget it */
    CLAIM_OK,    /* this node's now, committed (SQLite: in the batch) */
    CLAIM_BUSY,  /* its row is locked for a moment (a claim or a change in flight): later */
    CLAIM_FULL,  /* its queue or key is at its limit across the nodes: park it */
    CLAIM_FAILED /* the database could not be reached */
};
/* Claims queued job id for worker slot of this node: on PostgreSQL in a transaction of its
 * own (committed before the job can start), skipping a row locked elsewhere, refused while
 * its queue is paused in the store, or while queue (qlimit >= 0) or concurrency key (klimit
 * >= 0) has as many jobs running or held on all nodes; on SQLite it reserves in the batch. */
enum store_claim store_job_claim(struct store *s, int64_t id, int worker, const char *queue,
                                 int qlimit, const char *key, int klimit);
/* Claims jobs ids[i] for workers[i] of this node, n of them in one statement and one commit
 * (PostgreSQL; for jobs under no queue or key limit): out[i] says how each went, as
 * store_job_claim would. Returns 0, or -1 if the database could not be reached (every out[i]
 * CLAIM_FAILED). SQLite: each is reserved in the batch. */
int store_jobs_claim(struct store *s, const int64_t *ids, const int *workers, int n,
                     enum store_claim *out);
/* Claims the n jobs of a gang group at once for workers[i] of this node: all of them, in one
 * transaction, or none (CLAIM_BUSY: one is locked or taken). SQLite: reserved in the batch. */
enum store_claim store_jobs_claim_group(struct store *s, const int64_t *ids, const int *workers,
                                        int n);
/* Why the last claim that returned CLAIM_FAILED failed (for the caller's log). */
const char *store_claim_error(const struct store *s);
/* PostgreSQL: calls fn (if not NULL), in id order, for each of the n jobs ids that is queued
 * with no node holding it, as store_each_queued would (one read). Returns how many, or
 * -1. fn must not use the store. */
int store_queued_ids(struct store *s, const int64_t *ids, size_t n,
                     void (*fn)(void *ctx, const struct store_queued *q), void *ctx);
/* Calls fn (if not NULL) for queued job id as store_each_queued would, if it is queued and no
 * node holds it. Returns 1, 0 if not, or -1. */
int store_queued_one(struct store *s, int64_t id,
                     void (*fn)(void *ctx, const struct store_queued *q), void *ctx);

#endif
