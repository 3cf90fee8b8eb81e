/* output_ship: on PostgreSQL, the output files of this node's jobs are copied into job_output
 * as they grow (migrations/postgresql/0002_output.sql), so any node serves a job's output
 * (api/output_chunks.c), live, and what a job wrote up to about a second before its node died
 * stays readable after.
 *
 * A thread of its own with a connection of its own: the main loop never waits for it, nor
 * for the database on its account. Every SHIP_EVERY_MS it reads which jobs this node runs, and
 * which ended lately, reads the new bytes of their files and inserts them as chunks (at most
 * CHUNK_MAX bytes each, contiguous from 0; never past the job's max_output, where the file is
 * capped anyway). A job that ended gets the rest of its file, then an end mark (a chunk with
 * no data at the file's final size). A retry's next attempt writes a new file (the dispatcher
 * unlinks the old one): the old attempt's rest is read through the descriptor held open, and
 * the new one is shipped as the next attempt. When the database is down it logs once and
 * tries again next time, from where it stopped (the held files keep their bytes).
 *
 * Which jobs: `node = this node` (the node that claimed the job), or no node at all (before a
 * node claims its jobs) when a file of the job is here. A job is looked at from the first read
 * that sees it running or ended (ended since the last good read, minus LOOKBACK_MS); how much
 * of it is stored already is read back first, so a restarted node goes on where it stopped. */
#include "server/output_ship.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/clock.h"
#include "server/db.h"
#include "server/job.h"
#include "server/log.h"

/* How often it ships: the bytes a reader on another node waits for, and what a node's
 * death may lose. */
#define SHIP_EVERY_MS 500
/* The largest chunk (bytes). */
#define CHUNK_MAX (256 * 1024)
/* Jobs that ended this long before the last good read are looked at too (clocks of one
 * node: finished_at is written by the node that ran the job). */
#define LOOKBACK_MS 2000

static const char *const stream_names[2] = {"stdout", "stderr"};

struct ship_stream {
    int fd;          /* the attempt's file, held open; -1: not open (yet) */
    int64_t shipped; /* bytes stored */
    bool known;      /* shipped was read from the database (what an earlier run stored) */
    bool done;       /* its end mark is stored, or there is nothing to ship (not here; gone) */
};

/* A job being shipped: one attempt of it. */
struct track {
    int64_t id, max_output;
    int attempt;
    bool mine; /* the row names this node (else none: a file here says it ran here) */
    bool seen; /* in this round's read */
    struct ship_stream st[2];
};

/* A row of the round's read. */
struct row {
    int64_t id, max_output;
    int attempt;
    bool ended, mine;
};

