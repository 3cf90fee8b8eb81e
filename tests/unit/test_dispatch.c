/* Unit tests for the dispatcher (server/dispatch*.c) over a fake pool. The struct pool is
 * built by hand: its workers are child processes that only pause, and the test plays their
 * side of each channel (it reads the RUN and KILL frames the dispatcher writes, and writes
 * READY, STARTED and DONE). The rest is real: a store on a temporary database, the start
 * ledger, epoll, waitpid, tree_kill_slot (process-group mode: it walks /proc) and the respawn
 * (fork + exec of this binary, which answers READY in its "worker" mode). The test calls
 * what the main loop calls (dispatch_loop_begin, _worker_event, _reap, _end) and checks every
 * move of a job's phase and of a slot's state (server/dispatch_internal.h, pool/pool.h),
 * worker deaths in each phase, and runs every scenario twice: plainly, and with each batch
 * that carries a transition failing to commit once (an outside connection holds the write
 * lock). A failed batch must let nothing out (no RUN, no finish hook, no answer of a command
 * that wrote) and its retry must reach the same end state as the plain run. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pool/ledger.h"
#include "pool/pool.h"
#include "pool/proto.h"
#include "server/clock.h"
#include "server/config.h"
#include "server/dispatch_internal.h"
#include "server/store.h"
#include "server/store_internal.h" /* (only to shorten the busy timeout: see lock_db) */

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        check_count++;                                                                             \
        if (strcmp(check_a_, check_b_) != 0) {                                                     \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__,        \
                    __LINE__, #a, #b, check_a_, check_b_);                                         \
        }                                                                                          \
    } while (0)

#define SLOTS 3
#define TEXT 4096

/* One scenario's world. */
static struct {
    bool inject; /* every step's batch fails to commit once before its retry */
    char dir[64], db[128];
    struct config cfg;
    struct store *store;
    struct pool pool;
    int epfd;
    struct dispatch *d;
    int wfd[SLOTS];                /* the worker's end of each channel: the test plays it */
    struct proto_reader rd[SLOTS]; /* what the dispatcher wrote to it, not framed yet */
    char recent[SLOTS][TEXT];      /* frames each worker got since the last take() */
    char all[SLOTS][TEXT];         /* ... since the start */
    char finished[TEXT];           /* the finish hook's calls */
    int64_t fin_ids[64];           /* ... their ids */
    int n_fin;
    char answers[TEXT]; /* commands answered, in order */
    int wrote_answers;  /* answers of commands that wrote */
    pid_t strays[8];    /* processes a dead worker's job "left behind" */
    int n_strays;
    sqlite3 *outside; /* holds the write lock while set */
    char summary[4 * TEXT];
} W;

static const char *fmt(const char *f, ...)
{
    static char bufs[8][256];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, 256, f, ap);
    va_end(ap);
    return b;
}

static void append(char *text, const char *what)
{
    size_t n = strlen(text);
    snprintf(text + n, TEXT - n, "%s%s", n ? ", " : "", what);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        remove_tree(p);
    }
    closedir(dir);
    rmdir(path);
}

/* --- the worker's side --- */

/* A fake worker: a child in a process group of its own that pauses until it is killed.
 * Returns once the child has closed every fd it inherited (a copy of a channel's end would
 * keep the other end from seeing EOF). */
static pid_t fork_pauser(void)
{
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) {
        perror("pipe2");
        exit(2);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        setpgid(0, 0);
        unsigned keep = (unsigned)sync[1];
        close_range(3, keep - 1, 0);
        close_range(keep + 1, ~0U, 0);
        (void)!write((int)keep, "x", 1);
        close((int)keep);
        for (;;)
            pause();
    }
    setpgid(pid, pid);
    close(sync[1]);
    char c;
    while (read(sync[0], &c, 1) < 0 && errno == EINTR) {
    }
    close(sync[0]);
    return pid;
}

/* Reads the frames the dispatcher wrote to slot's worker into its logs. */
static void read_frames(int slot)
{
    if (W.wfd[slot] < 0) return;
    while (proto_reader_fill(&W.rd[slot], W.wfd[slot]) > 0) {
    }
    struct proto_header h;
    struct proto_buf p = {0};
    int got;
    while ((got = proto_reader_next(&W.rd[slot], &h, &p)) == 1) {
        const char *what = fmt("?%d %lld", h.type, (long long)h.job_id);
        if (h.type == PROTO_RUN) {
            struct proto_run run;
            CHECK(proto_decode_run(&p, &run) == 0);
            what = fmt("RUN %lld", (long long)h.job_id);
        } else if (h.type == PROTO_KILL) {
            struct proto_kill k;
            CHECK(proto_decode_kill(&p, &k) == 0);
            what = fmt("KILL %lld/%u", (long long)h.job_id, k.sig);
        }
        append(W.recent[slot], what);
        append(W.all[slot], what);
    }
    CHECK(got == 0);
    proto_buf_free(&p);
}

/* The frames slot's worker got since the last take (and forgets them). */
static const char *take(int slot)
{
    read_frames(slot);
    static char bufs[4][TEXT];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, TEXT, "%s", W.recent[slot]);
    W.recent[slot][0] = '\0';
    return b;
}

static void w_send(int slot, enum proto_type type, int64_t id, const struct proto_buf *b)
{
    CHECK(proto_send(W.wfd[slot], type, id, b ? b->data : NULL, b ? b->len : 0) == 0);
}

static void w_ready(int slot)
{
    w_send(slot, PROTO_READY, 0, NULL);
}

static void w_started(int slot, int64_t id)
{
    struct proto_buf b = {0};
    proto_encode_started(
        &b, &(struct proto_started){.pid = W.pool.slots[slot].pid, .start_us = clock_mono_us()});
    w_send(slot, PROTO_STARTED, id, &b);
    proto_buf_free(&b);
}

