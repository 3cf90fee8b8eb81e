/* store_internal.h: what the files of the store share (server/store.c, the job rows and
 * transactions; server/store_links.c, idempotency keys, queue settings and callbacks;
 * server/store_read.c and store_conns.c, the reads and the connections they go through;
 * server/store_list.c, the job list; server/store_schedules.c, scheduled jobs and
 * schedules; server/store_clean.c, deleting finished jobs; server/store_checkpoint.c, the
 * WAL checkpoints; server/store_output.c, output chunks on PostgreSQL). Not for elsewhere: the rest
 * of the server goes through server/store.h. */
#ifndef SPAWNPOOL_STORE_INTERNAL_H
#define SPAWNPOOL_STORE_INTERNAL_H

#include <pthread.h>

#include "server/db.h"
#include "server/store.h"

enum stmt_id {
    ST_INSERT_JOB,
    ST_INSERT_EVENT,
    ST_RUNNING,
    ST_RESERVE,
    ST_INSERT_DEP,
    ST_IDEMPOTENT,
    ST_IDEMPOTENT_EXPIRE,
    ST_FINISH,
    ST_REQUEUE,
    ST_STATE_OF,
    ST_DELETE,
    ST_PATCH,
    ST_WAITING_ROW,
    ST_PROMOTE,
    ST_TERMINATE_ASKED,
    ST_SCHEDULE_PUT,
    ST_SCHEDULE_DELETE,
    ST_SCHEDULE_NEXT,
    ST_SCHEDULE_FIRED,
    ST_COUNT
};

struct store {
    struct db *db;
    struct db_stmt *stmt[ST_COUNT];
    int depth;
    bool tx_open;    /* BEGIN was issued in the current batch */
    bool pg;         /* the database is PostgreSQL (some writes differ: stmt_sql_pg) */
    bool any_notify; /* a job with notify_url exists: job ends look for a callback */
    bool failed;     /* the current batch failed: it writes nothing more, only journals */
    /* The journal: every write of the batch as SQL with its values inlined. A batch that
     * cannot commit is rolled back and its journal replayed into the next transaction, until
     * one commits (commit or retry: memory, which went on, and SQLite never diverge). */
    char **journal;
    size_t n_journal, cap_journal;
    int64_t retry_at;   /* monotonic ms: the next attempt at a waiting journal */
    int64_t backoff_ms; /* doubles per failed attempt, 50 ms to 1 s */
    uint64_t failed_commits;
    int64_t failing_since; /* monotonic ms the journal first waited; 0: none waits */
    int64_t logged_at;     /* monotonic ms of the last "still failing" log line */
    char last_error[200];  /* why the last attempt failed */
    bool unjournaled;      /* a submit's writes: never replayed (refused if its batch fails) */
    bool wrote;            /* the current batch meant to write (store_tx_begin was called) */
    bool attempted;        /* ... and tried to (BEGIN): not a batch that only journals */
    /* store_read.c: the read connections */
    struct store_reading *reading;
    /* store_clean.c: its statements, prepared on first use */
    struct store_cleaning *cleaning;
    /* store_nodes.c: this node, and its lease */
    char node[64];         /* "" until registered */
    char url[256];         /* the URL it advertises */
    int64_t epoch;         /* its lease epoch */
    bool fence;            /* writes about a job carry the lease (off while recovering) */
    char *target;          /* the database (a file, or a PostgreSQL URL) */
    struct db *claimer;    /* PostgreSQL: the connection that claims jobs (store_claim.c) */
    char claim_error[256]; /* why the last claim failed (CLAIM_FAILED) */
    struct db *listener;   /* PostgreSQL: the connection that hears the other nodes */
    char *notes;           /* PostgreSQL: what the batch tells the other nodes, a line each, */
    size_t notes_len;      /* sent at its commit in as few pg_notify calls as fit (kept until */
    size_t notes_cap;      /* a commit carries them) */
    /* store_checkpoint.c: the thread that checkpoints the WAL */
    struct store_checkpointer *checkpointer;
};

