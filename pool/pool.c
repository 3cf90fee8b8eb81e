/* pool: worker process table. The master forks the first workers before it starts any
 * thread; replacements are fork+exec of this binary so no threaded process is copied. */
#include "pool/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool/spawn.h"
#include "pool/worker.h"

extern char **environ;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pool_init(struct pool *p, int count)
{
    memset(p, 0, sizeof *p);
    ssize_t n = readlink("/proc/self/exe", p->exe, sizeof p->exe - 1);
    if (n < 0) return -1;
    p->exe[n] = '\0';
    p->slots = calloc((size_t)count, sizeof *p->slots);
    if (!p->slots) return -1;
    p->count = count;
    p->close_in_child = -1;
    p->ledger_fd = -1;
    getrlimit(RLIMIT_NOFILE, &p->nofile);
    for (int i = 0; i < count; i++) {
        p->slots[i].index = i;
        p->slots[i].fd = -1;
        p->slots[i].state = SLOT_DEAD;
    }
    return 0;
}

bool pool_slot_move(struct pool_slot *s, enum pool_slot_state to)
{
    static const unsigned legal[] = {
        /* the states each one may move to */
        [SLOT_STARTING] = 1u << SLOT_IDLE | 1u << SLOT_EXITING | 1u << SLOT_DEAD,
        [SLOT_IDLE] = 1u << SLOT_BUSY | 1u << SLOT_EXITING | 1u << SLOT_DEAD,
        [SLOT_BUSY] = 1u << SLOT_IDLE | 1u << SLOT_EXITING | 1u << SLOT_DEAD,
        [SLOT_EXITING] = 1u << SLOT_DEAD,
        [SLOT_DEAD] = 1u << SLOT_STARTING,
    };
    bool ok = s->state == to || (legal[s->state] & (1u << to));
    s->state = to;
    return ok;
}

const char *pool_slot_state_name(enum pool_slot_state state)
{
    static const char *const names[] = {[SLOT_STARTING] = "starting",
                                        [SLOT_IDLE] = "idle",
                                        [SLOT_BUSY] = "busy",
                                        [SLOT_EXITING] = "exiting",
                                        [SLOT_DEAD] = "dead"};
    return (unsigned)state < sizeof names / sizeof *names ? names[state] : "?";
}

static void slot_started(struct pool_slot *s, pid_t pid, int fd)
{
    s->pid = pid;
    s->fd = fd;
    pool_slot_move(s, SLOT_STARTING); /* (from DEAD: the only way out of it) */
    s->job_id = 0;
    s->jobs_done = 0;
    s->started_at = wall_ms();
    s->started_mono = mono_ms();
    s->reader.len = 0;
    s->out.len = s->out.pos = 0;
    s->out.failed = false;
}

int pool_fork_all(struct pool *p)
{
    for (int i = 0; i < p->count; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
        pid_t pid = fork();
        if (pid < 0) {
            close(sv[0]);
            close(sv[1]);
            return -1;
        }
        if (pid == 0) {
            for (int j = 0; j < i; j++)
                close(p->slots[j].fd);
            if (p->close_in_child >= 0) close(p->close_in_child);
            close(sv[0]);
            if (p->run_as) spawn_set_identity(p->uid, p->gid);
            _exit(worker_main(sv[1], i));
        }
        close(sv[1]);
        if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) return -1; /* the master must never block */
        slot_started(&p->slots[i], pid, sv[0]);
    }
    return 0;
}

int pool_respawn(struct pool *p, int i)
{
    struct pool_slot *s = &p->slots[i];
    char index[16];
    snprintf(index, sizeof index, "%d", i);
    char uid[16], gid[16];
    snprintf(uid, sizeof uid, "%u", (unsigned)p->uid);
    snprintf(gid, sizeof gid, "%u", (unsigned)p->gid);
    char *argv[] = {p->exe, "worker", "--fd", "3",  "--index", index, "--uid",
                    uid,    "--gid",  gid,    NULL, NULL,      NULL};
    char **tail = p->run_as ? &argv[10] : &argv[6];
    tail[0] = tail[1] = tail[2] = NULL;
    if (p->ledger_fd >= 0) tail[0] = "--ledger-fd", tail[1] = "4";
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) { /* async-signal-safe calls only: the master has threads */
        if (sv[1] == 3)
            fcntl(3, F_SETFD, 0);
        else if (dup2(sv[1], 3) < 0)
            _exit(126);
        if (p->ledger_fd >= 0 && dup2(p->ledger_fd, 4) < 0) _exit(126);
        close_range(p->ledger_fd >= 0 ? 5 : 4, ~0U, 0);
        setrlimit(RLIMIT_NOFILE, &p->nofile); /* the master may have raised its own */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* the binary this (forked) process runs, the master's, even if its path now holds
         * another (an upgrade renamed over it): /proc/self/exe keeps the running one */
        execve("/proc/self/exe", argv, environ);
        execve(p->exe, argv, environ); /* no /proc mounted: by path */
        _exit(126);
    }
    close(sv[1]);
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) { /* a blocking channel could stall the master */
        int e = errno;
        kill(pid, SIGKILL);
        close(sv[0]);
        errno = e;
        return -1; /* reaped as a death; respawned with backoff */
    }
    slot_started(s, pid, sv[0]);
    return 0;
}