static void w_done(int slot, int64_t id, enum proto_end end, int code, enum proto_cause cause)
{
    struct proto_done done = {.end = (uint8_t)end, .cause = (uint8_t)cause, .code = code};
    if (end != PROTO_END_NOT_STARTED) {
        done.pid = W.pool.slots[slot].pid;
        done.start_us = clock_mono_us() - 1000;
    }
    struct proto_buf b = {0};
    proto_encode_done(&b, &done);
    w_send(slot, PROTO_DONE, id, &b);
    proto_buf_free(&b);
}

static void w_exited(int slot, int64_t id, int code)
{
    w_done(slot, id, PROTO_END_EXITED, code, PROTO_CAUSE_NONE);
}

static void w_not_started(int slot, int64_t id)
{
    w_done(slot, id, PROTO_END_NOT_STARTED, 0, PROTO_CAUSE_NONE);
}

/* Kills slot's worker and waits until it is a zombie (reaped by dispatch_loop_reap). */
static void kill_worker(int slot)
{
    pid_t pid = W.pool.slots[slot].pid;
    kill(pid, SIGKILL);
    siginfo_t si;
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
}

/* A process the dead worker's job left behind (in process-group mode, an orphan of the
 * master's outside every live worker: tree_kill_slot finds and kills it). */
static void add_stray(void)
{
    W.strays[W.n_strays++] = fork_pauser();
}

/* --- the main loop's side --- */

static int compare_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void on_finish(void *ctx, int64_t id)
{
    (void)ctx;
    append(W.finished, fmt("%lld", (long long)id));
    if (W.n_fin < 64) W.fin_ids[W.n_fin++] = id;
}

static const char *result_name(enum dispatch_result r)
{
    static const char *const names[] = {
        [DISPATCH_OK] = "ok",
        [DISPATCH_SHUTTING_DOWN] = "shutting down",
        [DISPATCH_QUEUE_FULL] = "queue full",
        [DISPATCH_NOT_FOUND] = "not found",
        [DISPATCH_CONFLICT] = "conflict",
        [DISPATCH_CANCELED] = "canceled",
        [DISPATCH_SIGNALED] = "signaled",
        [DISPATCH_ERROR] = "error",
        [DISPATCH_INVALID] = "invalid",
        [DISPATCH_IDEMPOTENCY_MISMATCH] = "mismatch",
        [DISPATCH_UNAVAILABLE] = "unavailable",
    };
    return names[r];
}

static void cmd_done(void *ctx)
{
    struct dispatch_cmd *cmd = ctx;
    append(W.answers, fmt("terminate %lld: %s", (long long)cmd->job_id, result_name(cmd->result)));
    if (cmd->wrote) W.wrote_answers++;
}

static void no_wait(void *ctx)
{
    (void)ctx;
}

/* One main-loop iteration: the ready channels (as epoll says), reaping if asked, the end. */
static void batch(bool reap)
{
    dispatch_loop_begin(W.d);
    struct epoll_event ev[16];
    int n = epoll_wait(W.epfd, ev, 16, 0);
    for (int i = 0; i < n; i++) {
        uint64_t tag = ev[i].data.u64;
        if (tag == DISPATCH_WAKE_TAG)
            dispatch_loop_woken(W.d);
        else if (tag & DISPATCH_WORKER_TAG)
            dispatch_loop_worker_event(W.d, (int)(tag & 0xffffffffu), ev[i].events);
    }
    if (reap) dispatch_loop_reap(W.d);
    dispatch_loop_end(W.d);
    for (int i = 0; i < W.pool.count; i++) {
        read_frames(i);
        if (W.pool.slots[i].state == SLOT_DEAD) /* (replaced only in scenario_respawn) */
            W.pool.slots[i].respawn_at = INT64_MAX / 4;
    }
}

/* Another connection takes the write lock and keeps it: the store's next BEGIN fails (after
 * a busy timeout cut from 5 s to 20 ms, so that the test does not wait). */
