/* dispatch_timers: jobs that wait for a time of day rather than for a worker. A job
 * submitted with run_at (or delay) is `scheduled`: it waits in d->scheduled, a heap by its
 * run_at, and when that comes the main loop makes it queued (recorded, with an event) and
 * it waits like any job just submitted: for its dependencies, or in the ready heap. */
#include <stdio.h>

#include "server/clock.h"
#include "server/dispatch_internal.h"
#include "server/log.h"

/* Jobs made queued in one batch at most (a burst due at the same ms spreads over batches). */
#define PROMOTE_BATCH 2000

void dispatch_schedule_job(struct dispatch *d, int64_t id, int64_t run_at)
{
    /* the earliest run_at first: the heap pops the highest priority */
    if (runq_push(&d->scheduled, -run_at, id) < 0)
        log_error("out of memory while scheduling job %lld: it is queued after a restart",
                  (long long)id);
}

static void load_scheduled(void *ctx, int64_t id, int64_t run_at)
{
    dispatch_schedule_job(ctx, id, run_at);
}

int dispatch_load_scheduled(struct dispatch *d)
{
    return store_each_scheduled(d->store, load_scheduled, d);
}

/* Scheduled job id's time came: queued, and waiting the way a new job does. */
static void promote(struct dispatch *d, int64_t id, int64_t now)
{
    int64_t priority;
    bool has_deps;
    if (store_job_promote(d->store, id, now, &priority, &has_deps) != 0) return; /* canceled */
    dispatch_count(d, JOB_SCHEDULED, JOB_QUEUED);
    if (has_deps) {
        int64_t culprit;
        enum job_state culprit_state;
        int deps = store_job_deps(d->store, id, &culprit, &culprit_state);
        if (deps == DEPS_PENDING) { /* released when they end */
            d->any_after = true;
            return;
        }
        if (deps == DEPS_FAILED) {
            char why[160];
            snprintf(why, sizeof why, "dependency %lld ended %s", (long long)culprit,
                     job_state_name(culprit_state));
            dispatch_cancel_queued(d, id, why);
            return;
        }
        if (deps < 0) return; /* unreadable: looked at again after a restart */
    }
    runq_push_since(&d->ready, priority, id, clock_mono_us());
}

int64_t dispatch_fire_timers(struct dispatch *d, int64_t now)
{
    struct runq_entry e;
    for (int n = 0; runq_peek(&d->scheduled, &e); n++) {
        int64_t run_at = -e.priority;
        if (run_at > now) return run_at - now;
        if (n == PROMOTE_BATCH) return 0;     /* the rest in the next batch, right away */
        if (store_failed(d->store)) return 0; /* it reads no longer exactly: the next batch */
        runq_pop(&d->scheduled, &e);
        promote(d, e.id, now);
    }
    return -1;
}