struct pool_slot *pool_slot_by_pid(struct pool *p, pid_t pid)
{
    for (int i = 0; i < p->count; i++)
        if (p->slots[i].pid == pid && pid > 0) return &p->slots[i];
    return NULL;
}

void pool_slot_dead(struct pool *p, struct pool_slot *s, int64_t now_mono)
{
    (void)p;
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->pid = 0;
    pool_slot_move(s, SLOT_DEAD); /* (legal from every live state) */
    s->job_id = 0;
    s->reader.len = 0;
    s->out.len = s->out.pos = 0;
    s->out.failed = false;
    if (now_mono - s->started_mono < 1000)
        s->quick_deaths++;
    else
        s->quick_deaths = 0;
    int64_t delay = 0;
    if (s->quick_deaths > 0) {
        delay = 100;
        for (int k = 1; k < s->quick_deaths && delay < 30000; k++)
            delay *= 2;
        if (delay > 30000) delay = 30000;
    }
    s->respawn_at = now_mono + delay;
}

int pool_queue_run(struct pool_slot *s, int64_t id, const struct proto_buf *payload)
{
    if (s->fd < 0) return -1;
    proto_put_frame(&s->out, PROTO_RUN, id, payload->data, payload->len);
    return s->out.failed ? -1 : 0;
}

int pool_send_kill(struct pool_slot *s, int64_t id, int sig, int64_t grace_ms)
{
    if (s->fd < 0) return -1;
    struct proto_buf b = {0};
    proto_encode_kill(&b, &(struct proto_kill){.sig = (uint32_t)sig, .grace_ms = grace_ms});
    if (!b.failed) proto_put_frame(&s->out, PROTO_KILL, id, b.data, b.len);
    int failed = b.failed || s->out.failed;
    proto_buf_free(&b);
    return failed ? -1 : pool_flush(s);
}

int pool_send_lease(struct pool_slot *s, int64_t ms)
{
    if (s->fd < 0) return -1;
    struct proto_buf b = {0};
    proto_encode_lease(&b, ms);
    if (!b.failed) proto_put_frame(&s->out, PROTO_LEASE, 0, b.data, b.len);
    int failed = b.failed || s->out.failed;
    proto_buf_free(&b);
    return failed ? -1 : pool_flush(s);
}

int pool_flush(struct pool_slot *s)
{
    if (s->out.failed) return -1;
    while (s->out.pos < s->out.len) {
        if (s->fd < 0) return -1;
        ssize_t n = write(s->fd, s->out.data + s->out.pos, s->out.len - s->out.pos);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 1;
        if (n < 0) return -1;
        s->out.pos += (size_t)n;
    }
    s->out.len = s->out.pos = 0;
    return 0;
}

void pool_shutdown(struct pool *p, int64_t timeout_ms)
{
    for (int i = 0; i < p->count; i++)
        if (p->slots[i].fd >= 0) {
            close(p->slots[i].fd);
            p->slots[i].fd = -1;
        }
    int64_t until = mono_ms() + timeout_ms;
    for (;;) {
        int alive = 0;
        for (int i = 0; i < p->count; i++) {
            struct pool_slot *s = &p->slots[i];
            if (s->pid <= 0) continue;
            pid_t r = waitpid(s->pid, NULL, WNOHANG);
            if (r == s->pid || (r < 0 && errno == ECHILD))
                s->pid = 0;
            else
                alive++;
        }
        if (!alive) break;
        if (mono_ms() >= until) {
            for (int i = 0; i < p->count; i++)
                if (p->slots[i].pid > 0) kill(p->slots[i].pid, SIGKILL);
            until = mono_ms() + 1000;
            timeout_ms = -1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < p->count; i++) {
        proto_reader_free(&p->slots[i].reader);
        proto_buf_free(&p->slots[i].out);
    }
    free(p->slots);
    p->slots = NULL;
    p->count = 0;
}