static void lock_db(void)
{
    sqlite3_busy_timeout(W.store->db, 20);
    CHECK(sqlite3_open(W.db, &W.outside) == SQLITE_OK);
    CHECK(sqlite3_exec(W.outside, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
}

static void unlock_db(void)
{
    sqlite3_exec(W.outside, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(W.outside);
    W.outside = NULL;
}

/* After a failed batch: waits out the store's backoff and runs the batch that replays the
 * journal; it must commit. */
static void retry(void)
{
    struct store_health h;
    store_health(W.store, &h);
    sleep_ms(h.retry_in_ms + 2);
    batch(false);
    store_health(W.store, &h);
    CHECK_EQ_INT(h.waiting, 0);
}

/* The batch that carries a transition (what a worker said, a command, a death). With
 * W.inject it first runs with the database locked: it must fail and let nothing out (no
 * RUN to any worker, no finish hook, no answer of a command that wrote); `during` (if set)
 * checks the state meanwhile; then the lock goes and the retry commits. */
static void step_during(bool reap, void (*during)(void))
{
    if (!W.inject) {
        batch(reap);
        return;
    }
    struct store_health h0, h1;
    store_health(W.store, &h0);
    size_t seen[SLOTS];
    for (int i = 0; i < W.pool.count; i++)
        seen[i] = strlen(W.all[i]);
    size_t finished = strlen(W.finished);
    int wrote = W.wrote_answers;
    lock_db();
    batch(reap);
    store_health(W.store, &h1);
    CHECK_EQ_INT(h1.failed_commits, h0.failed_commits + 1);
    CHECK(h1.waiting > 0);
    for (int i = 0; i < W.pool.count; i++)
        CHECK(strstr(W.all[i] + seen[i], "RUN") == NULL);
    CHECK_EQ_INT(strlen(W.finished), finished);
    CHECK_EQ_INT(W.wrote_answers, wrote);
    if (during) during();
    unlock_db();
    retry();
}

static void step(bool reap)
{
    step_during(reap, NULL);
}

/* A world of n workers; the first `ready` of them said READY (the others are STARTING). */
static void setup(int n, int ready)
{
    memset(W.recent, 0, sizeof W.recent);
    memset(W.all, 0, sizeof W.all);
    W.finished[0] = W.answers[0] = '\0';
    W.n_fin = 0;
    W.wrote_answers = 0;
    W.n_strays = 0;
    snprintf(W.dir, sizeof W.dir, "/tmp/spawnpool-test-dispatch-XXXXXX");
    if (!mkdtemp(W.dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(W.db, sizeof W.db, "%s/spawnpool.db", W.dir);
    mkdir(fmt("%s/output", W.dir), 0700);
    config_defaults(&W.cfg);
    snprintf(W.cfg.data_dir, sizeof W.cfg.data_dir, "%s", W.dir);
    W.cfg.retry_backoff = 0; /* a retry is queued at once */
    char err[256] = "";
    if (store_open(&W.store, W.db, err, sizeof err) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    if (ledger_open(W.dir, SLOTS) < 0) {
        perror("ledger_open");
        exit(2);
    }
    if (pool_init(&W.pool, n) < 0) {
        perror("pool_init");
        exit(2);
    }
    for (int i = 0; i < n; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
            perror("socketpair");
            exit(2);
        }
        struct pool_slot *s = &W.pool.slots[i];
        s->pid = fork_pauser();
        s->fd = sv[0];
        s->started_at = clock_wall_ms();
        s->started_mono = clock_mono_ms();
        pool_slot_move(s, SLOT_STARTING);
        W.wfd[i] = sv[1];
        memset(&W.rd[i], 0, sizeof W.rd[i]);
    }
    W.epfd = epoll_create1(EPOLL_CLOEXEC);
    W.d = dispatch_create(&W.cfg, W.store, &W.pool, W.epfd);
    if (!W.d) {
        fprintf(stderr, "dispatch_create failed\n");
        exit(2);
    }
    dispatch_on_finish(W.d, on_finish, NULL);
    for (int i = 0; i < ready; i++)
        w_ready(i);
    batch(false);
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(W.pool.slots[i].state, i < ready ? SLOT_IDLE : SLOT_STARTING);
}

/* Writes the end state (every row, every frame, every answer and finish) into W.summary
 * and tears the world down. */
static void teardown(void)
{
    CHECK_EQ_INT(W.d->illegal_moves, 0);
    /* the dispatcher's counters say what the rows say */
    int64_t counts[JOB_STATE_COUNT];
    CHECK(store_count_states(W.store, counts) == 0);
    for (int s = 0; s < JOB_STATE_COUNT; s++)
        if (counts[s] != W.d->stats.jobs[s]) {
            check_failures++;
            fprintf(stderr, "%s:%d: %s: %lld rows, the dispatcher counts %lld\n", __FILE__,
                    __LINE__, job_state_name((enum job_state)s), (long long)counts[s],
                    (long long)W.d->stats.jobs[s]);
        }
    char *out = W.summary;
    size_t n = sizeof W.summary, used = 0;
    for (int64_t id = 1;; id++) { /* (the events too: a replay must not write one twice) */
        struct job j;
        if (store_get_job(W.store, id, &j, false) != 0) break;
        used += (size_t)snprintf(out + used, n - used,
                                 "job %lld %s attempt %d worker %d, %lld events\n", (long long)id,
                                 job_state_name(j.state), j.attempt, j.worker,
                                 (long long)store_count_events(W.store, id));
        job_free(&j);
    }
    for (int i = 0; i < W.pool.count; i++) {
        read_frames(i);
        used += (size_t)snprintf(out + used, n - used, "worker %d got: %s\n", i, W.all[i]);
    }
    /* (in id order: jobs that end in one batch are told in the order epoll reported them) */
    qsort(W.fin_ids, (size_t)W.n_fin, sizeof *W.fin_ids, compare_id);
    used += (size_t)snprintf(out + used, n - used, "finished:");
    for (int i = 0; i < W.n_fin; i++)
        used += (size_t)snprintf(out + used, n - used, " %lld", (long long)W.fin_ids[i]);
    snprintf(out + used, n - used, "\nanswers: %s\n", W.answers);

    dispatch_destroy(W.d);
    for (int i = 0; i < W.pool.count; i++) {
        close(W.wfd[i]);
        proto_reader_free(&W.rd[i]);
    }
    pool_shutdown(&W.pool, 0); /* (kills and reaps what is left of the workers) */
    for (int i = 0; i < W.n_strays; i++) {
        kill(W.strays[i], SIGKILL);
        waitpid(W.strays[i], NULL, 0);
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    close(W.epfd);
    store_close(W.store);
    remove_tree(W.dir);
}

/* Runs a scenario plainly, then with every step's batch failing once: both must end alike. */
static void twice(const char *name, void (*scenario)(void))
{
    static char plain[4 * TEXT];
    int before = check_failures;
    W.inject = false;
    scenario();
    snprintf(plain, sizeof plain, "%s", W.summary);
    W.inject = true;
    scenario();
    CHECK_STR(W.summary, plain);
    if (check_failures != before) fprintf(stderr, "  in scenario %s:\n%s", name, plain);
}

/* --- submits and commands --- */

static struct job_spec spec(int max_attempts)
{
    struct job_spec j = {0};
    j.queue = strdup("default");
    if (strblob_add(&j.argv, "true", 4) < 0) exit(2);
    j.cwd = strdup("/tmp");
    j.max_attempts = max_attempts;
    return j;
}

static void set_done(void *ctx)
{
    *(bool *)ctx = true;
}

/* Submits one job through the dispatcher (stored and queued by one batch); its id. */
static int64_t submit_spec(struct job_spec j)
{
    int64_t id = 0;
    enum job_state state;
    bool existing = false, answered = false;
    struct dispatch_submit sub = {.specs = &j,
                                  .n = 1,
                                  .ids = &id,
                                  .states = &state,
                                  .existing = &existing,
                                  .done = set_done,
                                  .ctx = &answered};
    CHECK(dispatch_submit(W.d, &sub, no_wait) == DISPATCH_OK);
    batch(false);
    CHECK(answered);
    CHECK_EQ_INT(sub.result, DISPATCH_OK);
    job_spec_free(&j);
    return id;
}

static int64_t submit(int max_attempts)
{
    return submit_spec(spec(max_attempts));
}

static int64_t submit_member(const char *group, int size)
{
    struct job_spec j = spec(1);
    j.group = strdup(group);
    j.group_size = size;
    return submit_spec(j);
}

static struct dispatch_cmd cmds[16];
static int n_cmds;

/* Hands the main loop a terminate of job id (carried out by the next batch). */
static void terminate(int64_t id)
{
    struct dispatch_cmd *cmd = &cmds[n_cmds++ % 16];
    *cmd = (struct dispatch_cmd){.kind = DISPATCH_CMD_TERMINATE,
                                 .job_id = id,
                                 .sig = SIGTERM,
                                 .grace_ms = 5000,
                                 .done = cmd_done};
    cmd->ctx = cmd;
    CHECK(dispatch_command(W.d, cmd, no_wait) == DISPATCH_OK);
}

/* --- what the state is --- */

static void check_row(int line, int64_t id, enum job_state state, int attempt, int worker)
{
    struct job j;
    check_count++;
    if (store_get_job(W.store, id, &j, false) != 0) {
        check_failures++;
        fprintf(stderr, "%s:%d: job %lld cannot be read\n", __FILE__, line, (long long)id);
        return;
    }
    if (j.state != state || j.attempt != attempt || j.worker != worker) {
        check_failures++;
        fprintf(stderr, "%s:%d: job %lld is %s, attempt %d, worker %d; expected %s, %d, %d\n",
                __FILE__, line, (long long)id, job_state_name(j.state), j.attempt, j.worker,
                job_state_name(state), attempt, worker);
    }
    job_free(&j);
}
#define ROW(id, state, attempt, worker) check_row(__LINE__, id, state, attempt, worker)

/* The phase of the slot's current job (k < 0) or its k-th held one, with its id. */
static const char *phase(int slot, int k)
{
    static const char *const names[] = {"free", "reserved", "sent", "withdrawing", "started"};
    const struct running *r = k < 0 ? &W.d->running[slot] : &W.d->next[slot][k];
    return r->id ? fmt("%lld %s", (long long)r->id, names[r->phase]) : "free";
}

static const char *state(int slot)
{
    return pool_slot_state_name(W.pool.slots[slot].state);
}

/* --- scenarios --- */

static int64_t g_a; /* the job a `during` check looks at */

static void during_assign(void)
{
    /* reserved in memory, not in the database (rolled back), and no RUN out */
    CHECK_STR(phase(0, -1), fmt("%lld reserved", (long long)g_a));
    CHECK_STR(state(0), "busy");
    ROW(g_a, JOB_QUEUED, 0, -1);
    CHECK_STR(take(0), "");
}

static void during_started(void)
{
    CHECK_STR(phase(0, -1), fmt("%lld started", (long long)g_a));
    ROW(g_a, JOB_QUEUED, 0, 0); /* the database still says reserved */
}

/* assign -> RUN after the commit -> STARTED -> DONE: success, a short job's DONE alone, a
 * failure retried and failing again, a timeout. */
static void scenario_run(void)
{
    setup(1, 1);
    int64_t a = g_a = submit(1);
    ROW(a, JOB_QUEUED, 0, -1);
    CHECK_STR(take(0), "");
    step_during(false, during_assign);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)a));
    CHECK_STR(phase(0, -1), fmt("%lld sent", (long long)a));
    CHECK_STR(state(0), "busy");
    ROW(a, JOB_QUEUED, 0, 0);

    w_started(0, a);
    step_during(false, during_started);
    CHECK_STR(phase(0, -1), fmt("%lld started", (long long)a));
    ROW(a, JOB_RUNNING, 1, 0);
    CHECK(W.d->running[0].pid == W.pool.slots[0].pid);

    w_exited(0, a, 0);
    step(false);
    ROW(a, JOB_SUCCEEDED, 1, 0);
    CHECK_STR(W.finished, fmt("%lld", (long long)a));
    CHECK_STR(phase(0, -1), "free");
    CHECK_STR(state(0), "idle");

    /* a job over within 1 ms: its DONE alone says it started */
    int64_t b = submit(1);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)b));
    w_exited(0, b, 0);
    step(false);
    ROW(b, JOB_SUCCEEDED, 1, 0);

    /* a failure with an attempt left: queued again and sent again in the same batch */
    int64_t c = submit(2);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)c));
    w_started(0, c);
    step(false);
    w_exited(0, c, 3);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)c));
    CHECK_STR(phase(0, -1), fmt("%lld sent", (long long)c));
    ROW(c, JOB_QUEUED, 1, 0);
    w_started(0, c);
    step(false);
    ROW(c, JOB_RUNNING, 2, 0);
    w_exited(0, c, 3);
    step(false);
    ROW(c, JOB_FAILED, 2, 0);

    /* a timeout (the worker ended it) */
    int64_t t = submit(1);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)t));
    w_started(0, t);
    step(false);
    w_done(0, t, PROTO_END_SIGNALED, SIGTERM, PROTO_CAUSE_TIMEOUT);
    step(false);
    ROW(t, JOB_TIMED_OUT, 1, 0);
    CHECK_STR(W.finished, fmt("%lld, %lld, %lld, %lld", (long long)a, (long long)b, (long long)c,
                              (long long)t));
    CHECK_STR(state(0), "idle");
    teardown();
}

