/* worker: run jobs one at a time for the master. Single-threaded: one poll over the
 * channel, a signalfd (SIGCHLD, SIGTERM) and the job's output pipes. */
#include "pool/worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool/proto.h"
#include "pool/ledger.h"
#include "pool/limits.h"
#include "pool/spawn.h"
#include "pool/usage.h"

/* RUNs a worker holds at most (the master sends at most DISPATCH_HOLD, plus one per job it
 * canceled that the worker is still killing). */
#define WORKER_HELD_MAX 8

/* A job reports STARTED once it has run this long; one that ends sooner says so in DONE. */
#define STARTED_AFTER_US 1000

/* After the main process exits, how long its pipes may stay open (held by an escaped
 * descendant) before the output is closed and DONE is sent anyway. */
#define DRAIN_AFTER_EXIT_MS 500

struct worker {
    int channel, sigfd, index;
    struct proto_reader reader;
    struct proto_buf payload;     /* the frame being handled */
    struct proto_buf run_payload; /* the current RUN, which the job's strings point into */
    /* RUNs held to start, in order, as soon as the current job ends: the master keeps a few
     * here while a job runs (DISPATCH_HOLD); more can arrive while a job it canceled is
     * being killed */
    struct held {
        int64_t id;
        struct proto_buf payload;
        struct proto_run run;
    } held[WORKER_HELD_MAX];
    int nheld;
    struct tree tree;        /* how this worker ends a job's whole tree */
    struct limits_cg limits; /* where a job's memory, pids and cpu limits are written */
    struct usage_cg usage;   /* where its whole tree's CPU and peak memory are read */
    int64_t lease_until_ms;  /* monotonic ms the node's lease holds until (PROTO_LEASE); a
                              * job running past it is killed; 0: no lease (one node) */
};

/* One job in flight. */
struct running {
    int64_t id;
    const struct tree *tree;
    struct spawn_job job;
    struct proto_done done;
    int64_t deadline_ms;    /* timeout; 0 none */
    int64_t grace_ms;       /* SIGTERM -> SIGKILL for timeouts */
    int64_t kill_at_ms;     /* escalate to SIGKILL; 0 none */
    int64_t drain_until_ms; /* set once the main process exited */
    bool exited;
    bool fenced;       /* killed for the lease (PROTO_LEASE) */
    bool started_sent; /* STARTED went out */
    int64_t start_us;  /* monotonic µs of the spawn */
    int status;
    struct rusage usage;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void worker_log(const struct worker *w, const char *what)
{
    fprintf(stderr, "spawnpool worker %d (pid %d): %s: %s\n", w->index, (int)getpid(), what,
            strerror(errno));
}

/* Ends the job's tree and the worker: the master is gone or asked us to stop. */
static struct worker *self; /* for leaving the cgroups on the way out */

/* Moves out of this worker's cgroup leaves and removes them (exiting). */
static void leave_cgroups(void)
{
    if (!self) return;
    limits_leave();
    tree_leave(&self->tree);
}

static void die_with_job(struct running *r)
{
    if (r && r->job.pid > 0) tree_signal(r->tree, r->job.pid, SIGKILL);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    leave_cgroups();
    _exit(0);
}

/* Reaps every child that has exited; records the main process's status. */
static void reap(struct running *r)
{
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, WNOHANG, &ru);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return;
        bool stage = false;
        for (int i = 0; r && i < r->job.n_stages; i++)
            stage |= r->job.stage_pids[i] == pid;
        if (stage && !r->exited) {
            if (pid == r->job.last) { /* the last stage's status is the job's */
                r->status = status;
                r->usage = ru;
            }
            if (--r->job.stages_left > 0) continue; /* a pipeline ends with its last stage */
            r->exited = true;
            r->drain_until_ms = now_ms() + DRAIN_AFTER_EXIT_MS;
            /* whatever the job left running in its tree dies with it (like a systemd unit) */
            tree_kill_leftovers(r->tree, r->job.pid);
        }
    }
}

static void handle_signals(struct worker *w, struct running *r)
{
    struct signalfd_siginfo si;
    while (read(w->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM) die_with_job(r);
    }
    reap(r);
}

static void send_not_started(struct worker *w, int64_t id);

/* Index of held job id, or -1. */
static int held_index(const struct worker *w, int64_t id)
{
    for (int k = 0; k < w->nheld; k++)
        if (w->held[k].id == id && id) return k;
    return -1;
}

/* Removes held[k], keeping the order (its payload buffer is kept for reuse). */
static void drop_held(struct worker *w, int k)
{
    struct held gone = w->held[k];
    for (int i = k; i + 1 < w->nheld; i++)
        w->held[i] = w->held[i + 1];
    w->nheld--;
    w->held[w->nheld] = gone;
    w->held[w->nheld].id = 0;
}

