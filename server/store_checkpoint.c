/* store_checkpoint: copies the WAL back into the database file from a thread of its own, with
 * a connection of its own, so the writer's commits never pay for it. SQLite would otherwise
 * checkpoint inside the commit that takes the WAL past 1000 pages: a write and fsync of every
 * page changed since, tens of ms on a slow disk, spent on the main loop while submits and
 * workers wait (deleting jobs in bulk crosses that mark every few slices). PASSIVE: it never
 * waits for the writer or a reader, and what it cannot copy now is copied next time. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/log.h"
#include "server/store_internal.h"

/* WAL pages after a commit that wake the checkpointer (SQLite's own default mark). */
#define CHECKPOINT_PAGES 1000
/* It also looks this often (ms), for WAL left over by a checkpoint a reader held back. */
#define CHECKPOINT_EVERY_MS 1000

struct store_checkpointer {
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool due, stop;
    bool failing; /* the last checkpoint failed (logged once until one works) */
};

/* The writer's WAL hook, after each commit: wakes the thread past the mark. */
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    struct store_checkpointer *c = ctx;
    if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&c->lock);
        c->due = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
    struct store_checkpointer *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += CHECKPOINT_EVERY_MS / 1000;
        while (!c->due && !c->stop)
            if (pthread_cond_timedwait(&c->wake, &c->lock, &until) != 0) break;
        c->due = false;
        if (c->stop) break;
        pthread_mutex_unlock(&c->lock);
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && !c->failing)
            log_warn("sqlite: a checkpoint failed (%s): the WAL grows until one works",
                     sqlite3_errmsg(c->db));
        else if (rc == SQLITE_OK && c->failing)
            log_info("sqlite: checkpoints work again");
        c->failing = rc != SQLITE_OK && rc != SQLITE_BUSY;
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int store_checkpoint_start(struct store *s, const char *path, char *err, size_t errlen)
{
    struct store_checkpointer *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s for checkpoints: %s", path,
                 c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto fail;
    }
    if (pthread_create(&c->thread, NULL, checkpointer, c) != 0) {
        snprintf(err, errlen, "pthread_create() failed while starting the checkpointer");
        goto fail;
    }
    /* from now on only the thread checkpoints (and the writer's close, the last one) */
    sqlite3_exec(db_sqlite(s->db), "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL);
    sqlite3_wal_hook(db_sqlite(s->db), wal_hook, c);
    s->checkpointer = c;
    return 0;
fail:
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return -1;
}

void store_checkpoint_stop(struct store *s)
{
    struct store_checkpointer *c = s->checkpointer;
    if (!c) return;
    sqlite3_wal_hook(db_sqlite(s->db), NULL, NULL);
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
    s->checkpointer = NULL;
}
