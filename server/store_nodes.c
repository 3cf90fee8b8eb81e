/* store_nodes: the nodes that share the store. Each node registers (a row of nodes, its lease
 * epoch one more than the last time that name registered) and renews its heartbeat about
 * every second; one whose heartbeat is older than the node timeout is declared dead by
 * another (its epoch moved on, so its fenced writes touch nothing) and its jobs are recovered.
 * Times are the database's clock on PostgreSQL (the nodes' clocks may disagree), the
 * server's on SQLite (one machine). These run outside the main loop's batches, each in
 * autocommit or a transaction of its own, on the writer's connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/clock.h"
#include "server/log.h"
#include "server/store_internal.h"

/* A notification's payload at most (PostgreSQL carries 8000 bytes, with the node's name). */
#define NOTE_MAX 7800

/* Now in wall ms, as SQL: the database's clock on PostgreSQL; on SQLite the parameter ?9. */
static const char *now_sql(struct store *s)
{
    return db_kind(s->db) == DB_POSTGRES
               ? "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)"
               : "CAST(?9 AS BIGINT)";
}

/* Prepares sql on db with every "NOW" in it replaced by now_sql (and ?9 bound on SQLite). */
static struct db_stmt *prepare_on(struct store *s, struct db *db, const char *sql)
{
    char buf[1024];
    size_t n = 0;
    const char *now = now_sql(s);
    for (const char *p = sql; *p && n + 80 < sizeof buf;) {
        if (strncmp(p, "NOW", 3) == 0) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", now);
            p += 3;
        } else {
            buf[n++] = *p++;
        }
    }
    buf[n] = '\0';
    struct db_stmt *st;
    if (db_prepare(db, buf, false, &st) < 0) {
        log_error("database: preparing %.60s... failed: %s", sql, db_errmsg(db));
        return NULL;
    }
    if (db_kind(db) == DB_SQLITE) db_bind_int(st, 9, clock_wall_ms());
    return st;
}

/* prepare_on the writer's connection. */
static struct db_stmt *prepare_now(struct store *s, const char *sql)
{
    return prepare_on(s, s->db, sql);
}

const char *store_node_name(const struct store *s)
{
    return s->node;
}

int64_t store_node_epoch(const struct store *s)
{
    return s->epoch;
}

int store_node_register(struct store *s, const char *name, const char *url, const char *version)
{
    char again[64], again_url[256];
    if (!name) { /* (again: the same name and URL) */
        snprintf(again, sizeof again, "%s", s->node);
        snprintf(again_url, sizeof again_url, "%s", s->url);
        name = again;
        url = again_url;
    }
    struct db_stmt *st = prepare_now(
        s, "INSERT INTO nodes (name, url, started_at, heartbeat_at, version, epoch) "
           "VALUES (?1, ?2, NOW, NOW, ?3, 1) ON CONFLICT (name) DO UPDATE SET url = ?2, "
           "started_at = NOW, heartbeat_at = NOW, version = ?3, epoch = nodes.epoch + 1, "
           "rescued_at = NULL RETURNING epoch");
    if (!st) return -1;
    db_bind_text(st, 1, name);
    db_bind_text(st, 2, url);
    db_bind_text(st, 3, version);
    int rc = -1;
    if (db_step(st) == DB_ROW) {
        s->epoch = db_col_int(st, 0);
        snprintf(s->node, sizeof s->node, "%s", name);
        snprintf(s->url, sizeof s->url, "%s", url);
        s->fence = true;
        rc = 0;
    } else {
        log_error("database: registering node %s failed: %s", name, db_errmsg(s->db));
    }
    db_finalize(st);
    if (rc == 0) store_notify(s, "n"); /* (a node alone holds jobs ahead: no longer) */
    return rc;
}