/* Worker 0 runs l (started) and holds h (sent); worker 1 is STARTING. */
static void two_on_zero(int64_t *l, int64_t *h)
{
    setup(2, 1);
    *l = submit(1);
    *h = submit(1);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld, RUN %lld", (long long)*l, (long long)*h));
    CHECK_STR(phase(0, 0), fmt("%lld sent", (long long)*h));
    ROW(*h, JOB_QUEUED, 0, 0);
    w_started(0, *l);
    step(false);
    CHECK_STR(phase(0, -1), fmt("%lld started", (long long)*l));
}

/* A worker frees up while nothing is queued: the busy one's held job is withdrawn
 * (KILL 0), comes back NOT_STARTED and goes to the free worker. */
static void scenario_withdraw(void)
{
    int64_t l, h;
    two_on_zero(&l, &h);
    w_ready(1);
    batch(false); /* (nothing written: the withdraw is only asked) */
    CHECK_STR(state(1), "idle");
    CHECK_STR(take(0), fmt("KILL %lld/0", (long long)h));
    CHECK_STR(phase(0, 0), fmt("%lld withdrawing", (long long)h));
    batch(false); /* asked once */
    CHECK_STR(take(0), "");

    w_not_started(0, h);
    step(false);
    CHECK_STR(phase(0, 0), "free");
    CHECK_STR(take(1), fmt("RUN %lld", (long long)h));
    CHECK_STR(phase(1, -1), fmt("%lld sent", (long long)h));
    ROW(h, JOB_QUEUED, 0, 1);
    w_started(1, h);
    w_exited(1, h, 0);
    w_exited(0, l, 0);
    step(false);
    ROW(h, JOB_SUCCEEDED, 1, 1);
    ROW(l, JOB_SUCCEEDED, 1, 0);
    CHECK_STR(W.answers, "");
    teardown();
}

