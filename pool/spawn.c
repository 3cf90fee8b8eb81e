/* spawn: fork+exec of one job with its own process group, stdin from a memfd,
 * stdout/stderr through pipes into capped capture files, exec errors reported back. */
#include "pool/spawn.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool/limits.h"

extern char **environ;

#define FAIL_CHDIR 0x10000 /* child failure flags, or'ed with errno */
#define FAIL_CGROUP 0x20000
#define FAIL_IDENTITY 0x40000
#define FAIL_LIMIT 0x80000 /* with the limit (enum proto_limit) << FAIL_LIMIT_SHIFT */
#define FAIL_LIMIT_SHIFT 20
#define FAIL_OOM_SCORE 0x1000000

static bool run_as; /* --run-as given: jobs drop to run_uid:run_gid before exec */
static uid_t run_uid;
static gid_t run_gid;

void spawn_set_identity(uid_t uid, gid_t gid)
{
    run_as = true;
    run_uid = uid;
    run_gid = gid;
}

static char job_oom_score[16]; /* what a job's oom_score_adj is set to; "": inherited */

void spawn_set_oom_score(int score, bool on)
{
    if (on)
        snprintf(job_oom_score, sizeof job_oom_score, "%d", score);
    else
        job_oom_score[0] = '\0';
}

static int devnull = -1; /* every job without stdin reads this one */

static void spawn_error(struct proto_done *done, int err, const char *what)
{
    memset(done, 0, sizeof *done);
    done->end = PROTO_END_SPAWN_ERROR;
    done->code = err;
    snprintf(done->error, sizeof done->error, "%s: %s", what, strerror(err));
}

char **spawn_build_env(const char *env_blob, uint32_t env_len)
{
    size_t base = 0, extra = 0;
    while (environ[base])
        base++;
    for (uint32_t i = 0; i < env_len; i++)
        if (env_blob[i] == '\0') extra++;
    char **envp = calloc(base + extra + 1, sizeof *envp);
    if (!envp) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < base; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (const char *e = env_blob; e < env_blob + env_len; e += strlen(e) + 1)
            if (strncmp(e, environ[i], klen) == 0 && e[klen] == '=') {
                overridden = true;
                break;
            }
        /* the server's own secrets stay with it: the store's password (libpq reads it from
         * PGPASSWORD) and the store's URL (SPAWNPOOL_DATABASE, maybe with a password) are not
         * every job's (a job that needs them gives them in its env) */
        bool secret = (klen == 10 && strncmp(environ[i], "PGPASSWORD", 10) == 0) ||
                      (klen == 18 && strncmp(environ[i], "SPAWNPOOL_DATABASE", 18) == 0);
        if (!overridden && !secret) envp[n++] = environ[i];
    }
    for (const char *e = env_blob; e < env_blob + env_len; e += strlen(e) + 1)
        envp[n++] = (char *)e;
    envp[n] = NULL;
    return envp;
}

static char **build_argv(const char *blob, uint32_t len)
{
    long argc = proto_blob_count(blob, len);
    if (argc < 1) return NULL;
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    if (!argv) return NULL;
    long i = 0;
    for (const char *a = blob; a < blob + len; a += strlen(a) + 1)
        argv[i++] = (char *)a;
    return argv;
}

/* Finds the program like execvp, but with the job's PATH (its env override, else ours),
 * before the fork: a missing program costs no process. Relative PATH entries are skipped.
 * Returns 0 with the path in out, or an errno (ENOENT, EACCES). */
static int resolve_program(const char *name, const char *env_blob, uint32_t env_len, char *out,
                           size_t n)
{
    if (strchr(name, '/')) {
        if (strlen(name) >= n) return ENAMETOOLONG;
        strcpy(out, name);
        return 0;
    }
    const char *path = NULL;
    for (const char *e = env_blob; e < env_blob + env_len; e += strlen(e) + 1)
        if (strncmp(e, "PATH=", 5) == 0) path = e + 5;
    if (!path) path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    int err = ENOENT;
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && p[0] == '/' && len + strlen(name) + 2 <= n) {
            memcpy(out, p, len);
            out[len] = '/';
            strcpy(out + len + 1, name);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
                if (access(out, X_OK) == 0) return 0;
                err = EACCES;
            }
        }
        p = end ? end + 1 : p + len;
    }
    return err;
}

