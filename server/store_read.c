/* store_read: the read accessors, and which connection each thread reads through.
 *
 * The writer is the thread that opened the store (the main loop runs on it). It reads
 * through the write connection, under the store's lock, so inside its batch it sees its own
 * uncommitted writes. Every other thread (the HTTP threads, the callback sender) reads
 * through a read-only connection of its own to the same WAL database: on its first read it
 * takes one from the idle ones (opened ahead at start by store_read_ahead, so the server's
 * fds do not change after it; one more is opened if none is left), and gives it back when
 * it exits (a pthread key's destructor); all are closed with the store. Such a reader never
 * takes the store's lock and never touches the writer's state: in WAL mode it sees the last
 * commit, whatever the writer holds meanwhile.
 *
 * Each connection prepares a statement once, on its first use (SQLITE_PREPARE_PERSISTENT).
 * Every accessor resets what it stepped before it returns, so no read transaction stays
 * open between calls: an open one would keep serving an old snapshot and keep checkpoints
 * from restarting the WAL, which would then grow without bound. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/log.h"
#include "server/store_internal.h"

/* How long a reader waits for a lock it needs (the WAL index while a checkpoint restarts
 * the WAL, a recovery): a read should wait a little rather than fail. */
#define READ_BUSY_MS 5000
/* Bytes of the database a reader maps rather than copies into its page cache: none. A map
 * saved 5-30% of a random read's cost, but every page a reader ever touched stayed in the
 * master's RSS (a count over a million queued jobs left it at 180 MiB against the 64 MiB
 * budget; 39 MiB without), per connection. The page cache (2 MiB a connection) serves the
 * hot rows either way. */
#ifndef READ_MMAP_BYTES
#define READ_MMAP_BYTES 0LL
#endif

/* The read statements; a listing and an event read have one per combination of filters. */
enum read_stmt {
    RS_GET_JOB,
    RS_GET_STDIN,
    RS_EXISTS,
    RS_DEPS,
    RS_DEPENDENTS,
    RS_LAST_EVENT,
    RS_COUNT_EVENTS,
    RS_QUEUE_COUNTS,
    RS_QUEUE_SETTINGS,
    RS_GROUP_MEMBERS,
    RS_NOTIFICATIONS_DUE,
    RS_LIST,                  /* + LIST_* bits: 16 statements */
    RS_EVENTS = RS_LIST + 16, /* + EVENTS_* bits: 4 statements */
    RS_COUNT = RS_EVENTS + 4
};
enum { LIST_STATE = 1, LIST_QUEUE = 2, LIST_NAME = 4, LIST_BEFORE = 8 };
enum { EVENTS_JOB = 1, EVENTS_QUEUE = 2 };

#define JOB_COLUMNS                                                                                \
    "id, name, queue, priority, argv, command, env, cwd, timeout, state, exit_code, signal, "      \
    "error, pid, worker, attempt, max_attempts, created_at, started_at, finished_at, "             \
    "stdout_bytes, stderr_bytes, truncated, task, params, concurrency_key, concurrency_limit, "    \
    "group_name, group_size, stdin_from, pipeline, notify_url, limits, idempotency_key, "          \
    "(SELECT group_concat(depends_on) FROM (SELECT depends_on FROM job_dependencies "              \
    "WHERE job_id = jobs.id ORDER BY depends_on))"