/* A terminate reaches a job being withdrawn: it waits for the worker's answer.
 * NOT_STARTED: canceled. */
static void scenario_terminate_withdrawing(void)
{
    int64_t l, h;
    two_on_zero(&l, &h);
    w_ready(1);
    batch(false);
    CHECK_STR(take(0), fmt("KILL %lld/0", (long long)h));
    terminate(h);
    batch(false); /* (nothing written: the worker is asked) */
    CHECK_STR(take(0), fmt("KILL %lld/15", (long long)h));
    CHECK_STR(W.answers, "");
    CHECK_STR(phase(0, 0), fmt("%lld withdrawing", (long long)h));

    w_not_started(0, h);
    step(false);
    CHECK_STR(W.answers, fmt("terminate %lld: canceled", (long long)h));
    ROW(h, JOB_CANCELED, 0, 0);
    CHECK_STR(phase(0, 0), "free");
    CHECK_STR(take(1), ""); /* nothing for the free worker */
    w_exited(0, l, 0);
    step(false);
    CHECK_STR(W.finished, fmt("%lld, %lld", (long long)h, (long long)l));
    teardown();
}

/* ... the worker had started it already (its KILL 0 came too late): STARTED from
 * WITHDRAWING, the terminate says signaled, the job ends terminated. */
static void scenario_withdraw_too_late(void)
{
    int64_t l, h;
    two_on_zero(&l, &h);
    w_ready(1);
    batch(false);
    CHECK_STR(take(0), fmt("KILL %lld/0", (long long)h));
    terminate(h);
    batch(false);
    CHECK_STR(take(0), fmt("KILL %lld/15", (long long)h));
    w_exited(0, l, 0); /* the worker started h before this DONE went out */
    step(false);
    ROW(l, JOB_SUCCEEDED, 1, 0);
    CHECK_STR(phase(0, -1), fmt("%lld withdrawing", (long long)h));
    CHECK_STR(W.answers, "");
    w_started(0, h);
    step(false);
    CHECK_STR(phase(0, -1), fmt("%lld started", (long long)h));
    CHECK_STR(W.answers, fmt("terminate %lld: signaled", (long long)h));
    ROW(h, JOB_RUNNING, 1, 0);
    w_done(0, h, PROTO_END_SIGNALED, SIGTERM, PROTO_CAUSE_KILLED);
    step(false);
    ROW(h, JOB_TERMINATED, 1, 0);
    CHECK_STR(take(1), "");
    teardown();
}

/* Terminates of held jobs wait until the worker says NOT_STARTED (canceled) or STARTED
 * (signaled); one of a started job is answered at once, one of a queued job cancels it. */