/* store_nodes.c: sends the batch's notes (store_notify) in its transaction; 0, or -1 (the
 * batch failed). They are forgotten once it commits. */
int store_notes_send(struct store *s);

/* Logs a failed statement and marks the transaction failed; returns -1. */
int store_fail(struct store *s, const char *what);
/* After a read-only accessor: clears a failure outside a transaction. */
void store_read_done(struct store *s);
/* A prepared statement, reset and with its bindings cleared. */
struct db_stmt *store_stmt(struct store *s, enum stmt_id id);
/* Binds text, or NULL when v is NULL. */
void store_bind_text(struct db_stmt *st, int i, const char *v);
/* Binds an integer, or NULL when v < 0. */
void store_bind_int(struct db_stmt *st, int i, int64_t v);
/* store_begin, and BEGIN IMMEDIATE on the first write of the batch (replaying a waiting
 * journal first). */
void store_tx_begin(struct store *s);
/* Runs the bound write statement st in the batch's transaction and journals it; once the
 * batch failed it only journals it (nothing is ever written in autocommit). *changes (if
 * not NULL) gets the rows it changed, 1 when only journaled. Returns 0 or -1. */
int store_write(struct store *s, struct db_stmt *st, const char *what, int *changes);
/* Binds this node and its epoch to parameters i and i + 1 of a FENCE (server/store.c), or
 * leaves them NULL (no fence: recovering, or no node yet). */
void store_bind_fence(struct store *s, struct db_stmt *st, int i);
/* Records a state transition in job_events. Returns 0 or -1. */
int store_add_event(struct store *s, int64_t id, int64_t now, const char *from, const char *to,
                    const char *detail);

/* store_checkpoint.c: starts the thread that checkpoints the WAL of the database at path
 * (the writer's commits no longer do). 0, or -1 with a message in err. */
int store_checkpoint_start(struct store *s, const char *path, char *err, size_t errlen);
/* Stops it (store_close, before the writer's connection closes). */
void store_checkpoint_stop(struct store *s);
/* Finalizes store_clean.c's statements (store_close). */
void store_clean_close(struct store *s);

/* Queues job id's notify_url callback (if it has one), due at now. */
void store_notify_due(struct store *s, int64_t id, int64_t now);

/* store_read.c. The thread that calls store_open is the writer: its reads go through the
 * write connection (seeing its own uncommitted writes); any other thread reads through a
 * read-only connection of its own. The write connection has no lock: no other thread
 * touches it. */
/* Sets up reading for s (path: its database); the calling thread is the writer. 0, or -1 (err). */
int store_read_open(struct store *s, const char *path, char *err, size_t errlen);
/* Closes every read connection and finalizes the read statements; no thread may read any more. */
void store_read_close(struct store *s);

/* The filters a listing's shape combines (server/store_list.c): STATE and STATES exclude
 * each other, as do NAME and NAME_PREFIX. */
