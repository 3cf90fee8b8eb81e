/* dispatch_world: the fake pool of tests/unit/test_dispatch.c (dispatch_world.h). */
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
#include "dispatch_world.h"
#include "pool/ledger.h"
#include "pool/pool.h"
#include "pool/proto.h"
#include "server/clock.h"
#include "server/config.h"
#include "server/dispatch_internal.h"
#include "server/store.h"
#include "server/store_internal.h" /* (only to shorten the busy timeout: see lock_db) */

struct world W;

void world_checks(int *count, int *failures)
{
    *count = check_count;
    *failures = check_failures;
}

const char *fmt(const char *f, ...)
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

void sleep_ms(int64_t ms)
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
const char *take(int slot)
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

void w_ready(int slot)
{
    w_send(slot, PROTO_READY, 0, NULL);
}

void w_started(int slot, int64_t id)
{
    struct proto_buf b = {0};
    proto_encode_started(
        &b, &(struct proto_started){.pid = W.pool.slots[slot].pid, .start_us = clock_mono_us()});
    w_send(slot, PROTO_STARTED, id, &b);
    proto_buf_free(&b);
}

void w_done(int slot, int64_t id, enum proto_end end, int code, enum proto_cause cause)
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

void w_exited(int slot, int64_t id, int code)
{
    w_done(slot, id, PROTO_END_EXITED, code, PROTO_CAUSE_NONE);
}

void w_not_started(int slot, int64_t id)
{
    w_done(slot, id, PROTO_END_NOT_STARTED, 0, PROTO_CAUSE_NONE);
}

/* Kills slot's worker and waits until it is a zombie (reaped by dispatch_loop_reap). */
void kill_worker(int slot)
{
    pid_t pid = W.pool.slots[slot].pid;
    kill(pid, SIGKILL);
    siginfo_t si;
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
}

/* A process the dead worker's job left behind (in process-group mode, an orphan of the
 * master's outside every live worker: tree_kill_slot finds and kills it). */
void add_stray(void)
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
void batch(bool reap)
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
void lock_db(void)
{
    db_set_busy_ms(W.store->db, 20);
    CHECK(sqlite3_open(W.db, &W.outside) == SQLITE_OK);
    CHECK(sqlite3_exec(W.outside, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
}

void unlock_db(void)
{
    sqlite3_exec(W.outside, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(W.outside);
    W.outside = NULL;
}

/* After a failed batch: waits out the store's backoff and runs the batch that replays the
 * journal; it must commit. */
void retry(void)
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
void step_during(bool reap, void (*during)(void))
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

void step(bool reap)
{
    step_during(reap, NULL);
}

/* A world of n workers; the first `ready` of them said READY (the others are STARTING). */
void setup(int n, int ready)
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
void teardown(void)
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
void twice(const char *name, void (*scenario)(void))
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

int64_t submit(int max_attempts)
{
    return submit_spec(spec(max_attempts));
}

int64_t submit_member(const char *group, int size)
{
    struct job_spec j = spec(1);
    j.group = strdup(group);
    j.group_size = size;
    return submit_spec(j);
}

static struct dispatch_cmd cmds[16];
static int n_cmds;

/* Hands the main loop a terminate of job id (carried out by the next batch). */
void terminate(int64_t id)
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

void check_row(int line, int64_t id, enum job_state state, int attempt, int worker)
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

/* The phase of the slot's current job (k < 0) or its k-th held one, with its id. */
const char *phase(int slot, int k)
{
    static const char *const names[] = {"free", "reserved", "sent", "withdrawing", "started"};
    const struct running *r = k < 0 ? &W.d->running[slot] : &W.d->next[slot][k];
    return r->id ? fmt("%lld %s", (long long)r->id, names[r->phase]) : "free";
}

const char *state(int slot)
{
    return pool_slot_state_name(W.pool.slots[slot].state);
}

/* `test_dispatch worker ...`: what pool_respawn execs here. Says READY on fd 3 and waits
 * for the end of its channel. */
int fake_worker(void)
{
    if (proto_send(3, PROTO_READY, 0, NULL, 0) < 0) return 1;
    char buf[4096];
    while (read(3, buf, sizeof buf) > 0) {
    }
    return 0;
}
