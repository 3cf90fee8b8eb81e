/* Unit tests for api/waiters.c, compiled in with stand-ins for MHD's suspend and resume
 * (they count calls per connection): the registration protocol of a long-poll, which holds
 * no lock across its store read. Each interleaving of "the job ends" (the finish hook) with
 * "read the job, then register" is played in order, in one thread:
 *  - the job ends between the read and the registration: the registration must say that a
 *    job ended since the read (a handler that registered without asking would sleep until
 *    its deadline: the lost wake-up), and resuming it then answers it exactly once;
 *  - it ends after the registration: the hook resumes it;
 *  - another job ends in between: the handler reads again, finds its job running, stays;
 *  - a hook and the handler's own resume do not resume it twice;
 *  - deadlines, event streams (any job) and shutdown. */
#include <stdarg.h>
#include <string.h>

#include "api/internal.h"
#include "check.h"
#include "server/clock.h"

/* A fake connection: how often MHD was asked to suspend and resume it. */
struct fake_conn {
    int suspended, resumed;
};

void MHD_suspend_connection(struct MHD_Connection *c)
{
    ((struct fake_conn *)(void *)c)->suspended++;
}

void MHD_resume_connection(struct MHD_Connection *c)
{
    ((struct fake_conn *)(void *)c)->resumed++;
}

/* api_long_poll_begin's error text (not called here). */
int api_fail(struct api_error *e, unsigned status, const char *code, const char *field,
             const char *fmt, ...)
{
    (void)e, (void)status, (void)code, (void)field, (void)fmt;
    return -1;
}

static struct waiter make_waiter(struct fake_conn *fc, int64_t job_id, int64_t in_ms)
{
    return (struct waiter){.conn = (struct MHD_Connection *)(void *)fc,
                           .job_id = job_id,
                           .deadline = clock_mono_ms() + in_ms};
}

/* The job ends after the handler read it and before it registered. */
static void test_end_between_read_and_registration(struct waiters *ws)
{
    struct fake_conn fc = {0};
    struct waiter w = make_waiter(&fc, 7, 60000);
    uint64_t gen = waiters_generation(ws);
    /* ... the handler reads job 7: running ... */
    waiters_job_finished(ws, 7); /* ... job 7's end is committed, the hook runs ... */
    bool changed = false;
    CHECK(waiters_add(ws, &w, gen, &changed));
    CHECK(changed); /* without this the waiter would sleep until its deadline */
    CHECK(w.listed);
    CHECK_EQ_INT(fc.suspended, 1);
    CHECK_EQ_INT(fc.resumed, 0);
    /* ... it reads job 7 again: ended, so it resumes itself ... */
    waiters_resume_now(ws, &w);
    CHECK(!w.listed && w.resumed);
    CHECK_EQ_INT(fc.resumed, 1);
    CHECK_EQ_INT(ws->count, 0);
    waiters_job_finished(ws, 7); /* a later hook finds nothing */
    CHECK_EQ_INT(fc.resumed, 1);
}

/* The job ends after the registration: the hook resumes the waiter. */
static void test_end_after_registration(struct waiters *ws)
{
    struct fake_conn fc = {0};
    struct waiter w = make_waiter(&fc, 8, 60000);
    uint64_t gen = waiters_generation(ws);
    bool changed = true;
    CHECK(waiters_add(ws, &w, gen, &changed));
    CHECK(!changed);             /* nothing ended: no second read */
    waiters_job_finished(ws, 9); /* another job: not this waiter's */
    CHECK(w.listed);
    CHECK_EQ_INT(fc.resumed, 0);
    waiters_job_finished(ws, 8);
    CHECK(!w.listed && w.resumed);
    CHECK_EQ_INT(fc.resumed, 1);
    waiters_resume_now(ws, &w); /* the handler's own resume comes too late: no second */
    CHECK_EQ_INT(fc.resumed, 1);
}

/* Another job ends between the read and the registration: the handler reads again, finds its
 * job still running, and stays registered until its own job ends. */
static void test_other_end_in_between(struct waiters *ws)
{
    struct fake_conn fc = {0};
    struct waiter w = make_waiter(&fc, 10, 60000);
    uint64_t gen = waiters_generation(ws);
    waiters_job_finished(ws, 11);
    bool changed = false;
    CHECK(waiters_add(ws, &w, gen, &changed));
    CHECK(changed);
    /* ... job 10 read again: running; nothing to do ... */
    CHECK(w.listed);
    waiters_job_finished(ws, 10);
    CHECK(!w.listed);
    CHECK_EQ_INT(fc.resumed, 1);
}

/* GET /v1/jobs/wait?ids=...: any of its ids; an event stream: any job at all. */
static void test_many_and_any(struct waiters *ws)
{
    struct fake_conn fm = {0}, fe = {0};
    int64_t ids[] = {20, 21, 22};
    struct waiter many = make_waiter(&fm, 0, 60000);
    many.ids = ids;
    many.n_ids = 3;
    struct waiter events = make_waiter(&fe, WAITER_ANY_JOB, 60000);
    bool changed;
    CHECK(waiters_add(ws, &many, waiters_generation(ws), &changed) && !changed);
    CHECK(waiters_add(ws, &events, waiters_generation(ws), &changed) && !changed);
    CHECK_EQ_INT(ws->count, 2);
    waiters_job_finished(ws, 5);
    CHECK(many.listed && !events.listed);
    waiters_job_finished(ws, 21);
    CHECK(!many.listed);
    CHECK_EQ_INT(fm.resumed, 1);
    CHECK_EQ_INT(fe.resumed, 1);
    CHECK_EQ_INT(ws->count, 0);
}

/* The main loop resumes what is past its deadline and says when the next one is due. */
static void test_deadlines(struct waiters *ws)
{
    struct fake_conn f1 = {0}, f2 = {0};
    struct waiter past = make_waiter(&f1, 30, -1), later = make_waiter(&f2, 31, 50000);
    bool changed;
    CHECK(waiters_add(ws, &past, waiters_generation(ws), &changed));
    CHECK(waiters_add(ws, &later, waiters_generation(ws), &changed));
    int64_t next = waiters_expire(ws);
    CHECK(!past.listed && past.resumed);
    CHECK(later.listed);
    CHECK(next > 0 && next <= 50000);
    waiters_forget(ws, &later); /* the request completed: unlisted, not resumed */
    CHECK(!later.listed && !later.resumed);
    CHECK_EQ_INT(f2.resumed, 0);
    CHECK_EQ_INT(waiters_expire(ws), -1);
}

/* Shutdown resumes everyone, and a registration after it is refused (nothing suspended). */
static void test_stop(struct waiters *ws)
{
    struct fake_conn f1 = {0}, f2 = {0};
    struct waiter w1 = make_waiter(&f1, 40, 60000), w2 = make_waiter(&f2, 41, 60000);
    bool changed;
    CHECK(waiters_add(ws, &w1, waiters_generation(ws), &changed));
    waiters_stop(ws);
    CHECK(!w1.listed && w1.resumed);
    CHECK(!waiters_add(ws, &w2, waiters_generation(ws), &changed));
    CHECK(!w2.listed);
    CHECK_EQ_INT(f2.suspended, 0);
}

int main(void)
{
    struct waiters ws;
    waiters_init(&ws);
    test_end_between_read_and_registration(&ws);
    test_end_after_registration(&ws);
    test_other_end_in_between(&ws);
    test_many_and_any(&ws);
    test_deadlines(&ws);
    test_stop(&ws);
    CHECK_EQ_INT(ws.count, 0);
    pthread_mutex_destroy(&ws.lock);
    return check_report();
}