/* Handles the frames already buffered: KILL for the running job (r, may be NULL) or the
 * next one, and a RUN to hold as the next job. Returns false if the stream is corrupt. */
static bool process_frames(struct worker *w, struct running *r)
{
    struct proto_header h;
    int got;
    while ((got = proto_reader_next(&w->reader, &h, &w->payload)) == 1) {
        int k = held_index(w, h.job_id);
        struct proto_kill km = {0};
        if (h.type == PROTO_KILL && proto_decode_kill(&w->payload, &km) < 0) {
            errno = EPROTO;
            worker_log(w, "malformed KILL message");
            return false;
        }
        if (h.type == PROTO_LEASE) {
            int64_t ms;
            if (proto_decode_lease(&w->payload, &ms) < 0) {
                errno = EPROTO;
                worker_log(w, "malformed LEASE message");
                return false;
            }
            w->lease_until_ms = ms > 0 ? now_ms() + ms : 0;
        } else if (h.type == PROTO_KILL && k >= 0) {
            drop_held(w, k); /* not started: dropped */
            send_not_started(w, h.job_id);
        } else if (h.type == PROTO_KILL && r && h.job_id == r->id) {
            if (km.sig == 0 || r->exited) continue; /* sig 0 withdraws a job not started */
            if (r->done.cause == PROTO_CAUSE_NONE) r->done.cause = PROTO_CAUSE_KILLED;
            tree_signal(r->tree, r->job.pid, (int)km.sig);
            int64_t at = now_ms() + km.grace_ms;
            if (!r->kill_at_ms || at < r->kill_at_ms) r->kill_at_ms = at;
        } else if (h.type == PROTO_RUN) {
            if (w->nheld == WORKER_HELD_MAX) {
                errno = EPROTO;
                worker_log(w, "more RUNs waiting than a worker holds");
                return false;
            }
            struct held *hd = &w->held[w->nheld];
            struct proto_buf tmp = hd->payload; /* keep the RUN's bytes alive */
            hd->payload = w->payload;
            w->payload = tmp;
            if (proto_decode_run(&hd->payload, &hd->run) < 0) {
                errno = EPROTO;
                worker_log(w, "malformed RUN message");
                return false;
            }
            hd->id = h.job_id;
            w->nheld++;
        } /* a KILL for a job already done is stale: ignore it */
    }
    if (got < 0) {
        errno = EPROTO;
        worker_log(w, "corrupt frame from the master");
        return false;
    }
    return true;
}

/* Reads from the channel and handles what arrived; false when closed or corrupt. */
static bool handle_channel(struct worker *w, struct running *r)
{
    long n = proto_reader_fill(&w->reader, w->channel);
    if (n == 0 || (n < 0 && errno != EAGAIN)) return false;
    return process_frames(w, r);
}

static void send_frames(struct worker *w, struct proto_buf *frames, const char *what)
{
    int rc = frames->failed ? -1 : proto_write_all(w->channel, frames->data, frames->len);
    proto_buf_free(frames);
    if (rc < 0) {
        worker_log(w, what);
        die_with_job(NULL);
    }
}

/* Reports a job's end. The master counts the worker free again when it reads it. */
static void send_done(struct worker *w, int64_t id, const struct proto_done *d)
{
    struct proto_buf payload = {0}, frames = {0};
    proto_encode_done(&payload, d);
    proto_put_frame(&frames, PROTO_DONE, id, payload.data, payload.len);
    if (payload.failed) frames.failed = true;
    proto_buf_free(&payload);
    send_frames(w, &frames, "write() failed while reporting DONE");
}

/* Reports that the held RUN was withdrawn before it started. */
static void send_not_started(struct worker *w, int64_t id)
{
    struct proto_done d = {.end = PROTO_END_NOT_STARTED};
    send_done(w, id, &d);
}

static void finish_outcome(struct running *r)
{
    struct proto_done *d = &r->done;
    if (WIFEXITED(r->status)) {
        d->end = PROTO_END_EXITED;
        d->code = WEXITSTATUS(r->status);
    } else {
        d->end = PROTO_END_SIGNALED;
        d->code = WTERMSIG(r->status);
    }
    d->stdout_bytes = r->job.out.kept;
    d->stderr_bytes = r->job.err.kept;
    d->truncated = (r->job.out.truncated ? 1 : 0) | (r->job.err.truncated ? 2 : 0);
    d->user_us = (int64_t)r->usage.ru_utime.tv_sec * 1000000 + r->usage.ru_utime.tv_usec;
    d->system_us = (int64_t)r->usage.ru_stime.tv_sec * 1000000 + r->usage.ru_stime.tv_usec;
    d->maxrss_kb = r->usage.ru_maxrss;
}