static const char *const fixed_sql[RS_LIST] = {
    [RS_GET_JOB] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?",
    [RS_GET_STDIN] = "SELECT stdin FROM jobs WHERE id = ?",
    [RS_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?",
    [RS_DEPS] = "SELECT j.id, j.state FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on "
                "WHERE d.job_id = ? AND j.state != 'succeeded' ORDER BY j.id",
    [RS_DEPENDENTS] = "SELECT d.job_id FROM job_dependencies d JOIN jobs j ON j.id = d.job_id "
                      "WHERE d.depends_on = ? AND j.state = 'queued' ORDER BY d.job_id",
    [RS_LAST_EVENT] = "SELECT coalesce(max(id), 0) FROM job_events",
    [RS_COUNT_EVENTS] = "SELECT count(*) FROM job_events WHERE job_id = ?",
    [RS_QUEUE_COUNTS] = "SELECT queue, sum(state = 'queued'), sum(state = 'running') FROM jobs "
                        "WHERE state IN ('queued', 'running') GROUP BY queue ORDER BY queue",
    [RS_QUEUE_SETTINGS] = "SELECT name, concurrency, paused FROM queues ORDER BY name",
    [RS_GROUP_MEMBERS] =
        "SELECT id FROM jobs WHERE group_name = ? AND state = 'queued' ORDER BY id",
    [RS_NOTIFICATIONS_DUE] = "SELECT job_id, url, attempts FROM notifications WHERE next_at <= ? "
                             "ORDER BY next_at LIMIT ?",
};

/* Writes statement id's SQL into buf. */
static void read_sql(int id, char *buf, size_t len)
{
    if (id < RS_LIST) {
        snprintf(buf, len, "%s", fixed_sql[id]);
    } else if (id < RS_EVENTS) {
        int f = id - RS_LIST;
        snprintf(buf, len,
                 "SELECT " JOB_COLUMNS " FROM jobs WHERE 1%s%s%s%s ORDER BY id DESC LIMIT :limit",
                 f & LIST_STATE ? " AND state = :state" : "",
                 f & LIST_QUEUE ? " AND queue = :queue" : "",
                 f & LIST_NAME ? " AND name = :name" : "",
                 f & LIST_BEFORE ? " AND id < :before" : "");
    } else {
        int f = id - RS_EVENTS;
        snprintf(buf, len,
                 "SELECT e.id, e.job_id, e.at, e.from_state, e.to_state, e.detail FROM job_events "
                 "e%s WHERE e.id > ?1%s%s ORDER BY e.id LIMIT ?4",
                 f & EVENTS_QUEUE ? " JOIN jobs j ON j.id = e.job_id" : "",
                 f & EVENTS_JOB ? " AND e.job_id = ?2" : "",
                 f & EVENTS_QUEUE ? " AND j.queue = ?3" : "");
    }
}

/* A connection and its read statements. */
struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[RS_COUNT];
    struct store_reading *owner; /* a reader's: the store it reads */
    struct store_conn *next;     /* a reader's: the next one, in all */
    struct store_conn *next_idle;
};

struct store_reading {
    char *path;
    pthread_t writer;     /* reads through the write connection */
    pthread_key_t key;    /* every other thread: its struct store_conn */
    pthread_mutex_t lock; /* guards the lists (a thread's first read and its exit only) */
    struct store_conn *all, *idle;
    struct store_conn wconn; /* the write connection's read statements (db: the store's) */
};

