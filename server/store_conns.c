/* store_conns: which connection each thread reads through, and the read statements.
 *
 * The writer is the thread that opened the store (the main loop runs on it). It reads
 * through the write connection, so inside its batch it sees its own uncommitted writes.
 * Every other thread (the HTTP threads, the callback sender) reads through a read-only
 * connection of its own to the same WAL database: on its first read it takes one from the
 * idle ones (opened ahead at start by store_read_ahead, so the server's fds do not change
 * after it; one more is opened if none is left), and gives it back when it exits (a pthread
 * key's destructor); all are closed with the store. Such a reader never touches the writer's
 * state: in WAL mode it sees the last commit, whatever the writer holds meanwhile.
 *
 * Each connection prepares a statement once, on its first use (persistent).
 * Every accessor (store_read.c) resets what it stepped before it returns (rd_end), so no
 * read transaction stays open between calls: an open one would keep serving an old snapshot
 * and keep checkpoints from restarting the WAL, which would then grow without bound. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/store_internal.h"

/* How long a reader waits for a lock it needs (the WAL index while a checkpoint restarts
 * the WAL, a recovery): a read should wait a little rather than fail. */
#define READ_BUSY_MS 5000
/* A read failing for want of the database is logged at most this often (ms). */
#define READ_LOG_EVERY_MS 10000

#define SCHEDULE_COLUMNS                                                                           \
    "name, cron, timezone, job, overlap, paused, catch_up, created_at, updated_at, "               \
    "coalesce(next_run_at, 0), coalesce(last_run_at, 0), coalesce(last_job_id, 0), runs, skipped"