/* A finished job whose DONE is not sent yet. */
struct pending_done {
    int64_t id; /* 0: none */
    struct proto_done done;
};

static void flush_done(struct worker *w, struct pending_done *p)
{
    if (!p->id) return;
    send_done(w, p->id, &p->done);
    p->id = 0;
}

/* Runs one job to its end, leaving its DONE in *prev. The previous job's DONE (in *prev on
 * entry) is sent only once this one is started: the write wakes the master, which may take
 * this CPU for a while, and the next job should not wait for that. */
static void run_job(struct worker *w, int64_t id, const struct proto_run *run,
                    struct pending_done *prev)
{
    struct running r = {.id = id, .tree = &w->tree};
    if (w->lease_until_ms && now_ms() >= w->lease_until_ms) {
        /* the node's lease ran out (its master stopped or cut off): another node may run
         * this job, so it is not started here (the master, if it comes back, takes it back) */
        flush_done(w, prev);
        send_not_started(w, id);
        return;
    }
    int which = 0;
    if (limits_begin(&w->limits, &run->limits, &which) < 0) { /* refused, not run unlimited */
        int err = errno;
        limits_end(&w->limits);
        r.done = (struct proto_done){.end = PROTO_END_SPAWN_ERROR, .code = err};
        snprintf(r.done.error, sizeof r.done.error, "cannot set the job's %s limit: %s",
                 proto_limit_name(which),
                 err == ENOTSUP ? "this worker has no cgroup for it" : strerror(err));
        flush_done(w, prev);
        send_done(w, id, &r.done);
        return;
    }
    /* the worker's -1000 is not the job's: it gets the server's score */
    spawn_set_oom_score(w->limits.oom_score, w->limits.oom_protected);
    ledger_mark(w->index, id); /* from here on it may have started, for a master after a crash */
    usage_begin(&w->usage);
    if (spawn_start(run, &w->tree, &r.job, &r.done) < 0) {
        limits_end(&w->limits);
        if (r.job.pid > 0) { /* exec failed in the child: it exits 127 */
            while (waitpid(r.job.pid, NULL, 0) < 0 && errno == EINTR) {
            }
        }
        spawn_close(&r.job);
        flush_done(w, prev);
        send_done(w, id, &r.done);
        return;
    }
    flush_done(w, prev);
    r.start_us = now_us();
    r.done.pid = r.job.pid;
    r.done.start_us = r.start_us;
    if (run->timeout_ms > 0) r.deadline_ms = now_ms() + run->timeout_ms;
    r.grace_ms = run->kill_grace_ms;
    if (!process_frames(w, &r)) die_with_job(&r); /* a KILL sent with the RUN */

    for (;;) {
        int64_t now = now_ms();
        if (w->lease_until_ms && now >= w->lease_until_ms && !r.exited && !r.fenced) {
            /* the master did not renew the node's lease in time (stopped, cut off): another
             * node may soon run this job again, so it ends here, whatever the master does */
            r.fenced = true;
            if (r.done.cause == PROTO_CAUSE_NONE) /* (one being terminated or timed out stays so) */
                r.done.cause = PROTO_CAUSE_FENCED;
            tree_signal(r.tree, r.job.pid, SIGKILL);
        }
        if (r.deadline_ms && now >= r.deadline_ms && !r.exited) {
            r.deadline_ms = 0;
            if (r.done.cause == PROTO_CAUSE_NONE) r.done.cause = PROTO_CAUSE_TIMEOUT;
            tree_signal(r.tree, r.job.pid, SIGTERM);
            if (!r.kill_at_ms) r.kill_at_ms = now + r.grace_ms;
        }
        if (r.kill_at_ms && now >= r.kill_at_ms) {
            r.kill_at_ms = 0;
            tree_signal(r.tree, r.job.pid, SIGKILL);
        }
        bool pipes_open = r.job.out.pipe_fd >= 0 || r.job.err.pipe_fd >= 0;
        if (r.exited && (!pipes_open || now >= r.drain_until_ms)) break;
        int64_t started_in = -1; /* ms until STARTED is due, -1: sent or not needed */
        if (!r.started_sent && !r.exited) {
            int64_t left_us = r.start_us + STARTED_AFTER_US - now_us();
            if (left_us <= 0) {
                struct proto_buf b = {0};
                proto_encode_started(&b, &(struct proto_started){r.job.pid, 0, r.start_us});
                if (b.failed || proto_send(w->channel, PROTO_STARTED, id, b.data, b.len) < 0)
                    die_with_job(&r);
                proto_buf_free(&b);
                r.started_sent = true;
            } else {
                started_in = (left_us + 999) / 1000;
            }
        }

        int64_t wake = started_in;
        int64_t at[4] = {r.exited ? 0 : r.deadline_ms, r.exited ? 0 : r.kill_at_ms,
                         r.exited ? r.drain_until_ms : 0,
                         r.exited || r.fenced ? 0 : w->lease_until_ms};
        for (int i = 0; i < 4; i++)
            if (at[i] && (wake < 0 || at[i] - now < wake)) wake = at[i] - now < 0 ? 0 : at[i] - now;
        struct pollfd fds[4] = {{w->channel, POLLIN, 0},
                                {w->sigfd, POLLIN, 0},
                                {r.job.out.pipe_fd, POLLIN, 0},
                                {r.job.err.pipe_fd, POLLIN, 0}};
        if (wake > 3600 * 1000) wake = 3600 * 1000; /* poll() takes an int */
        if (poll(fds, 4, (int)wake) < 0) {
            if (errno == EINTR) continue;
            worker_log(w, "poll() failed while running a job");
            die_with_job(&r);
        }
        if (fds[1].revents) handle_signals(w, &r);
        if (fds[2].revents) spawn_drain(&r.job, &r.job.out);
        if (fds[3].revents) spawn_drain(&r.job, &r.job.err);
        if (fds[0].revents && !handle_channel(w, &r)) die_with_job(&r);
    }
    spawn_drain(&r.job, &r.job.out);
    spawn_drain(&r.job, &r.job.err);
    finish_outcome(&r);
    usage_end(&w->usage, &r.done); /* the whole tree's, where the leaf says */
    if (limits_end(&w->limits))    /* said even if the job survived it (a child was killed) */
        snprintf(r.done.error, sizeof r.done.error,
                 "the kernel's OOM killer killed %s: the job went over its memory limit of %lld "
                 "bytes",
                 r.done.end == PROTO_END_SIGNALED ? "it" : "a process of it",
                 (long long)run->limits.v[PROTO_LIMIT_MEMORY]);
    spawn_close(&r.job);
    prev->id = id;
    prev->done = r.done;
}