static void conn_finalize(struct store_conn *c)
{
    for (int i = 0; i < RS_COUNT; i++) {
        sqlite3_finalize(c->stmt[i]);
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
        sqlite3_close(c->db);
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
    int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    char pragmas[96];
    snprintf(pragmas, sizeof pragmas, "PRAGMA query_only = 1; PRAGMA mmap_size = %lld;",
             READ_MMAP_BYTES);
    /* the first statement is prepared now: that reads the schema, so the files a read needs
     * (the WAL, its index) are open from here on */
    char sql[1400];
    read_sql(RS_GET_JOB, sql, sizeof sql);
    if (sqlite3_open_v2(sr->path, &c->db, flags, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(c->db, READ_BUSY_MS) != SQLITE_OK ||
        sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[RS_GET_JOB], NULL) !=
            SQLITE_OK) {
        log_error("sqlite: opening a read connection to %s failed: %s", sr->path,
                  c->db ? sqlite3_errmsg(c->db) : "out of memory");
        conn_finalize(c);
        sqlite3_close(c->db);
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

/* One read accessor's call: the connection it reads through and what it stepped. */
struct rd {
    struct store *s;
    struct store_conn *c;
    bool writer; /* the write connection (the main loop's thread) */
    sqlite3_stmt *used[4];
    int n_used;
};

/* Picks the calling thread's connection. 0 or -1. */
static int rd_begin(struct store *s, struct rd *r)
{
    struct store_reading *sr = s->reading;
    memset(r, 0, sizeof *r);
    r->s = s;
    if (pthread_equal(pthread_self(), sr->writer)) {
        r->writer = true;
        r->c = &sr->wconn;
        return 0;
    }
    r->c = pthread_getspecific(sr->key);
    if (!r->c) r->c = reader_take(sr);
    return r->c ? 0 : -1;
}

/* Logs a failed read. -1. */
static int rd_log(struct rd *r, const char *what)
{
    log_error("sqlite: %s failed: %s", what, sqlite3_errmsg(r->c->db));
    return -1;
}

/* Logs a failed read that fails the writer's batch too (on the write connection). -1. */
static int rd_fail(struct rd *r, const char *what)
{
    return r->writer ? store_fail(r->s, what) : rd_log(r, what);
}

/* Statement id of r's connection, prepared on its first use, without bindings; NULL if it
 * cannot be prepared (logged). Reset by rd_end. */
static sqlite3_stmt *rd_stmt(struct rd *r, int id)
{
    sqlite3_stmt **st = &r->c->stmt[id];
    if (!*st) {
        char sql[1400];
        read_sql(id, sql, sizeof sql);
        if (sqlite3_prepare_v3(r->c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
            SQLITE_OK) {
            *st = NULL;
            rd_fail(r, "preparing a read");
            return NULL;
        }
    } else {
        sqlite3_reset(*st);
        sqlite3_clear_bindings(*st);
    }
    bool listed = false;
    for (int i = 0; i < r->n_used; i++)
        listed = listed || r->used[i] == *st;
    if (!listed && r->n_used < (int)(sizeof r->used / sizeof r->used[0]))
        r->used[r->n_used++] = *st;
    return *st;
}

/* Ends the call: every statement it stepped is reset (no read transaction stays open). */
static void rd_end(struct rd *r)
{
    for (int i = 0; i < r->n_used; i++)
        sqlite3_reset(r->used[i]);
    if (r->writer) {
        store_read_done(r->s);
    }
}

static char *column_strdup(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return NULL;
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static int column_blob(sqlite3_stmt *st, int i, struct strblob *b)
{
    int n = sqlite3_column_bytes(st, i);
    const void *p = sqlite3_column_blob(st, i);
    b->len = 0;
    b->data = malloc((size_t)n + 1);
    if (!b->data) return -1;
    if (n) memcpy(b->data, p, (size_t)n);
    b->data[n] = '\0';
    b->len = (size_t)n;
    return 0;
}

static int64_t column_int_or(sqlite3_stmt *st, int i, int64_t null_value)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? null_value : sqlite3_column_int64(st, i);
}

/* Reads "3,7,12" (NULL: none) into spec->after; false if out of memory or malformed. */
static bool read_id_list(const char *text, struct job_spec *spec)
{
    if (!text || !*text) return true;
    size_t n = 1;
    for (const char *c = text; *c; c++)
        n += *c == ',';
    if (!(spec->after = calloc(n, sizeof *spec->after))) return false;
    for (const char *p = text; *p;) {
        char *end;
        long long id = strtoll(p, &end, 10);
        if (end == p || id < 1 || (*end && *end != ',') || spec->n_after == n) return false;
        spec->after[spec->n_after++] = id;
        p = *end ? end + 1 : end;
    }
    return true;
}

/* Reads a row selected with JOB_COLUMNS. */
static int read_job_row(sqlite3_stmt *st, struct job *j)
{
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    j->spec.name = column_strdup(st, 1);
    j->spec.queue = column_strdup(st, 2);
    j->spec.priority = sqlite3_column_int64(st, 3);
    column_blob(st, 4, &j->spec.argv);
    j->spec.command = column_strdup(st, 5);
    column_blob(st, 6, &j->spec.env);
    j->spec.cwd = column_strdup(st, 7);
    j->spec.timeout = sqlite3_column_double(st, 8);
    const char *state = (const char *)sqlite3_column_text(st, 9);
    if (!state || job_state_parse(state, &j->state) < 0) j->state = JOB_LOST;
    j->exit_code = (int)column_int_or(st, 10, -1);
    j->signal = (int)column_int_or(st, 11, -1);
    j->error = column_strdup(st, 12);
    j->pid = column_int_or(st, 13, -1);
    j->worker = (int)column_int_or(st, 14, -1);
    j->attempt = (int)sqlite3_column_int(st, 15);
    j->spec.max_attempts = sqlite3_column_int(st, 16);
    j->created_at = sqlite3_column_int64(st, 17);
    j->started_at = column_int_or(st, 18, 0);
    j->finished_at = column_int_or(st, 19, 0);
    j->stdout_bytes = sqlite3_column_int64(st, 20);
    j->stderr_bytes = sqlite3_column_int64(st, 21);
    j->truncated = sqlite3_column_int(st, 22) != 0;
    j->spec.task = column_strdup(st, 23);
    j->spec.params = column_strdup(st, 24);
    j->spec.concurrency_key = column_strdup(st, 25);
    j->spec.concurrency_limit = (int)column_int_or(st, 26, 0);
    j->spec.group = column_strdup(st, 27);
    j->spec.group_size = (int)column_int_or(st, 28, 0);
    j->spec.stdin_from = column_int_or(st, 29, 0);
    j->spec.pipeline = column_strdup(st, 30);
    j->spec.notify_url = column_strdup(st, 31);
    /* limits that cannot be read must not become "none": the row is unreadable */
    bool limits_ok =
        job_limits_scan((const char *)sqlite3_column_text(st, 32), &j->spec.limits) == 0;
    j->spec.idempotency_key = column_strdup(st, 33);
    /* "after": its dependencies in id order, "3,7,12" */
    bool after_ok = read_id_list((const char *)sqlite3_column_text(st, 34), &j->spec);
    if (!j->spec.queue || !j->spec.argv.data || !j->spec.env.data || !j->spec.cwd || !limits_ok ||
        !after_ok) {
        job_free(j);
        return -1;
    }
    return 0;
}

int store_get_job(struct store *s, int64_t id, struct job *out, bool with_stdin)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, RS_GET_JOB);
    int rc = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            rc = 1;
        else if (step != SQLITE_ROW)
            rc = rd_fail(&r, "SELECT job");
        else
            rc = read_job_row(st, out);
        sqlite3_reset(st);
    }
    if (rc == 0 && with_stdin) {
        if (!(st = rd_stmt(&r, RS_GET_STDIN))) {
            rc = -1;
        } else {
            sqlite3_bind_int64(st, 1, id);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) > 0) {
                int n = sqlite3_column_bytes(st, 0);
                out->spec.stdin_data = malloc((size_t)n);
                if (out->spec.stdin_data) {
                    memcpy(out->spec.stdin_data, sqlite3_column_blob(st, 0), (size_t)n);
                    out->spec.stdin_len = (size_t)n;
                } else {
                    rc = -1;
                }
            }
        }
        if (rc < 0) job_free(out);
    }
    rd_end(&r);
    return rc;
}

