/* Unit tests for the store's read connections (server/store_conns.c, store_read.c): a
 * thread other than the writer reads the last commit at once while the writer holds a batch
 * open, and a reader still alive when the store closes loses its connection with it. */
#include <pthread.h>
#include <time.h>

#include "store_fixture.h"

/* What a thread other than the writer read. */
struct reader_arg {
    struct store *s;
    int64_t id;
    int rc;
    enum job_state state;
    int64_t events;
    /* both >= 0: after reading, it says so on ready_fd and waits for hold_fd to close */
    int ready_fd, hold_fd;
};

static void *read_in_thread(void *p)
{
    struct reader_arg *a = p;
    struct job j;
    a->rc = store_get_job(a->s, a->id, &j, false);
    if (a->rc == 0) {
        a->state = j.state;
        job_free(&j);
    }
    a->events = store_count_events(a->s, a->id);
    char c;
    if (a->hold_fd >= 0) {
        (void)!write(a->ready_fd, "r", 1);
        (void)!read(a->hold_fd, &c, 1);
    }
    return NULL;
}

/* Reads job id in another thread; false if it did not finish within 10 s. */
static bool read_elsewhere(struct reader_arg *a)
{
    pthread_t t;
    a->rc = -2;
    if (pthread_create(&t, NULL, read_in_thread, a) != 0) return false;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    if (pthread_timedjoin_np(t, NULL, &until) == 0) return true;
    fprintf(stderr, "the reader thread did not finish in 10 s\n");
    pthread_detach(t);
    return false;
}

/* Readers never wait for the writer: while the writer (this thread, which opened the store)
 * holds a batch open with a change not yet committed, another thread reads at once and sees
 * the last commit, and the writer sees its own change. */
static void test_readers(struct store *s)
{
    struct job_spec spec = make_spec("reader", "default", 0, true_cmd);
    int64_t id = insert_one(s, &spec, 30000);
    job_spec_free(&spec);
    store_begin(s);
    CHECK(store_job_running(s, id, 0, 1, 30001) == 0);
    CHECK_EQ_INT(state_of(s, id), JOB_RUNNING); /* the writer: its own write */
    CHECK_EQ_INT(store_count_events(s, id), 2);
    static struct reader_arg a; /* static: a thread that did not finish may still write it */
    a = (struct reader_arg){.s = s, .id = id, .ready_fd = -1, .hold_fd = -1};
    CHECK(read_elsewhere(&a)); /* did not wait for the batch */
    CHECK_EQ_INT(a.rc, 0);
    CHECK_EQ_INT(a.state, JOB_QUEUED); /* the last commit */
    CHECK_EQ_INT(a.events, 1);
    CHECK(store_commit(s) == 0);
    static struct reader_arg b;
    b = (struct reader_arg){.s = s, .id = id, .ready_fd = -1, .hold_fd = -1};
    CHECK(read_elsewhere(&b));
    CHECK_EQ_INT(b.rc, 0);
    CHECK_EQ_INT(b.state, JOB_RUNNING); /* committed now */
    CHECK_EQ_INT(b.events, 2);
    static struct reader_arg gone;
    gone = (struct reader_arg){.s = s, .id = 1 << 30, .ready_fd = -1, .hold_fd = -1};
    CHECK(read_elsewhere(&gone));
    CHECK_EQ_INT(gone.rc, 1);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(db_path, sizeof db_path, "%s/spawnpool.db", dir);
    struct store *s = open_store();
    test_readers(s);
    struct job_spec spec = make_spec("live", "default", 0, true_cmd);
    int64_t id = insert_one(s, &spec, 31000);
    job_spec_free(&spec);
    /* a reader thread still alive when the store closes: its connection goes with the store
     * (and nothing is left to its thread's exit) */
    int ready[2], hold[2];
    CHECK(pipe(ready) == 0 && pipe(hold) == 0);
    struct reader_arg live = {.s = s, .id = id, .ready_fd = ready[1], .hold_fd = hold[0]};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, read_in_thread, &live) == 0);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK_EQ_INT(live.rc, 0);
    store_close(s);
    close(hold[1]);
    CHECK(pthread_join(t, NULL) == 0);
    close(hold[0]);
    close(ready[0]);
    close(ready[1]);

    remove_dir(dir);
    return check_report();
}