enum {
    LIST_STATE = 1 << 0,  /* state = one */
    LIST_STATES = 1 << 1, /* state IN (two or more) */
    LIST_QUEUE = 1 << 2,
    LIST_NAME = 1 << 3,        /* name = */
    LIST_NAME_PREFIX = 1 << 4, /* name starts with */
    LIST_RERUN_OF = 1 << 5,
    LIST_CREATED_AFTER = 1 << 6,
    LIST_CREATED_BEFORE = 1 << 7,
    LIST_FINISHED_AFTER = 1 << 8,
    LIST_BEFORE = 1 << 9, /* id < */
    LIST_SCHEDULE = 1 << 10,
    LIST_SHAPES = 1 << 11
};
/* The read statements; a listing and an event read have one per combination of filters. */
enum read_stmt {
    RS_GET_JOB,
    RS_GET_JOB_STDIN,
    RS_EXISTS,
    RS_DEPS,
    RS_DEPENDENTS,
    RS_LAST_EVENT,
    RS_COUNT_EVENTS,
    RS_QUEUE_COUNTS,
    RS_QUEUE_SETTINGS,
    RS_GROUP_MEMBERS,
    RS_NOTIFICATIONS_DUE,
    RS_SCHEDULES,    /* every schedule, by name */
    RS_SCHEDULE_ONE, /* one, by name */
    RS_EVENT_IDS,    /* PostgreSQL: the ids after one, for the gaps of transactions in progress */
    RS_OUTPUT_CHUNK, /* store_output.c: the chunk that holds an offset */
    RS_OUTPUT_END,   /* ... and the last chunk of a stream */
    RS_LIST,         /* + a shape (LIST_* bits): LIST_SHAPES statements */
    RS_EVENTS = RS_LIST + LIST_SHAPES, /* + EVENTS_* bits: 4 statements */
    RS_COUNT = RS_EVENTS + 4
};
enum { EVENTS_JOB = 1, EVENTS_QUEUE = 2 };

/* The columns store_read_job_row reads, in its order (JOB_COLUMNS_N of them). */
#define JOB_COLUMNS                                                                                \
    "id, name, queue, priority, argv, command, env, cwd, timeout, state, exit_code, signal, "      \
    "error, pid, worker, attempt, max_attempts, created_at, started_at, finished_at, "             \
    "stdout_bytes, stderr_bytes, truncated, task, params, concurrency_key, concurrency_limit, "    \
    "group_name, group_size, stdin_from, pipeline, notify_url, limits, idempotency_key, "          \
    "rerun_of, user_us, system_us, maxrss_kb, run_at, schedule, max_output, retry_backoff, "       \
    "usage_from, node, epoch, "                                                                    \
    "(SELECT group_concat(depends_on) FROM (SELECT depends_on FROM job_dependencies "              \
    "WHERE job_id = jobs.id ORDER BY depends_on) AS d)"
#define JOB_COLUMNS_N 46

/* Room for a read statement's SQL (the longest is a listing's with every filter). */
#define STORE_READ_SQL_MAX 2048

/* store_list.c. The shape of a listing: which filters it combines (LIST_* bits). */
int store_list_shape(const struct store_filter *f);
/* True if shape combines filters that can go together (not STATE with STATES, nor NAME
 * with NAME_PREFIX). */
bool store_list_shape_valid(int shape);
/* Writes the SQL of a listing of that shape, for a database of that kind, into buf (for
 * rd_stmt, and the plan test). */
void store_list_sql(enum db_kind kind, int shape, char *buf, size_t len);
/* store_read.c: reads a row selected with JOB_COLUMNS into j. 0, or -1 (unreadable; j is
 * freed). */
int store_read_job_row(struct db_stmt *st, struct job *j);

struct store_conn;
/* One read accessor's call: the connection it reads through and what it stepped. */
struct rd {
    struct store *s;
    struct store_conn *c; /* (store_conns.c) */
    bool writer;          /* the write connection (the main loop's thread) */
    struct db_stmt *used[4];
    int n_used;
};
/* Picks the calling thread's connection (store_conns.c). 0 or -1. */
int rd_begin(struct store *s, struct rd *r);
/* The connection r reads through (for a statement of its own, finalized before rd_end). */
struct db *rd_db(struct rd *r);
/* Logs a failed read. -1. */
int rd_log(struct rd *r, const char *what);
/* Logs a failed read that fails the writer's batch too (on the write connection). -1. */
int rd_fail(struct rd *r, const char *what);
/* Statement id (an enum read_stmt, plus its filter bits) of r's connection, prepared on its
 * first use, without bindings; NULL if it cannot be prepared (logged). Reset by rd_end. */
struct db_stmt *rd_stmt(struct rd *r, int id);
/* Ends the call: every statement it stepped is reset (no read transaction stays open). */
void rd_end(struct rd *r);

#endif
