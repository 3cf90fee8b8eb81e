/* waiters: connections suspended in long-polls (wait, output follow, event streams). They hold
 * no thread; they are resumed when their job ends (dispatch's finish hook), at their deadline
 * (main loop), or at shutdown. MHD requires every one resumed before the daemon stops.
 *
 * No lock is held across a store read. A handler reads the generation (the count of job
 * ends the finish hook has seen), reads the job, and if it has not ended registers a waiter;
 * if the generation moved meanwhile it reads the job again and resumes itself if it ended.
 * No end is missed, because the finish hook runs only after the job's end is committed and
 * bumps the generation under the same lock it scans the waiters under. Take the hook call
 * of our job's end, and the registration's critical section (waiters_add):
 *  - the hook's section comes after the registration's: it finds the waiter and resumes it;
 *  - it comes before, and bumped the generation after the handler read it: the registration
 *    sees the generation changed, so the handler reads again after the hook's section, so
 *    after the commit (which comes before the hook), and sees the end;
 *  - it bumped the generation before the handler read it: the commit came before the
 *    handler's first read (a fresh WAL read transaction sees every earlier commit), which
 *    saw the end and answered at once.
 * The generation counts every job's end, so on a busy server the second read is often
 * for nothing; it is one point read, and only then. */
#include "api/internal.h"
#include "server/clock.h"

void waiters_init(struct waiters *ws)
{
    pthread_mutex_init(&ws->lock, NULL);
    ws->head = NULL;
    ws->count = 0;
    ws->stopping = false;
    atomic_init(&ws->ended, 0);
}

static void unlink_waiter(struct waiters *ws, struct waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        ws->head = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->listed = false;
    ws->count--;
}

static void resume(struct waiters *ws, struct waiter *w)
{
    unlink_waiter(ws, w);
    w->resumed = true;
    MHD_resume_connection(w->conn);
}

uint64_t waiters_generation(struct waiters *ws)
{
    return atomic_load(&ws->ended);
}

bool waiters_add(struct waiters *ws, struct waiter *w, uint64_t gen, bool *changed)
{
    pthread_mutex_lock(&ws->lock);
    if (ws->stopping) {
        pthread_mutex_unlock(&ws->lock);
        return false;
    }
    w->resumed = false;
    w->prev = NULL;
    w->next = ws->head;
    if (ws->head) ws->head->prev = w;
    ws->head = w;
    w->listed = true;
    ws->count++;
    MHD_suspend_connection(w->conn);
    *changed = atomic_load(&ws->ended) != gen;
    pthread_mutex_unlock(&ws->lock);
    return true;
}

void waiters_resume_now(struct waiters *ws, struct waiter *w)
{
    pthread_mutex_lock(&ws->lock);
    if (w->listed) resume(ws, w); /* else the hook, a deadline or shutdown did already */
    pthread_mutex_unlock(&ws->lock);
}

bool api_long_poll_begin(struct api *a, struct api_error *e)
{
    if (atomic_fetch_add(&a->long_polls, 1) < a->cfg->max_long_polls) return true;
    atomic_fetch_sub(&a->long_polls, 1);
    api_fail(e, 429, "too_many_long_polls", NULL,
             "%lld waits, output follows and event streams are open already "
             "(--max-long-polls); retry later",
             (long long)a->cfg->max_long_polls);
    return false;
}

void api_long_poll_end(struct api *a)
{
    atomic_fetch_sub(&a->long_polls, 1);
}

void waiters_forget(struct waiters *ws, struct waiter *w)
{
    pthread_mutex_lock(&ws->lock);
    if (w->listed) unlink_waiter(ws, w);
    pthread_mutex_unlock(&ws->lock);
}

void waiters_job_finished(void *ctx, int64_t job_id)
{
    struct waiters *ws = ctx;
    pthread_mutex_lock(&ws->lock);
    atomic_fetch_add(&ws->ended, 1); /* under the lock: see the top of this file */
    for (struct waiter *w = ws->head, *next; w; w = next) {
        next = w->next;
        bool match = w->job_id == job_id || w->job_id == WAITER_ANY_JOB;
        for (size_t i = 0; i < w->n_ids && !match; i++)
            match = w->ids[i] == job_id;
        if (match) resume(ws, w);
    }
    pthread_mutex_unlock(&ws->lock);
}

int64_t waiters_expire(struct waiters *ws)
{
    int64_t now = clock_mono_ms(), next = -1;
    pthread_mutex_lock(&ws->lock);
    for (struct waiter *w = ws->head, *nw; w; w = nw) {
        nw = w->next;
        if (w->deadline <= now)
            resume(ws, w);
        else if (next < 0 || w->deadline - now < next)
            next = w->deadline - now;
    }
    pthread_mutex_unlock(&ws->lock);
    return next;
}

void waiters_stop(struct waiters *ws)
{
    pthread_mutex_lock(&ws->lock);
    ws->stopping = true;
    while (ws->head)
        resume(ws, ws->head);
    pthread_mutex_unlock(&ws->lock);
}