/* Opens the job's stdin: a file (stdin_from), a memfd with the bytes, or /dev/null (one fd
 * kept for all jobs; *owned tells whether the caller must close it). */
static int open_stdin(const struct proto_run *run, bool *owned)
{
    *owned = false;
    if (run->stdin_path && run->stdin_path[0]) {
        int fd = open(run->stdin_path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            *owned = true;
            return fd;
        }
        if (errno != ENOENT) return -1; /* a producer that wrote nothing has no file */
    }
    if (run->stdin_len == 0) {
        if (devnull < 0) devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return devnull;
    }
    *owned = true;
    int fd = memfd_create("spawnpool-stdin", MFD_CLOEXEC);
    if (fd < 0) return -1;
    const char *p = run->stdin_data;
    size_t left = run->stdin_len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Signals whose disposition is not the default in this process (filled by spawn_init):
 * only these need resetting in a job's child. -1 entries end the list. */
static int reset_list[NSIG];
static bool reset_list_ready;

struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

void spawn_init(void)
{
    /* raw syscalls: glibc hides its own signals (32, 33) from sigaction() */
    int n = 0;
    for (int sig = 1; sig < NSIG; sig++) {
        struct kernel_sigaction old;
        if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof old.mask) == 0 &&
            old.handler != SIG_DFL)
            reset_list[n++] = sig;
    }
    reset_list[n] = -1;
    reset_list_ready = true;
    if (devnull < 0) devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void reset_signal(int sig)
{
    struct kernel_sigaction dfl = {SIG_DFL, 0, NULL, 0};
    syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
}

/* In the vfork'd child, sharing the worker's memory until exec: only async-signal-safe
 * calls, and nothing written to memory but *failure (how the parent learns why). */
struct child_args {
    int in, out, err;
    pid_t pgid; /* the job's process group: 0 makes one (the first stage) */
    const struct tree *tree;
    const struct proto_limits *limits;
    const char *cwd, *program;
    char **argv, **envp;
    volatile int failure; /* errno (| FAIL_*) if the child could not exec */
};

static _Noreturn void child_exec(struct child_args *a)
{
    /* ignored signals survive exec: reset every non-default one (all, without spawn_init) */
    if (reset_list_ready)
        for (int i = 0; reset_list[i] > 0; i++)
            reset_signal(reset_list[i]);
    else
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP) reset_signal(sig);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, a->pgid);
    if (tree_enter(a->tree) < 0) {
        a->failure = errno | FAIL_CGROUP;
        _exit(127);
    }
    /* the worker made itself unkillable for this job; the job must not be: its score back
     * (before rlimits, which may leave no fd to open it with, and before setuid, after
     * which /proc/self is no longer ours to write). Better not run than run unkillable. */
    if (job_oom_score[0]) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        size_t n = strlen(job_oom_score);
        if (fd < 0 || write(fd, job_oom_score, n) != (ssize_t)n) {
            a->failure = errno | FAIL_OOM_SCORE;
            _exit(127);
        }
        close(fd);
    }
    if (dup2(a->in, 0) < 0 || dup2(a->out, 1) < 0 || dup2(a->err, 2) < 0) {
        a->failure = errno;
        _exit(127);
    }
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    /* rlimits once fds 0-2 are in place (a small nofile cannot break them), and before
     * dropping privileges: only root may raise a hard limit */
    int which = 0;
    if (a->limits->set && limits_set_rlimits(a->limits, &which) < 0) {
        a->failure = errno | FAIL_LIMIT | which << FAIL_LIMIT_SHIFT;
        _exit(127);
    }
    /* after joining the cgroup (root's to write), before anything of the job's runs */
    if (run_as && (setgroups(0, NULL) < 0 || setgid(run_gid) < 0 || setuid(run_uid) < 0)) {
        a->failure = errno | FAIL_IDENTITY;
        _exit(127);
    }
    if (chdir(a->cwd) < 0) {
        a->failure = errno | FAIL_CHDIR;
        _exit(127);
    }
    execve(a->program, a->argv, a->envp);
    a->failure = errno;
    _exit(127);
}