int store_node_in_use(struct store *s, const char *name, int64_t timeout_ms)
{
    /* its lease as it is now: none, rescued or out of date is free */
    int64_t first = -1, deadline = clock_mono_ms() + timeout_ms + 1000;
    bool said = false;
    for (;;) {
        struct db_stmt *st = prepare_now(s, "SELECT heartbeat_at, CASE WHEN rescued_at IS NULL "
                                            "AND heartbeat_at >= NOW - ?2 THEN 1 ELSE 0 END "
                                            "FROM nodes WHERE name = ?1");
        if (!st) return -1;
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, timeout_ms);
        int step = db_step(st);
        int64_t beat = step == DB_ROW ? db_col_int(st, 0) : 0;
        bool live = step == DB_ROW && db_col_int(st, 1) != 0;
        db_finalize(st);
        if (step == DB_ERROR) return -1;
        if (!live) return 0;
        if (first >= 0 && beat != first) return 1; /* renewed meanwhile: another server has it */
        if (first < 0) first = beat;
        if (clock_mono_ms() >= deadline) return 0;
        if (!said)
            log_info("node %s: its lease is still live (a server of that name stopped within "
                     "the node timeout, or another one has the name): waiting up to %.0fs to see",
                     name, (double)timeout_ms / 1000);
        said = true;
        struct timespec pause = {0, 300 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

int store_node_set_url(struct store *s, const char *url)
{
    struct db_stmt *st;
    if (db_prepare(s->db, "UPDATE nodes SET url = ?2 WHERE name = ?1", false, &st) < 0) return -1;
    db_bind_text(st, 1, s->node);
    db_bind_text(st, 2, url);
    snprintf(s->url, sizeof s->url, "%s", url);
    int rc = db_step(st) == DB_DONE ? 0 : -1;
    db_finalize(st);
    return rc;
}

void store_node_release(struct store *s)
{
    struct db_stmt *st;
    if (!s->node[0] ||
        db_prepare(s->db, "UPDATE nodes SET heartbeat_at = 0 WHERE name = ?1 AND epoch = ?2", false,
                   &st) < 0)
        return;
    db_bind_text(st, 1, s->node);
    db_bind_int(st, 2, s->epoch);
    db_step(st);
    db_finalize(st);
}

int store_nodes_forget(struct store *s, int64_t after_ms)
{
    struct db_stmt *st = prepare_now(
        s, "DELETE FROM nodes WHERE rescued_at IS NOT NULL AND rescued_at < NOW - ?1 AND NOT "
           "EXISTS (SELECT 1 FROM jobs WHERE jobs.node = nodes.name AND jobs.state IN "
           "('queued', 'running'))");
    if (!st) return -1;
    db_bind_int(st, 1, after_ms);
    int rc = db_step(st) == DB_DONE ? db_changes(s->db) : -1;
    db_finalize(st);
    return rc;
}

int store_node_renew(struct store *s)
{
    struct db_stmt *st =
        prepare_now(s, "UPDATE nodes SET heartbeat_at = NOW WHERE name = ?1 AND epoch = ?2");
    if (!st) return -1;
    db_bind_text(st, 1, s->node);
    db_bind_int(st, 2, s->epoch);
    int rc = db_step(st) == DB_DONE ? (db_changes(s->db) == 1 ? 1 : 0) : -1;
    db_finalize(st);
    return rc;
}

int store_nodes_alive(struct store *s, int64_t timeout_ms)
{
    struct db_stmt *st = prepare_now(s, "SELECT count(*) FROM nodes WHERE rescued_at IS NULL "
                                        "AND heartbeat_at >= NOW - ?1");
    if (!st) return -1;
    db_bind_int(st, 1, timeout_ms);
    int n = db_step(st) == DB_ROW ? (int)db_col_int(st, 0) : -1;
    db_finalize(st);
    return n;
}

int store_nodes_dead(struct store *s, int64_t timeout_ms, struct store_dead_node *out, int max)
{
    struct db_stmt *st = prepare_now(s, "SELECT name, epoch FROM nodes WHERE name <> ?1 AND "
                                        "rescued_at IS NULL AND heartbeat_at < NOW - ?2 "
                                        "ORDER BY name LIMIT ?3");
    if (!st) return -1;
    db_bind_text(st, 1, s->node);
    db_bind_int(st, 2, timeout_ms);
    db_bind_int(st, 3, max);
    int n = 0, step;
    while (n < max && (step = db_step(st)) == DB_ROW) {
        snprintf(out[n].name, sizeof out[n].name, "%s", db_col_text(st, 0));
        out[n].epoch = db_col_int(st, 1);
        n++;
    }
    db_finalize(st);
    return n;
}

int store_node_rescue(struct store *s, const struct store_dead_node *dead, int64_t timeout_ms,
                      int64_t now, int64_t (*retry_delay_ms)(double backoff, int attempt),
                      struct store_recovery *r)
{
    if (db_begin(s->db) < 0) return -1;
    /* the one node that moves the dead node's epoch on does the rescue; a node that came
     * back meanwhile (a fresh heartbeat) is not dead */
    struct db_stmt *st = prepare_now(s, "UPDATE nodes SET epoch = epoch + 1, rescued_at = NOW "
                                        "WHERE name = ?1 AND epoch = ?2 AND rescued_at IS NULL "
                                        "AND heartbeat_at < NOW - ?3");
    int won = -1;
    if (st) {
        db_bind_text(st, 1, dead->name);
        db_bind_int(st, 2, dead->epoch);
        db_bind_int(st, 3, timeout_ms);
        if (db_step(st) == DB_DONE) won = db_changes(s->db) == 1;
        db_finalize(st);
    }
    if (won != 1) {
        db_exec(s->db, "ROLLBACK");
        return won;
    }
    db_exec(s->db, "COMMIT"); /* (the epoch moved on: whatever follows, it is fenced) */
    r->node = dead->name;
    r->started_known = false; /* its start ledger is on its own disk */
    int rc = store_recover(s, now, retry_delay_ms, r);
    return rc < 0 ? -1 : 1;
}

int store_each_node(struct store *s, int64_t timeout_ms,
                    void (*fn)(void *ctx, const struct store_node *n), void *ctx)
{
    struct rd r;
    if (rd_begin(s, &r) < 0) return -1;
    struct db_stmt *st = prepare_on(
        s, rd_db(&r),
        "SELECT n.name, n.url, n.version, n.started_at, n.heartbeat_at, n.epoch, "
        "n.rescued_at, CASE WHEN n.rescued_at IS NULL AND n.heartbeat_at >= NOW - ?1 THEN 1 "
        "ELSE 0 END, (SELECT count(*) FROM jobs j WHERE j.node = n.name AND j.state = "
        "'running') FROM nodes n ORDER BY n.name");
    if (!st) {
        rd_log(&r, "preparing the nodes' read"); /* (unreachable: the API says 503) */
        rd_end(&r);
        return -1;
    }
    db_bind_int(st, 1, timeout_ms);
    int count = 0, step;
    while ((step = db_step(st)) == DB_ROW) {
        struct store_node n = {.name = db_col_text(st, 0),
                               .url = db_col_text(st, 1),
                               .version = db_col_text(st, 2),
                               .started_at = db_col_int(st, 3),
                               .heartbeat_at = db_col_int(st, 4),
                               .epoch = db_col_int(st, 5),
                               .rescued_at = db_col_null(st, 6) ? 0 : db_col_int(st, 6),
                               .alive = db_col_int(st, 7) != 0,
                               .running = db_col_int(st, 8)};
        fn(ctx, &n);
        count++;
    }
    if (step != DB_DONE) rd_log(&r, "SELECT nodes");
    db_finalize(st);
    rd_end(&r);
    return step == DB_DONE ? count : -1;
}

/* One pg_notify of "NODE " + lines (a node skips its own); 0, or -1 (store_fail). */
static int notify_now(struct store *s, const char *lines, size_t len)
{
    struct db_stmt *st;
    if (db_prepare(s->db, "SELECT pg_notify('spawnpool', ?)", false, &st) < 0)
        return store_fail(s, "preparing a notification");
    char note[NOTE_MAX + 80];
    snprintf(note, sizeof note, "%s %.*s", s->node, (int)len, lines);
    db_bind_text(st, 1, note);
    int rc = db_step(st) == DB_ROW ? 0 : store_fail(s, "sending a notification");
    db_finalize(st);
    return rc;
}

void store_notify(struct store *s, const char *payload)
{
    if (db_kind(s->db) != DB_POSTGRES) return; /* (one node: nobody else to tell) */
    size_t n = strnlen(payload, NOTE_MAX - 1);
    if (s->depth == 0) { /* (outside a batch: now) */
        notify_now(s, payload, n);
        return;
    }
    if (s->notes_len + n + 1 > s->notes_cap) {
        size_t cap = s->notes_cap ? s->notes_cap * 2 : 4096;
        while (cap < s->notes_len + n + 1)
            cap *= 2;
        char *grown = realloc(s->notes, cap);
        if (!grown) { /* (out of memory: said now, in the batch's transaction all the same) */
            notify_now(s, payload, n);
            return;
        }
        s->notes = grown;
        s->notes_cap = cap;
    }
    memcpy(s->notes + s->notes_len, payload, n);
    s->notes[s->notes_len + n] = '\n';
    s->notes_len += n + 1;
}

int store_notes_send(struct store *s)
{
    /* lines gathered into notifications of at most NOTE_MAX bytes (PostgreSQL takes 8000) */
    size_t start = 0;
    while (start < s->notes_len) {
        size_t end = start, line;
        while (end < s->notes_len) {
            line = (size_t)((char *)memchr(s->notes + end, '\n', s->notes_len - end) - s->notes);
            if (line - start > NOTE_MAX && end > start) break;
            end = line + 1;
        }
        if (notify_now(s, s->notes + start, end - start - 1) < 0) return -1;
        start = end;
    }
    return 0;
}

void store_notify_jobs(struct store *s, const int64_t *ids, size_t n)
{
    if (db_kind(s->db) != DB_POSTGRES || n == 0) return;
    char payload[NOTE_MAX];
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (used == 0) used = (size_t)snprintf(payload, sizeof payload, "j ");
        used += (size_t)snprintf(payload + used, sizeof payload - used, "%s%lld",
                                 payload[used - 1] == ' ' ? "" : ",", (long long)ids[i]);
        if (used > sizeof payload - 32 || i + 1 == n) {
            store_notify(s, payload);
            used = 0;
        }
    }
}