static void scenario_terminate_held(void)
{
    setup(2, 1);
    int64_t l = submit(1), h1 = submit(1), h2 = submit(1), q = submit(1);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld, RUN %lld, RUN %lld, RUN %lld", (long long)l, (long long)h1,
                           (long long)h2, (long long)q));
    w_started(0, l);
    step(false);
    int64_t q2 = submit(1); /* every place on worker 0 is taken: this one stays queued */
    batch(false);
    CHECK_STR(take(0), "");
    terminate(q2);
    step(false);
    CHECK_STR(W.answers, fmt("terminate %lld: canceled", (long long)q2));
    ROW(q2, JOB_CANCELED, 0, -1);

    terminate(h1);
    batch(false);
    CHECK_STR(take(0), fmt("KILL %lld/15", (long long)h1));
    CHECK_STR(W.answers, fmt("terminate %lld: canceled", (long long)q2));
    w_not_started(0, h1);
    step(false);
    CHECK_STR(W.answers, fmt("terminate %lld: canceled, terminate %lld: canceled", (long long)q2,
                             (long long)h1));
    ROW(h1, JOB_CANCELED, 0, 0);
    CHECK_STR(phase(0, 0), fmt("%lld sent", (long long)h2)); /* (closed up) */

    terminate(h2);
    batch(false);
    CHECK_STR(take(0), fmt("KILL %lld/15", (long long)h2));
    w_exited(0, l, 0); /* h2 starts next */
    step(false);
    CHECK_STR(phase(0, -1), fmt("%lld sent", (long long)h2));
    w_started(0, h2);
    step(false);
    CHECK_STR(W.answers, fmt("terminate %lld: canceled, terminate %lld: canceled, terminate "
                             "%lld: signaled",
                             (long long)q2, (long long)h1, (long long)h2));
    w_done(0, h2, PROTO_END_SIGNALED, SIGTERM, PROTO_CAUSE_KILLED);
    step(false);
    ROW(h2, JOB_TERMINATED, 1, 0);

    terminate(q); /* now the current job, started: signaled at once (nothing written) */
    w_started(0, q);
    step(false);
    batch(false);
    CHECK_STR(take(0), fmt("KILL %lld/15", (long long)q));
    CHECK(strstr(W.answers, fmt("terminate %lld: signaled", (long long)q)) != NULL);
    w_done(0, q, PROTO_END_SIGNALED, SIGTERM, PROTO_CAUSE_KILLED);
    step(false);
    ROW(q, JOB_TERMINATED, 1, 0);
    teardown();
}

/* A terminate of a job whose RUN waits for a failed batch's retry: refused while the store
 * cannot commit; once it can, the job is canceled and its RUN never goes out. */
static void scenario_terminate_unsent(void)
{
    setup(1, 1);
    int64_t a = submit(1);
    lock_db();
    batch(false);
    CHECK_STR(phase(0, -1), fmt("%lld reserved", (long long)a));
    CHECK_STR(take(0), "");
    terminate(a);
    batch(false); /* the backoff has not passed: the batch cannot read exactly */
    CHECK_STR(W.answers, fmt("terminate %lld: unavailable", (long long)a));
    unlock_db();
    struct store_health h;
    store_health(W.store, &h);
    sleep_ms(h.retry_in_ms + 2);
    terminate(a);
    batch(false); /* the retry commits the reservation, the terminate takes it back */
    CHECK_STR(W.answers, fmt("terminate %lld: unavailable, terminate %lld: canceled", (long long)a,
                             (long long)a));
    ROW(a, JOB_CANCELED, 0, 0);
    CHECK_STR(phase(0, -1), "free");
    CHECK_STR(state(0), "idle");
    batch(false);
    CHECK_STR(take(0), "");
    teardown();
}

/* Worker 0 dies holding a job whose RUN waits for the commit: the job goes back (it never
 * left the master), the started one is lost. */
static void scenario_death_held_unsent(void)
{
    setup(2, 1);
    int64_t l = submit(1);
    step(false);
    w_started(0, l);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)l));
    int64_t h = submit(1);
    lock_db();
    batch(false);
    CHECK_STR(phase(0, 0), fmt("%lld reserved", (long long)h));
    kill_worker(0);
    batch(true); /* (still failing: nothing is written, only journaled) */
    CHECK_STR(state(0), "dead");
    CHECK_STR(phase(0, -1), "free");
    CHECK_STR(phase(0, 0), "free");
    unlock_db();
    retry();
    ROW(l, JOB_LOST, 1, 0);
    ROW(h, JOB_QUEUED, 0, -1);
    CHECK_STR(take(0), "");
    CHECK_STR(W.finished, fmt("%lld", (long long)l));
    w_ready(1);
    step(false);
    CHECK_STR(take(1), fmt("RUN %lld", (long long)h));
    teardown();
}

/* Worker 0 dies holding a job it was sent: back in the queue, unless the ledger says the
 * worker began to start it (then it may have run: lost). */
static void scenario_death_held_sent(void)
{
    int64_t l, h;
    two_on_zero(&l, &h);
    int64_t h2 = submit(1);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)h2));
    ledger_mark(0, h2); /* the worker began h2 (it ran l, h, h2 in turn) */
    kill_worker(0);
    step(true);
    CHECK_STR(state(0), "dead");
    ROW(l, JOB_LOST, 1, 0);
    ROW(h, JOB_QUEUED, 0, -1);
    ROW(h2, JOB_LOST, 1, 0);
    CHECK_STR(W.finished, fmt("%lld, %lld", (long long)l, (long long)h2));
    CHECK_EQ_INT(W.d->stats.worker_restarts, 1);
    teardown();
}

/* The current job of a worker that dies before it said STARTED: queued again the first
 * time (nothing was left in its tree), taken to have run the second time (a job that kills
 * its worker must not loop), and at once when processes were left behind. */
