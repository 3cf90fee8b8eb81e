/* spawn: fork+exec of one job with its own process group, stdin from a memfd,
 * stdout/stderr through pipes into capped capture files, exec errors reported back. */
#include "pool/spawn.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

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
    while (environ[base]) base++;
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
        if (!overridden) envp[n++] = environ[i];
    }
    for (const char *e = env_blob; e < env_blob + env_len; e += strlen(e) + 1) envp[n++] = (char *)e;
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
    for (const char *a = blob; a < blob + len; a += strlen(a) + 1) argv[i++] = (char *)a;
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

static int open_stdin(const struct proto_run *run)
{
    if (run->stdin_len == 0) return open("/dev/null", O_RDONLY | O_CLOEXEC);
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

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(int in, int out, int err, int report, const struct tree *tree,
                       const char *cwd, const char *program, char **argv, char **envp)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* ignored signals survive exec: reset every one. glibc refuses its own two (32, 33),
     * which a parent may still have left ignored: those go through the raw syscall. */
    for (int s = 1; s < NSIG; s++) {
        if (signal(s, SIG_DFL) != SIG_ERR || s == SIGKILL || s == SIGSTOP) continue;
        struct {
            void (*handler)(int);
            unsigned long flags;
            void (*restorer)(void);
            uint64_t mask;
        } kernel_default = {SIG_DFL, 0, NULL, 0};
        syscall(SYS_rt_sigaction, s, &kernel_default, NULL, sizeof kernel_default.mask);
    }
    setpgid(0, 0);
    if (tree_enter(tree) < 0) {
        int e = errno | 0x20000; /* failed joining the cgroup */
        (void)!write(report, &e, sizeof e);
        _exit(127);
    }
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) goto fail;
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); /* report pipe stays usable until exec */
    if (chdir(cwd) < 0) {
        int e = errno | 0x10000; /* high bit: failed in chdir, not exec */
        (void)!write(report, &e, sizeof e);
        _exit(127);
    }
    execve(program, argv, envp);
fail:;
    int e = errno;
    (void)!write(report, &e, sizeof e);
    _exit(127);
}

static int open_capture(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
}

int spawn_start(const struct proto_run *run, const struct tree *tree, struct spawn_job *job,
                struct proto_done *done)
{
    int in = -1, out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
    char **argv = NULL, **envp = NULL;
    memset(job, 0, sizeof *job);
    job->pid = -1;
    job->out.pipe_fd = job->out.file_fd = job->err.pipe_fd = job->err.file_fd = -1;
    job->max_output = run->max_output;

    argv = build_argv(run->argv_blob, run->argv_len);
    envp = spawn_build_env(run->env_blob, run->env_len);
    if (!argv || !envp) {
        spawn_error(done, ENOMEM, "allocating argv and environment");
        goto fail;
    }
    char program[PATH_MAX];
    int lookup = resolve_program(argv[0], run->env_blob, run->env_len, program, sizeof program);
    if (lookup != 0) {
        spawn_error(done, lookup, "exec failed");
        snprintf(done->error, sizeof done->error, "cannot execute %s: %s", argv[0],
                 lookup == ENOENT ? "No such file or directory (not found in PATH)"
                                  : strerror(lookup));
        goto fail;
    }
    if ((job->out.file_fd = open_capture(run->stdout_path)) < 0 ||
        (job->err.file_fd = open_capture(run->stderr_path)) < 0) {
        spawn_error(done, errno, "open() failed while creating the output files");
        goto fail;
    }
    if ((in = open_stdin(run)) < 0) {
        spawn_error(done, errno, "preparing stdin");
        goto fail;
    }
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
        spawn_error(done, errno, "pipe2() failed");
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        spawn_error(done, errno, "fork() failed");
        goto fail;
    }
    if (pid == 0) child_exec(in, out[1], err[1], report[1], tree, run->cwd, program, argv, envp);
    setpgid(pid, pid); /* also in the child: whichever runs first wins the race */
    close(report[1]);
    report[1] = -1;
    close(in);
    close(out[1]);
    close(err[1]);
    in = out[1] = err[1] = -1;

    int child_errno = 0;
    ssize_t n;
    do n = read(report[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(report[0]);
    job->pid = pid;
    job->out.pipe_fd = out[0];
    job->err.pipe_fd = err[0];
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    free(argv);
    free(envp);
    if (n == (ssize_t)sizeof child_errno) {
        /* the child has exited 127; the worker reaps it and reports this error */
        bool in_chdir = child_errno & 0x10000, in_cgroup = child_errno & 0x20000;
        child_errno &= 0xffff;
        spawn_error(done, child_errno,
                    in_chdir    ? "chdir() to the job's cwd failed"
                    : in_cgroup ? "joining the job's cgroup failed"
                                : "exec failed");
        if (!in_chdir && !in_cgroup)
            snprintf(done->error, sizeof done->error, "cannot execute %s: %s", run->argv_blob,
                     strerror(child_errno));
        return -1;
    }
    return 0;

fail:
    if (in >= 0) close(in);
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
        if (report[i] >= 0) close(report[i]);
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