static int worker_loop(struct worker *w);

int worker_main(int channel_fd, int index)
{
    struct worker w = {
        .channel = channel_fd,
        .index = index,
        .sigfd = -1,
        .tree = {.procs_fd = -1, .kill_fd = -1},
        .limits = {.memory_fd = -1, .swap_fd = -1, .pids_fd = -1, .events_fd = -1, .cpu_fd = -1},
        .usage = {.stat_fd = -1, .peak_fd = -1}};
    self = &w;
    int rc = worker_loop(&w);
    leave_cgroups();
    self = NULL;
    proto_reader_free(&w.reader);
    proto_buf_free(&w.payload);
    proto_buf_free(&w.run_payload);
    for (int k = 0; k < WORKER_HELD_MAX; k++)
        proto_buf_free(&w.held[k].payload);
    if (w.sigfd >= 0) close(w.sigfd);
    tree_close(&w.tree);
    limits_close(&w.limits);
    usage_close(&w.usage);
    return rc;
}

/* Sets up signals and serves jobs until the master goes away. */
static int worker_loop(struct worker *w)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT); /* a terminal's ^C is the master's to handle: it drains */
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    w->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (w->sigfd < 0) {
        worker_log(w, "signalfd() failed");
        return 1;
    }
    /* orphans of our jobs are re-parented to us, so we can reap and kill them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    tree_open(&w->tree, w->index);
    limits_open(&w->limits, &w->tree, w->index);
    usage_open(&w->usage, &w->tree);
    /* if the master dies, we hear SIGTERM (and EOF on the channel): kill the job, exit.
     * (No getppid() == 1 check: in a container the master itself is PID 1. A master that
     * died before this line is noticed by the READY write or EOF below->) */
    prctl(PR_SET_PDEATHSIG, SIGTERM);

    spawn_init();
    if (proto_send(w->channel, PROTO_READY, 0, NULL, 0) < 0) return 0;
    struct pending_done prev = {0};
    for (;;) {
        if (w->nheld == 0) flush_done(w, &prev); /* nothing to start first: report now */
        /* the master keeps a next job here while one runs, so a job that ends is followed
         * by the next one at once, without a round trip to the master */
        while (w->nheld == 0) {
            struct pollfd fds[2] = {{w->channel, POLLIN, 0}, {w->sigfd, POLLIN, 0}};
            if (poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                worker_log(w, "poll() failed while idle");
                return 1;
            }
            if (fds[1].revents) handle_signals(w, NULL);
            if (fds[0].revents && !handle_channel(w, NULL)) return 0;
        }
        struct proto_buf tmp = w->run_payload; /* the first held RUN becomes the current one */
        w->run_payload = w->held[0].payload;
        w->held[0].payload = tmp;
        struct proto_run run = w->held[0].run;
        int64_t id = w->held[0].id;
        drop_held(w, 0);
        run_job(w, id, &run, &prev);
    }
}