static void scenario_death_unstarted(void)
{
    setup(3, 1);
    int64_t a = submit(1);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)a));
    kill_worker(0);
    step(true);
    ROW(a, JOB_QUEUED, 0, -1);
    CHECK_STR(W.finished, "");
    w_ready(1);
    step(false);
    CHECK_STR(take(1), fmt("RUN %lld", (long long)a));
    kill_worker(1);
    step(true);
    ROW(a, JOB_LOST, 1, 1);

    int64_t b = submit(1);
    w_ready(2);
    step(false);
    CHECK_STR(take(2), fmt("RUN %lld", (long long)b));
    add_stray();
    kill_worker(2);
    step(true);
    ROW(b, JOB_LOST, 1, 2);
    pid_t gone = 0; /* killed by tree_kill_slot (and maybe reaped by dispatch_loop_reap) */
    for (int i = 0; i < 1000 && gone == 0; i++, sleep_ms(gone ? 0 : 1))
        gone = waitpid(W.strays[0], NULL, WNOHANG);
    CHECK(gone == W.strays[0] || (gone < 0 && errno == ECHILD));
    CHECK_STR(W.finished, fmt("%lld, %lld", (long long)a, (long long)b));
    teardown();
}

/* A started job whose worker dies: lost, or queued again while it has attempts left. */
static void scenario_death_started(void)
{
    setup(2, 2);
    int64_t a = submit(1), b = submit(2);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)a));
    CHECK_STR(take(1), fmt("RUN %lld", (long long)b));
    w_started(0, a);
    w_started(1, b);
    step(false);
    kill_worker(0);
    step(true);
    ROW(a, JOB_LOST, 1, 0);
    kill_worker(1);
    step(true);
    ROW(b, JOB_QUEUED, 1, -1);
    CHECK_STR(W.finished, fmt("%lld", (long long)a));
    CHECK_STR(state(0), "dead");
    CHECK_STR(state(1), "dead");
    teardown();
}

/* EOF from a worker before its SIGCHLD: EXITING at once; nothing is assigned or sent to it;
 * its reaping gives its job back. */
static void scenario_eof(void)
{
    setup(2, 1);
    int64_t a = submit(1);
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)a));
    close(W.wfd[0]);
    W.wfd[0] = -1;
    batch(false);
    CHECK_STR(state(0), "exiting");
    int64_t b = submit(1);
    batch(false);
    CHECK_STR(phase(0, 0), "free"); /* not held by a worker that is going away */
    ROW(b, JOB_QUEUED, 0, -1);
    kill_worker(0); /* (SIGKILLed already by the dispatcher: this only waits) */
    step(true);
    CHECK_STR(state(0), "dead");
    ROW(a, JOB_QUEUED, 0, -1);
    w_ready(1);
    step(false);
    CHECK_STR(take(1), fmt("RUN %lld, RUN %lld", (long long)a, (long long)b));
    teardown();
}

/* A corrupt frame from a worker that runs a job and holds another, while the other worker
 * is free: EXITING, and nothing more goes to it (not the KILL 0 that would withdraw its held
 * job for the free worker, nor a terminate's KILL); its reaping decides. */
static void scenario_corrupt(void)
{
    int64_t l, h;
    two_on_zero(&l, &h);
    static const unsigned char junk[16] = {99};
    CHECK(write(W.wfd[0], junk, sizeof junk) == (ssize_t)sizeof junk);
    w_ready(1);
    batch(false);
    CHECK_STR(state(0), "exiting");
    CHECK_STR(take(0), "");
    terminate(h);
    terminate(l);
    batch(false);
    CHECK_STR(take(0), "");
    CHECK_STR(W.answers, fmt("terminate %lld: signaled", (long long)l));
    kill_worker(0);
    step(true);
    CHECK_STR(W.answers, fmt("terminate %lld: signaled, terminate %lld: canceled", (long long)l,
                             (long long)h));
    ROW(l, JOB_LOST, 1, 0);
    ROW(h, JOB_CANCELED, 0, 0);
    CHECK_STR(take(1), "");
    teardown();
}

/* Gang members start together (one batch, RUNs after its commit); one whose worker dies
 * before it started can never start with its group: canceled. A terminate of a member
 * waiting for its group cancels the group. */
static void scenario_gang(void)
{
    setup(3, 2);
    int64_t g1 = submit_member("g", 2), g2 = submit_member("g", 2);
    batch(false); /* the members wait with their group (nothing written), then start */
    step(false);
    CHECK_STR(take(0), fmt("RUN %lld", (long long)g1));
    CHECK_STR(take(1), fmt("RUN %lld", (long long)g2));
    CHECK(W.d->running[0].gang && W.d->running[1].gang);
    w_started(0, g1);
    kill_worker(1);
    step(true);
    ROW(g1, JOB_RUNNING, 1, 0);
    ROW(g2, JOB_CANCELED, 0, 1);
    w_exited(0, g1, 0);
    step(false);
    ROW(g1, JOB_SUCCEEDED, 1, 0);

    int64_t h1 = submit_member("h", 3), h2 = submit_member("h", 3), h3 = submit_member("h", 3);
    batch(false); /* complete, but only one worker is free: it waits */
    batch(false);
    CHECK_STR(take(0), "");
    terminate(h2);
    step(false);
    CHECK_STR(W.answers, fmt("terminate %lld: canceled", (long long)h2));
    ROW(h1, JOB_CANCELED, 0, -1);
    ROW(h2, JOB_CANCELED, 0, -1);
    ROW(h3, JOB_CANCELED, 0, -1);
    w_ready(2);
    batch(false);
    CHECK_STR(take(0), "");
    CHECK_STR(take(2), "");
    teardown();
}

/* A worker dies while its held job is being withdrawn: the job goes back (WITHDRAWING ->
 * BACK) and the free worker takes it. */