/* vfork in a frame of its own: the child borrows this stack until it execs, and nothing
 * of the caller's frame can be clobbered. */
static __attribute__((noinline)) pid_t vfork_child(struct child_args *a)
{
    pid_t pid = vfork();
    if (pid == 0) child_exec(a);
    return pid;
}

static int open_capture(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
}

/* Kills and reaps the stages started so far (a later stage could not start). */
static void abort_stages(struct spawn_job *job)
{
    if (job->pid > 0) kill(-job->pid, SIGKILL);
    for (int i = 0; i < job->n_stages; i++)
        while (waitpid(job->stage_pids[i], NULL, 0) < 0 && errno == EINTR) {
        }
    job->n_stages = job->stages_left = 0;
    job->pid = job->last = -1;
}

int spawn_start(const struct proto_run *run, const struct tree *tree, struct spawn_job *job,
                struct proto_done *done)
{
    int in = -1, out[2] = {-1, -1}, err[2] = {-1, -1}, link[2] = {-1, -1};
    bool in_owned = false;
    char **argv = NULL, **envp = NULL;
    memset(job, 0, sizeof *job);
    job->pid = job->last = -1;
    job->out.pipe_fd = job->out.file_fd = job->err.pipe_fd = job->err.file_fd = -1;
    job->out.path = run->stdout_path;
    job->err.path = run->stderr_path;
    job->max_output = run->max_output;

    int argc[PROTO_MAX_STAGES], stages = proto_run_stages(run, argc);
    argv = build_argv(run->argv_blob, run->argv_len);
    envp = spawn_build_env(run->env_blob, run->env_len);
    if (stages < 1 || !argv || !envp) {
        spawn_error(done, stages < 1 ? EINVAL : ENOMEM, "preparing argv and environment");
        goto fail;
    }
    /* every program is found before anything starts: a missing one costs no process */
    char programs[PROTO_MAX_STAGES][PATH_MAX];
    for (int s = 0, k = 0; s < stages; k += argc[s++]) {
        int lookup =
            resolve_program(argv[k], run->env_blob, run->env_len, programs[s], sizeof programs[s]);
        if (lookup != 0) {
            spawn_error(done, lookup, "exec failed");
            snprintf(done->error, sizeof done->error, "cannot execute %s: %s", argv[k],
                     lookup == ENOENT ? "No such file or directory (not found in PATH)"
                                      : strerror(lookup));
            goto fail;
        }
    }
    if ((in = open_stdin(run, &in_owned)) < 0) {
        spawn_error(done, errno, "preparing stdin");
        goto fail;
    }
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        spawn_error(done, errno, "pipe2() failed");
        goto fail;
    }
    int stage_in = in; /* what the next stage reads: the job's stdin, then the pipe */
    for (int s = 0, k = 0; s < stages; k += argc[s++]) {
        bool last = s == stages - 1;
        if (!last && pipe2(link, O_CLOEXEC) < 0) {
            spawn_error(done, errno, "pipe2() failed while joining the pipeline");
            goto fail_started;
        }
        char *saved = argv[k + argc[s]]; /* this stage's argv ends here */
        argv[k + argc[s]] = NULL;
        /* vfork: no page tables copied; we are suspended until the child execs or exits,
         * so its failure (if any) is in `failure` when vfork returns */
        struct child_args child = {.in = stage_in,
                                   .out = last ? out[1] : link[1],
                                   .err = err[1],
                                   .pgid = job->pid > 0 ? job->pid : 0,
                                   .tree = tree,
                                   .limits = &run->limits,
                                   .cwd = run->cwd,
                                   .program = programs[s],
                                   .argv = argv + k,
                                   .envp = envp};
        pid_t pid = vfork_child(&child);
        argv[k + argc[s]] = saved;
        int failure = child.failure;
        if (stage_in != in) close(stage_in);
        if (!last) close(link[1]);
        stage_in = last ? -1 : link[0];
        link[0] = link[1] = -1;
        if (pid < 0) {
            spawn_error(done, errno, "vfork() failed");
            goto fail_started;
        }
        if (job->pid < 0) job->pid = pid;
        job->stage_pids[job->n_stages++] = pid;
        job->last = pid;
        if (failure) { /* the child has exited 127: report it as the job's spawn error */
            int child_errno = failure & 0xffff;
            spawn_error(
                done, child_errno,
                failure & FAIL_CHDIR      ? "chdir() to the job's cwd failed"
                : failure & FAIL_CGROUP   ? "joining the job's cgroup failed"
                : failure & FAIL_IDENTITY ? "dropping to the --run-as user failed"
                : failure & FAIL_LIMIT    ? "setting the job's limits failed"
                : failure & FAIL_OOM_SCORE
                    ? "giving the job back its oom_score_adj failed (it would be unkillable)"
                    : "exec failed");
            if (failure & FAIL_LIMIT) {
                int which = (failure >> FAIL_LIMIT_SHIFT) & 0xf;
                if (which >= PROTO_LIMITS) which = 0;
                snprintf(done->error, sizeof done->error,
                         "cannot set the job's %s limit to %lld: %s", proto_limit_name(which),
                         (long long)run->limits.v[which], strerror(child_errno));
            } else if (!(failure & (FAIL_CHDIR | FAIL_CGROUP | FAIL_IDENTITY | FAIL_OOM_SCORE)))
                snprintf(done->error, sizeof done->error, "cannot execute %s: %s%s", argv[k],
                         strerror(child_errno),
                         child_errno == EAGAIN && run->limits.set & (1u << PROTO_LIMIT_NPROC)
                             ? " (its user has as many processes as its nproc limit)"
                             : "");
            goto fail_started;
        }
    }
    if (in_owned) close(in);
    close(out[1]);
    close(err[1]);
    job->stages_left = job->n_stages;
    job->out.pipe_fd = out[0];
    job->err.pipe_fd = err[0];
    /* blocking, a read of the job's output could stall the worker: fail the job, not it */
    if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0)
        spawn_signal_tree(job, SIGKILL);
    free(argv);
    free(envp);
    return 0;