struct output_ship {
    const struct config *cfg;
    const struct dispatch *d;
    struct db *db;
    struct db_stmt *list, *insert, *end;
    struct track *t;
    size_t n, cap;
    struct row *rows;
    size_t cap_rows;
    unsigned char *buf;
    int64_t since; /* wall ms of the last good read (jobs that ended after it, less LOOKBACK_MS) */
    bool failing;  /* the last round failed (logged once until one works) */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

static const char list_sql[] =
    "SELECT id, attempt, state, coalesce(max_output, ?3), CASE WHEN node = ?1 THEN 1 ELSE 0 END "
    "FROM jobs WHERE node = ?1 AND (state = 'running' OR finished_at >= ?2) "
    "ORDER BY id";
static const char insert_sql[] =
    "INSERT INTO job_output (job_id, attempt, stream, pos, data) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT DO NOTHING";
static const char end_sql[] = "SELECT pos + length(data), length(data) FROM job_output "
                              "WHERE job_id = ?1 AND attempt = ?2 AND stream = ?3 "
                              "ORDER BY pos DESC LIMIT 1";

/* A round failed on a database error: logged once, until a round works again. -1. */
static int failed(struct output_ship *sh, const char *what)
{
    if (!sh->failing)
        log_warn("output shipping: %s failed: %s (other nodes see this node's job output "
                 "only up to here until it works again; retrying every %d ms)",
                 what, sh->db ? db_errmsg(sh->db) : "no connection", SHIP_EVERY_MS);
    sh->failing = true;
    return -1;
}

static void close_db(struct output_ship *sh)
{
    db_finalize(sh->list);
    db_finalize(sh->insert);
    db_finalize(sh->end);
    sh->list = sh->insert = sh->end = NULL;
    db_close(sh->db);
    sh->db = NULL;
}

/* The connection and its statements, opened on first need (and again after a failed open). */
static int connect_db(struct output_ship *sh)
{
    if (sh->db) return 0;
    char err[256];
    if (db_open(&sh->db, sh->cfg->database, 0, err, sizeof err) < 0) {
        sh->db = NULL;
        if (!sh->failing)
            log_warn("output shipping: connecting failed: %s (retrying every %d ms)", err,
                     SHIP_EVERY_MS);
        sh->failing = true;
        return -1;
    }
    if (db_prepare(sh->db, list_sql, true, &sh->list) < 0 ||
        db_prepare(sh->db, insert_sql, true, &sh->insert) < 0 ||
        db_prepare(sh->db, end_sql, true, &sh->end) < 0) {
        failed(sh, "preparing its statements");
        close_db(sh);
        return -1;
    }
    return 0;
}

static void close_stream(struct ship_stream *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}

/* Inserts bytes [pos, pos + n) of stream k (n 0: its end mark). 0; 1 if the job is gone (a
 * statement error: its row was deleted, so no chunk of it may be stored); -1 on a database
 * error a retry may get past. */
static int insert_chunk(struct output_ship *sh, const struct track *t, int k, int64_t pos, size_t n)
{
    struct db_stmt *st = sh->insert;
    db_clear(st);
    db_bind_int(st, 1, t->id);
    db_bind_int(st, 2, t->attempt);
    db_bind_text(st, 3, stream_names[k]);
    db_bind_int(st, 4, pos);
    db_bind_blob(st, 5, sh->buf, n);
    int rc = db_step(st);
    db_reset(st);
    if (rc == DB_DONE) return 0;
    if (db_error_transient(sh->db)) return failed(sh, "storing output");
    log_debug("output shipping: job %lld's output not stored (%s): it is gone", (long long)t->id,
              db_errmsg(sh->db));
    return 1;
}

/* Reads back how much of stream k of t's attempt is stored. 0 or -1. */
static int read_end(struct output_ship *sh, struct track *t, int k)
{
    struct ship_stream *s = &t->st[k];
    struct db_stmt *st = sh->end;
    db_clear(st);
    db_bind_int(st, 1, t->id);
    db_bind_int(st, 2, t->attempt);
    db_bind_text(st, 3, stream_names[k]);
    int rc = db_step(st);
    if (rc == DB_ROW) {
        s->shipped = db_col_int(st, 0);
        if (db_col_int(st, 1) == 0) s->done = true; /* its end mark */
    }
    db_reset(st);
    if (rc == DB_ERROR) return failed(sh, "reading what is stored");
    s->known = true;
    return 0;
}

/* Ships the new bytes of stream k of t's attempt; with final (the attempt ended) all of
 * them, then the end mark. open_ok: the file at its path is this attempt's (else only the
 * descriptor held open is read: a retry may have made a new file there). 0 or -1. */
static int ship_stream(struct output_ship *sh, struct track *t, int k, bool open_ok, bool final)
{
    struct ship_stream *s = &t->st[k];
    if (s->done) return 0;
    if (s->fd < 0 && open_ok) {
        char path[PATH_MAX + 32];
        dispatch_output_path(sh->d, t->id, stream_names[k], path, sizeof path);
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0 && errno != ENOENT)
            log_debug("output shipping: open() failed on %s: %s", path, strerror(errno));
    }
    if (s->fd < 0) { /* no file here: another node's job, or nothing written (yet): nothing
                      * to ship, nor to look up (a capture file is made on the first byte) */
        if (final) s->done = true;
        return 0;
    }
    if (!s->known && read_end(sh, t, k) < 0) return -1;
    while (!s->done && s->fd >= 0 && s->shipped < t->max_output) {
        int64_t room = t->max_output - s->shipped;
        size_t want = room < CHUNK_MAX ? (size_t)room : CHUNK_MAX;
        ssize_t n = pread(s->fd, sh->buf, want, (off_t)s->shipped);
        if (n <= 0) break; /* (an error reads as the end of what there is) */
        int rc = insert_chunk(sh, t, k, s->shipped, (size_t)n);
        if (rc < 0) return -1;
        if (rc > 0) s->done = true;
        s->shipped += n;
    }
    if (final && !s->done && s->shipped == 0) { /* nothing written: nothing to mark (a
                                                 * reader stops at the job's 0 bytes) */
        s->done = true;
    } else if (final && !s->done) {
        int rc = insert_chunk(sh, t, k, s->shipped, 0);
        if (rc < 0) return -1;
        s->done = true;
    }
    if (s->done) close_stream(s);
    return 0;
}

static struct track *find_track(struct output_ship *sh, int64_t id)
{
    for (size_t i = 0; i < sh->n; i++)
        if (sh->t[i].id == id) return &sh->t[i];
    return NULL;
}

/* t starts over with attempt (nothing of it known yet). */
static void reset_track(struct track *t, int attempt)
{
    for (int k = 0; k < 2; k++) {
        close_stream(&t->st[k]);
        t->st[k] = (struct ship_stream){.fd = -1};
    }
    t->attempt = attempt;
}

static struct track *add_track(struct output_ship *sh, const struct row *r)
{
    if (sh->n == sh->cap) {
        size_t cap = sh->cap ? 2 * sh->cap : 16;
        struct track *grown = realloc(sh->t, cap * sizeof *grown);
        if (!grown) return NULL;
        sh->t = grown;
        sh->cap = cap;
    }
    struct track *t = &sh->t[sh->n++];
    memset(t, 0, sizeof *t);
    t->id = r->id;
    t->st[0].fd = t->st[1].fd = -1;
    reset_track(t, r->attempt);
    return t;
}