static void scenario_death_withdrawing(void)
{
    int64_t l, h;
    two_on_zero(&l, &h);
    w_ready(1);
    batch(false);
    CHECK_STR(take(0), fmt("KILL %lld/0", (long long)h));
    CHECK_STR(phase(0, 0), fmt("%lld withdrawing", (long long)h));
    kill_worker(0);
    step(true);
    ROW(l, JOB_LOST, 1, 0);
    ROW(h, JOB_QUEUED, 0, 1);
    CHECK_STR(take(1), fmt("RUN %lld", (long long)h));
    CHECK_STR(phase(1, -1), fmt("%lld sent", (long long)h));
    teardown();
}

/* A worker breaks the protocol by ending its held job before its current one: it is given
 * up on (EXITING, nothing more sent), and its reaping decides: the current job began (it
 * was started), the held one may have (it said it ended): both lost. */
static void scenario_out_of_order(void)
{
    int64_t l, h;
    two_on_zero(&l, &h);
    w_exited(0, h, 0);
    batch(false);
    CHECK_STR(state(0), "exiting");
    CHECK_STR(phase(0, 0), fmt("%lld sent", (long long)h));
    ledger_mark(0, h); /* (what a worker that started it wrote first) */
    kill_worker(0);
    step(true);
    ROW(l, JOB_LOST, 1, 0);
    ROW(h, JOB_LOST, 1, 0);
    CHECK_STR(take(0), "");
    teardown();
}

/* A worker dies while the RUN of its current job waits for a failed batch's retry: the job
 * never left the master (RESERVED -> BACK), whatever the tree or the ledger say. */
static void scenario_death_current_unsent(void)
{
    setup(2, 1);
    int64_t a = submit(1);
    lock_db();
    batch(false);
    CHECK_STR(phase(0, -1), fmt("%lld reserved", (long long)a));
    ledger_mark(0, a); /* (not possible: but even so, an unsent job never began) */
    add_stray();
    kill_worker(0);
    batch(true);
    CHECK_STR(phase(0, -1), "free");
    unlock_db();
    retry();
    ROW(a, JOB_QUEUED, 0, -1);
    CHECK_STR(take(0), "");
    CHECK_STR(W.finished, "");
    w_ready(1);
    step(false);
    CHECK_STR(take(1), fmt("RUN %lld", (long long)a));
    teardown();
}

/* The drain: held jobs are withdrawn and stay queued, the running one gets its KILL and
 * ends terminated by the shutdown. */
static void scenario_drain(void)
{
    int64_t l, h;
    two_on_zero(&l, &h);
    dispatch_loop_begin(W.d);
    dispatch_loop_drain(W.d);
    dispatch_loop_terminate_all(W.d, SIGTERM, 1000);
    dispatch_loop_end(W.d);
    CHECK_STR(take(0), fmt("KILL %lld/0, KILL %lld/15", (long long)h, (long long)l));
    w_not_started(0, h);
    step(false);
    ROW(h, JOB_QUEUED, 0, -1);
    CHECK(dispatch_loop_busy(W.d));
    w_done(0, l, PROTO_END_SIGNALED, SIGTERM, PROTO_CAUSE_KILLED);
    step(false);
    ROW(l, JOB_TERMINATED, 1, 0);
    CHECK(!dispatch_loop_busy(W.d));
    w_ready(1);
    batch(false);
    CHECK_STR(take(1), ""); /* draining: nothing starts */
    struct job j;
    CHECK(store_get_job(W.store, l, &j, false) == 0);
    CHECK(j.error && strcmp(j.error, "terminated by the server's shutdown") == 0);
    job_free(&j);
    teardown();
}

/* A dead worker is replaced when its backoff passed: DEAD -> STARTING (fork + exec of this
 * binary) -> IDLE once it says READY. */
static void scenario_respawn(void)
{
    setup(1, 1);
    kill_worker(0);
    batch(true);
    CHECK_STR(state(0), "dead");
    W.pool.slots[0].respawn_at = 0;
    batch(false);
    CHECK_STR(state(0), "starting");
    CHECK(W.pool.slots[0].pid > 0);
    for (int i = 0; i < 500 && W.pool.slots[0].state == SLOT_STARTING; i++) {
        struct epoll_event ev;
        epoll_wait(W.epfd, &ev, 1, 10);
        batch(false); /* (epoll_wait above only waits: the batch reads the event again) */
    }
    CHECK_STR(state(0), "idle");
    teardown();
}

/* `test_dispatch worker ...`: what pool_respawn execs here. Says READY on fd 3 and waits
 * for the end of its channel. */
static int fake_worker(void)
{
    if (proto_send(3, PROTO_READY, 0, NULL, 0) < 0) return 1;
    char buf[4096];
    while (read(3, buf, sizeof buf) > 0) {
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "worker") == 0) return fake_worker();
    signal(SIGPIPE, SIG_IGN); /* (as the server: a dead worker's socket says EPIPE) */
    twice("run", scenario_run);
    twice("withdraw", scenario_withdraw);
    twice("terminate while withdrawing", scenario_terminate_withdrawing);
    twice("withdraw too late", scenario_withdraw_too_late);
    twice("terminate held", scenario_terminate_held);
    twice("death of a worker holding a sent job", scenario_death_held_sent);
    twice("death before the start", scenario_death_unstarted);
    twice("death after the start", scenario_death_started);
    twice("EOF before reaping", scenario_eof);
    twice("corrupt frame", scenario_corrupt);
    twice("gang", scenario_gang);
    twice("death while withdrawing", scenario_death_withdrawing);
    twice("DONE out of order", scenario_out_of_order);
    twice("drain", scenario_drain);
    /* (these fail a commit on purpose, at a chosen moment: run once) */
    W.inject = false;
    scenario_terminate_unsent();
    scenario_death_held_unsent();
    scenario_death_current_unsent();
    scenario_respawn();
    return check_report();
}