fail_started:
    if (stage_in >= 0 && stage_in != in) close(stage_in);
    abort_stages(job);
fail:
    if (in >= 0 && in_owned) close(in);
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
        if (link[i] >= 0) close(link[i]);
    }
    spawn_close(job);
    free(argv);
    free(envp);
    return -1;
}

int spawn_drain(struct spawn_job *job, struct spawn_stream *s)
{
    char buf[65536];
    if (s->pipe_fd < 0) return 0;
    for (;;) {
        ssize_t n = read(s->pipe_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 1;
        if (n < 0) { /* a broken pipe counts as its end */
            close(s->pipe_fd);
            s->pipe_fd = -1;
            return 0;
        }
        if (n == 0) {
            close(s->pipe_fd);
            s->pipe_fd = -1;
            return 0;
        }
        size_t keep = (size_t)n;
        if (s->file_fd < 0 && !s->open_failed) { /* first bytes: only now make the file */
            s->file_fd = open_capture(s->path);
            if (s->file_fd < 0) s->open_failed = s->truncated = true;
        }
        if (s->kept + keep > job->max_output) {
            keep = (size_t)(job->max_output - s->kept);
            s->truncated = true;
        }
        size_t off = 0;
        while (off < keep && s->file_fd >= 0) {
            ssize_t w = write(s->file_fd, buf + off, keep - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) { /* disk full: keep reading so the job never blocks, mark it */
                s->truncated = true;
                break;
            }
            off += (size_t)w;
        }
        s->kept += off;
    }
}

void spawn_signal_tree(const struct spawn_job *job, int sig)
{
    if (job->pid > 0) kill(-job->pid, sig);
}

void spawn_close(struct spawn_job *job)
{
    struct spawn_stream *s[2] = {&job->out, &job->err};
    for (int i = 0; i < 2; i++) {
        if (s[i]->pipe_fd >= 0) close(s[i]->pipe_fd);
        if (s[i]->file_fd >= 0) close(s[i]->file_fd);
        s[i]->pipe_fd = s[i]->file_fd = -1;
    }
}