int store_list_jobs(struct store *s, const struct store_filter *f, struct job **jobs, size_t *n)
{
    *jobs = NULL;
    *n = 0;
    if (f->limit <= 0) return -1;
    struct job *list = calloc((size_t)f->limit, sizeof *list);
    if (!list) return -1;
    struct rd r;
    if (rd_begin(s, &r) < 0) {
        free(list);
        return -1;
    }
    int mask = (f->state ? LIST_STATE : 0) | (f->queue ? LIST_QUEUE : 0) |
               (f->name ? LIST_NAME : 0) | (f->before > 0 ? LIST_BEFORE : 0);
    sqlite3_stmt *st = rd_stmt(&r, RS_LIST + mask);
    int rc = st ? 0 : -1;
    if (st) {
        if (f->state)
            sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":state"), f->state, -1,
                              SQLITE_STATIC);
        if (f->queue)
            sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":queue"), f->queue, -1,
                              SQLITE_STATIC);
        if (f->name)
            sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":name"), f->name, -1,
                              SQLITE_STATIC);
        if (f->before > 0)
            sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":before"), f->before);
        sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":limit"), f->limit);
    }
    while (rc == 0 && *n < (size_t)f->limit) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) break;
        if (step != SQLITE_ROW || read_job_row(st, &list[*n]) < 0) {
            rc = rd_fail(&r, "listing jobs");
            break;
        }
        (*n)++;
    }
    rd_end(&r);
    if (rc < 0) {
        for (size_t i = 0; i < *n; i++)
            job_free(&list[i]);
        free(list);
        *n = 0;
        return -1;
    }
    *jobs = list;
    return 0;
}

int store_job_deps(struct store *s, int64_t id, int64_t *culprit, enum job_state *culprit_state)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, RS_DEPS);
    int rc = DEPS_MET, step = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            enum job_state state = JOB_QUEUED;
            job_state_parse((const char *)sqlite3_column_text(st, 1), &state);
            if (job_state_terminal(state)) { /* ended, not succeeded: it never runs */
                *culprit = sqlite3_column_int64(st, 0);
                *culprit_state = state;
                rc = DEPS_FAILED;
                break;
            }
            rc = DEPS_PENDING;
        }
    }
    if (!st)
        rc = -1;
    else if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = rd_fail(&r, "SELECT dependencies");
    rd_end(&r);
    return rc;
}

/* Collects the first column of every row of st (bound) into *ids. 0, or -1 (out of memory,
 * or a failed step). */
static int collect_ids(struct rd *r, sqlite3_stmt *st, const char *what, int64_t **ids, size_t *n)
{
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *grown = realloc(*ids, (*n + 1) * sizeof **ids);
        if (!grown) return -1;
        *ids = grown;
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    return step == SQLITE_DONE ? 0 : rd_log(r, what);
}

int store_each_dependent(struct store *s, int64_t id, void (*fn)(void *ctx, int64_t dependent),
                         void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    int64_t *ids = NULL;
    size_t n = 0;
    sqlite3_stmt *st = rd_stmt(&r, RS_DEPENDENTS);
    int rc = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        rc = collect_ids(&r, st, "SELECT dependents", &ids, &n);
    }
    rd_end(&r);
    /* after the read: fn may write to the store */
    for (size_t i = 0; i < n; i++)
        fn(ctx, ids[i]);
    free(ids);
    return rc;
}