/* Reads this round's rows into sh->rows; how many, or -1. */
static int read_rows(struct output_ship *sh)
{
    struct db_stmt *st = sh->list;
    db_clear(st);
    db_bind_text(st, 1, sh->cfg->node);
    db_bind_int(st, 2, sh->since - LOOKBACK_MS);
    db_bind_int(st, 3, sh->cfg->max_output);
    size_t n = 0;
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        if (n == sh->cap_rows) {
            size_t cap = sh->cap_rows ? 2 * sh->cap_rows : 64;
            struct row *grown = realloc(sh->rows, cap * sizeof *grown);
            if (!grown) break; /* (the rest next round) */
            sh->rows = grown;
            sh->cap_rows = cap;
        }
        enum job_state state = JOB_RUNNING;
        job_state_parse(db_col_text(st, 2), &state);
        sh->rows[n++] = (struct row){.id = db_col_int(st, 0),
                                     .attempt = (int)db_col_int(st, 1),
                                     .ended = job_state_terminal(state),
                                     .max_output = db_col_int(st, 3),
                                     .mine = db_col_int(st, 4) != 0};
    }
    db_reset(st);
    if (rc == DB_ERROR) return failed(sh, "reading this node's jobs");
    return (int)n;
}

/* One round. 0, or -1 when it stopped on a database error (the next round goes on). */
static int ship_round(struct output_ship *sh)
{
    if (connect_db(sh) < 0) return -1;
    int64_t now = clock_wall_ms();
    int n = read_rows(sh);
    if (n < 0) return -1;
    for (size_t i = 0; i < sh->n; i++)
        sh->t[i].seen = false;
    for (int i = 0; i < n; i++) {
        const struct row *r = &sh->rows[i];
        struct track *t = find_track(sh, r->id);
        if (t && t->attempt != r->attempt) { /* a retry: the old attempt's rest, its end */
            for (int k = 0; k < 2; k++)
                if (ship_stream(sh, t, k, false, true) < 0) return -1;
            reset_track(t, r->attempt);
        }
        if (!t && !(t = add_track(sh, r))) continue; /* (out of memory: next round) */
        t->seen = true;
        t->mine = r->mine;
        t->max_output = r->max_output;
        for (int k = 0; k < 2; k++)
            if (ship_stream(sh, t, k, true, r->ended) < 0) return -1;
    }
    /* jobs no longer listed: queued again for a retry, deleted, or ended long ago */
    for (size_t i = 0; i < sh->n;) {
        struct track *t = &sh->t[i];
        if (t->seen) {
            i++;
            continue;
        }
        for (int k = 0; k < 2; k++)
            if (ship_stream(sh, t, k, false, true) < 0) return -1;
        sh->t[i] = sh->t[--sh->n];
    }
    sh->since = now;
    if (sh->failing) log_info("output shipping works again");
    sh->failing = false;
    return 0;
}

static void *shipper(void *arg)
{
    struct output_ship *sh = arg;
    pthread_mutex_lock(&sh->lock);
    while (!sh->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)SHIP_EVERY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        while (!sh->stop)
            if (pthread_cond_timedwait(&sh->wake, &sh->lock, &until) != 0) break;
        pthread_mutex_unlock(&sh->lock);
        ship_round(sh); /* (also once more when told to stop: what was written meanwhile) */
        pthread_mutex_lock(&sh->lock);
    }
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

static void ship_free(struct output_ship *sh)
{
    for (size_t i = 0; i < sh->n; i++)
        reset_track(&sh->t[i], 0);
    close_db(sh);
    free(sh->t);
    free(sh->rows);
    free(sh->buf);
    pthread_cond_destroy(&sh->wake);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

int output_ship_start(struct output_ship **out, const struct config *cfg, const struct dispatch *d,
                      char *err, size_t errlen)
{
    *out = NULL;
    struct output_ship *sh = calloc(1, sizeof *sh);
    if (!sh) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&sh->lock, NULL);
    pthread_cond_init(&sh->wake, NULL);
    sh->cfg = cfg;
    sh->d = d;
    /* jobs that ended before this start and were not all shipped (those the startup
     * recovery just declared lost among them) are looked at once too */
    sh->since = clock_wall_ms() - 10 * 1000;
    if (!(sh->buf = malloc(CHUNK_MAX))) {
        snprintf(err, errlen, "out of memory");
        ship_free(sh);
        return -1;
    }
    /* connected now, not on the first round: the master's fds are as they stay from its
     * start (a failure is logged; the rounds try again) */
    connect_db(sh);
    if (pthread_create(&sh->thread, NULL, shipper, sh) != 0) {
        snprintf(err, errlen, "pthread_create() failed while starting the output shipper");
        ship_free(sh);
        return -1;
    }
    *out = sh;
    return 0;
}

void output_ship_stop(struct output_ship *sh)
{
    if (!sh) return;
    pthread_mutex_lock(&sh->lock);
    sh->stop = true;
    pthread_cond_signal(&sh->wake);
    pthread_mutex_unlock(&sh->lock);
    pthread_join(sh->thread, NULL);
    ship_free(sh);
}