static const char *const fixed_sql[RS_LIST] = {
    [RS_GET_JOB] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?",
    /* (the job to run: its stdin in the same row, one round trip on PostgreSQL) */
    [RS_GET_JOB_STDIN] = "SELECT " JOB_COLUMNS ", stdin FROM jobs WHERE id = ?",
    [RS_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?",
    [RS_DEPS] = "SELECT j.id, j.state FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on "
                "WHERE d.job_id = ? AND j.state != 'succeeded' ORDER BY j.id",
    [RS_DEPENDENTS] = "SELECT d.job_id FROM job_dependencies d JOIN jobs j ON j.id = d.job_id "
                      "WHERE d.depends_on = ? AND j.state = 'queued' ORDER BY d.job_id",
    [RS_LAST_EVENT] = "SELECT coalesce(max(id), 0) FROM job_events",
    [RS_COUNT_EVENTS] = "SELECT count(*) FROM job_events WHERE job_id = ?",
    [RS_QUEUE_COUNTS] = "SELECT queue, sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), "
                        "sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END) FROM jobs "
                        "WHERE state IN ('queued', 'running') GROUP BY queue ORDER BY queue",
    [RS_QUEUE_SETTINGS] = "SELECT name, concurrency, paused FROM queues ORDER BY name",
    [RS_GROUP_MEMBERS] =
        "SELECT id FROM jobs WHERE group_name = ? AND state IN ('queued', 'scheduled') "
        "ORDER BY id",
    [RS_SCHEDULES] = "SELECT " SCHEDULE_COLUMNS " FROM schedules ORDER BY name",
    [RS_SCHEDULE_ONE] = "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE name = ?",
    /* (PostgreSQL only: job_output is migrations/postgresql/0002_output.sql's) */
    /* (the data only of a chunk that holds the offset: a follower that caught up with the
     * last chunk does not fetch it again at each look) */
    [RS_OUTPUT_CHUNK] = "SELECT pos, length(data), CASE WHEN pos + length(data) > ?4 THEN data END "
                        "FROM job_output WHERE job_id = ?1 AND attempt = ?2 AND stream = ?3 "
                        "AND pos <= ?4 ORDER BY pos DESC LIMIT 1",
    [RS_OUTPUT_END] =
        "SELECT pos + length(data), length(data) FROM job_output "
        "WHERE job_id = ?1 AND attempt = ?2 AND stream = ?3 ORDER BY pos DESC LIMIT 1",
    /* (several nodes: the node that ran the job sends its callback; a dead node's, any) */
    [RS_EVENT_IDS] = "SELECT id, written, CAST(extract(epoch FROM clock_timestamp()) * 1000 AS "
                     "BIGINT) FROM job_events WHERE id > ?1 ORDER BY id LIMIT ?2",
    [RS_NOTIFICATIONS_DUE] =
        "SELECT job_id, url, attempts FROM notifications WHERE next_at <= ?1 AND EXISTS (SELECT "
        "1 FROM jobs j WHERE j.id = notifications.job_id AND (j.node IS NULL OR j.node = ?3 OR "
        "EXISTS (SELECT 1 FROM nodes n WHERE n.name = j.node AND n.rescued_at IS NOT NULL))) "
        "ORDER BY next_at LIMIT ?2",
};

/* Writes statement id's SQL, for a database of that kind, into buf. */
static void read_sql(enum db_kind kind, int id, char *buf, size_t len)
{
    if (id < RS_LIST) {
        snprintf(buf, len, "%s", fixed_sql[id]);
    } else if (id < RS_EVENTS) {
        store_list_sql(kind, id - RS_LIST, buf, len);
    } else {
        int f = id - RS_EVENTS;
        snprintf(buf, len,
                 "SELECT e.id, e.job_id, e.at, e.from_state, e.to_state, e.detail FROM job_events "
                 "e%s WHERE e.id > ?%s%s%s ORDER BY e.id LIMIT ?",
                 f & EVENTS_QUEUE ? " JOIN jobs j ON j.id = e.job_id" : "",
                 f & EVENTS_JOB ? " AND e.job_id = ?" : "",
                 f & EVENTS_QUEUE ? " AND j.queue = ?" : "",
                 /* (several writers: only up to the first gap, store_each_event) */
                 kind == DB_POSTGRES ? " AND e.id <= ?" : "");
    }
}

/* A connection and its read statements. */
struct store_conn {
    struct db *db;
    struct db_stmt *stmt[RS_COUNT];
    struct store_reading *owner; /* a reader's: the store it reads */
    struct store_conn *next;     /* a reader's: the next one, in all */
    struct store_conn *next_idle;
};

struct store_reading {
    char *path;           /* the database: a file, or a PostgreSQL URL */
    pthread_t writer;     /* reads through the write connection */
    pthread_key_t key;    /* every other thread: its struct store_conn */
    pthread_mutex_t lock; /* guards the lists (a thread's first read and its exit only) */
    struct store_conn *all, *idle;
    struct store_conn wconn; /* the write connection's read statements (db: the store's) */
};

static void conn_finalize(struct store_conn *c)
{
    for (int i = 0; i < RS_COUNT; i++) {
        db_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
}

/* A reader's thread exited: its connection is idle again (no read transaction is open: every
 * accessor resets what it stepped), for the next thread that reads. */
static void reader_exit(void *v)
{
    struct store_conn *c = v;
    struct store_reading *sr = c->owner;
    pthread_mutex_lock(&sr->lock);
    c->next_idle = sr->idle;
    sr->idle = c;
    pthread_mutex_unlock(&sr->lock);
}

int store_read_open(struct store *s, const char *path, char *err, size_t errlen)
{
    struct store_reading *sr = calloc(1, sizeof *sr);
    if (!sr || !(sr->path = strdup(path))) {
        free(sr);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (pthread_key_create(&sr->key, reader_exit) != 0) {
        free(sr->path);
        free(sr);
        snprintf(err, errlen, "pthread_key_create() failed");
        return -1;
    }
    pthread_mutex_init(&sr->lock, NULL);
    sr->writer = pthread_self();
    sr->wconn.db = s->db;
    s->reading = sr;
    return 0;
}

void store_read_close(struct store *s)
{
    struct store_reading *sr = s->reading;
    if (!sr) return;
    /* no destructor runs for this key from now on: what is left is closed here (threads
     * that read and still live; none may read any more) */
    pthread_key_delete(sr->key);
    while (sr->all) {
        struct store_conn *c = sr->all;
        sr->all = c->next;
        conn_finalize(c);
        db_close(c->db);
        free(c);
    }
    conn_finalize(&sr->wconn);
    pthread_mutex_destroy(&sr->lock);
    free(sr->path);
    free(sr);
    s->reading = NULL;
}

/* Opens a read-only connection, listed in all (not idle). NULL if it cannot (logged). */
static struct store_conn *reader_open(struct store_reading *sr)
{
    struct store_conn *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("out of memory while opening a read connection");
        return NULL;
    }
    /* the first statement is prepared now: with SQLite that reads the schema,
     * so the files a read needs (the WAL, its index) are open from here on */
    char sql[STORE_READ_SQL_MAX], err[256];
    struct db *db = NULL;
    if (db_open(&db, sr->path, DB_READONLY, err, sizeof err) < 0) {
        static struct log_every every;
        unsigned long dropped;
        if (log_every(&every, READ_LOG_EVERY_MS, &dropped))
            log_error("opening a read connection failed: %s (%lu more such failures since the "
                      "last such line)",
                      err, dropped);
        free(c);
        return NULL;
    }
    c->db = db;
    db_set_busy_ms(c->db, READ_BUSY_MS);
    read_sql(db_kind(db), RS_GET_JOB, sql, sizeof sql);
    if (db_prepare(c->db, sql, true, &c->stmt[RS_GET_JOB]) < 0) {
        log_error("preparing a read failed: %s", db_errmsg(c->db));
        conn_finalize(c);
        db_close(c->db);
        free(c);
        return NULL;
    }
    c->owner = sr;
    pthread_mutex_lock(&sr->lock);
    c->next = sr->all;
    sr->all = c;
    pthread_mutex_unlock(&sr->lock);
    return c;
}

int store_read_ahead(struct store *s, int n)
{
    struct store_reading *sr = s->reading;
    for (int i = 0; i < n; i++) {
        struct store_conn *c = reader_open(sr);
        if (!c) return -1;
        reader_exit(c); /* idle */
    }
    return 0;
}

/* The calling thread's reader: an idle one, or a new one. NULL if it cannot (logged). */
static struct store_conn *reader_take(struct store_reading *sr)
{
    pthread_mutex_lock(&sr->lock);
    struct store_conn *c = sr->idle;
    if (c) sr->idle = c->next_idle;
    pthread_mutex_unlock(&sr->lock);
    if (!c && !(c = reader_open(sr))) return NULL;
    if (pthread_setspecific(sr->key, c) != 0) { /* only out of memory */
        log_error("pthread_setspecific() failed: no read connection for this thread");
        reader_exit(c);
        return NULL;
    }
    return c;
}

/* Picks the calling thread's connection. 0 or -1. */
/* The calling thread's last read failed because the database could not be reached. */
static __thread bool read_unreachable;

bool store_read_unreachable(void)
{
    return read_unreachable;
}

int rd_begin(struct store *s, struct rd *r)
{
    struct store_reading *sr = s->reading;
    memset(r, 0, sizeof *r);
    read_unreachable = false;
    r->s = s;
    if (pthread_equal(pthread_self(), sr->writer)) {
        r->writer = true;
        r->c = &sr->wconn;
        return 0;
    }
    r->c = pthread_getspecific(sr->key);
    if (!r->c) r->c = reader_take(sr);
    if (!r->c) read_unreachable = true; /* (a new connection could not be opened) */
    return r->c ? 0 : -1;
}

struct db *rd_db(struct rd *r)
{
    return r->c->db;
}

/* Logs a failed read. -1. One that failed because the database cannot be reached (down,
 * restarting) is logged once per READ_LOG_EVERY_MS with the count since: every request fails
 * alike meanwhile, and answers 503 (store_read_unreachable). */
int rd_log(struct rd *r, const char *what)
{
    if (!db_error_transient(r->c->db)) {
        log_error("database: %s failed: %s", what, db_errmsg(r->c->db));
        return -1;
    }
    read_unreachable = true;
    static struct log_every every;
    unsigned long dropped;
    if (log_every(&every, READ_LOG_EVERY_MS, &dropped))
        log_error("database: %s failed: %s (reads answer 503 meanwhile; %lu more failed reads "
                  "since the last such line)",
                  what, db_errmsg(r->c->db), dropped);
    return -1;
}

/* Logs a failed read that fails the writer's batch too (on the write connection). -1. */
int rd_fail(struct rd *r, const char *what)
{
    return r->writer ? store_fail(r->s, what) : rd_log(r, what);
}

/* Statement id of r's connection, prepared on its first use, without bindings; NULL if it
 * cannot be prepared (logged). Reset by rd_end. */
struct db_stmt *rd_stmt(struct rd *r, int id)
{
    struct db_stmt **st = &r->c->stmt[id];
    if (!*st) {
        char sql[STORE_READ_SQL_MAX];
        read_sql(db_kind(r->c->db), id, sql, sizeof sql);
        if (db_prepare(r->c->db, sql, true, st) < 0) {
            *st = NULL;
            rd_fail(r, "preparing a read");
            return NULL;
        }
    } else {
        db_clear(*st);
    }
    bool listed = false;
    for (int i = 0; i < r->n_used; i++)
        listed = listed || r->used[i] == *st;
    if (!listed && r->n_used < (int)(sizeof r->used / sizeof r->used[0]))
        r->used[r->n_used++] = *st;
    return *st;
}

/* Ends the call: every statement it stepped is reset (no read transaction stays open). */
void rd_end(struct rd *r)
{
    for (int i = 0; i < r->n_used; i++)
        db_reset(r->used[i]);
    if (r->writer) {
        store_read_done(r->s);
    }
}