int64_t store_missing_job(struct store *s, const int64_t *ids, size_t n)
{
    if (n == 0) return 0;
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, RS_EXISTS);
    int64_t missing = st ? 0 : -1;
    for (size_t i = 0; i < n && !missing; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, ids[i]);
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            missing = ids[i];
        else if (step != SQLITE_ROW)
            missing = rd_log(&r, "SELECT job id");
    }
    rd_end(&r);
    return missing;
}

int store_each_queue_setting(struct store *s,
                             void (*fn)(void *ctx, const char *name, int concurrency, bool paused),
                             void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, RS_QUEUE_SETTINGS);
    int rc = -1, step = SQLITE_ERROR;
    if (st) {
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            fn(ctx, (const char *)sqlite3_column_text(st, 0),
               sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 1),
               sqlite3_column_int(st, 2) != 0);
        rc = step == SQLITE_DONE ? 0 : rd_log(&r, "SELECT queues");
    }
    rd_end(&r);
    return rc;
}

int store_queue_counts(struct store *s,
                       void (*fn)(void *ctx, const char *name, int64_t queued, int64_t running),
                       void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, RS_QUEUE_COUNTS);
    int rc = -1, step = SQLITE_ERROR;
    if (st) {
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
               sqlite3_column_int64(st, 2));
        rc = step == SQLITE_DONE ? 0 : rd_log(&r, "counting queues");
    }
    rd_end(&r);
    return rc;
}

int store_each_event(struct store *s, int64_t after_id, int64_t job_id, const char *queue,
                     int limit, void (*fn)(void *ctx, const struct store_event *e), void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st =
        rd_stmt(&r, RS_EVENTS + (job_id > 0 ? EVENTS_JOB : 0) + (queue ? EVENTS_QUEUE : 0));
    int n = -1, step = SQLITE_ERROR;
    if (st) {
        n = 0;
        sqlite3_bind_int64(st, 1, after_id);
        if (job_id > 0) sqlite3_bind_int64(st, 2, job_id);
        if (queue) sqlite3_bind_text(st, 3, queue, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, limit);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_event e = {sqlite3_column_int64(st, 0),
                                    sqlite3_column_int64(st, 1),
                                    sqlite3_column_int64(st, 2),
                                    (const char *)sqlite3_column_text(st, 3),
                                    (const char *)sqlite3_column_text(st, 4),
                                    (const char *)sqlite3_column_text(st, 5)};
            fn(ctx, &e);
            n++;
        }
        /* a failed step ends the read there: the rows given to fn stay given, the rest
         * comes with the next read */
        if (step != SQLITE_DONE) rd_log(&r, "reading events");
    }
    rd_end(&r);
    return n;
}

int64_t store_last_event(struct store *s)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, RS_LAST_EVENT);
    int64_t id = -1;
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        else
            rd_log(&r, "SELECT the last event");
    }
    rd_end(&r);
    return id;
}

int64_t store_count_events(struct store *s, int64_t job_id)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, RS_COUNT_EVENTS);
    int64_t n = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, job_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        else
            rd_log(&r, "counting events");
    }
    rd_end(&r);
    return n;
}

int store_each_group_member(struct store *s, const char *group, void (*fn)(void *ctx, int64_t id),
                            void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    int64_t *ids = NULL;
    size_t n = 0;
    sqlite3_stmt *st = rd_stmt(&r, RS_GROUP_MEMBERS);
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
        rc = collect_ids(&r, st, "SELECT group members", &ids, &n);
    }
    rd_end(&r);
    for (size_t i = 0; i < n; i++)
        fn(ctx, ids[i]); /* after the read: fn writes */
    free(ids);
    return rc;
}

int store_notifications_due(struct store *s, int64_t now, struct store_notification *out, int max)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    sqlite3_stmt *st = rd_stmt(&r, RS_NOTIFICATIONS_DUE);
    int n = -1, step = SQLITE_ERROR;
    if (st) {
        n = 0;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int(st, 2, max);
        while (n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
            out[n].job_id = sqlite3_column_int64(st, 0);
            snprintf(out[n].url, sizeof out[n].url, "%s", (const char *)sqlite3_column_text(st, 1));
            out[n].attempts = sqlite3_column_int(st, 2);
            n++;
        }
        if (n < max && step != SQLITE_DONE) n = rd_log(&r, "SELECT notifications");
    }
    rd_end(&r);
    return n;
}
