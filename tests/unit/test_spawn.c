/* Unit tests for pool/spawn: real jobs started with spawn_start, their output drained into
 * capture files in a temporary directory, every process reaped. The test process is a child
 * subreaper, so grandchildren orphaned by a job come back to it and can be reaped too. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pool/spawn.h"

extern char **environ;

static char dir[] = "/tmp/spawnpool-test-spawn-XXXXXX";
static char out_path[256], err_path[256];

/* The options of one test job; zero means the default. */
struct opts {
    const char *cwd; /* default /tmp */
    const char *stdin_data;
    uint32_t stdin_len;
    const char *env_blob;
    uint32_t env_len;
    uint64_t max_output; /* default 1 MiB */
    const char *stdout_path;
    struct proto_limits limits;
};

static char argv_buf[4096];

static struct proto_run make_run(const char *const *args, const struct opts *o)
{
    size_t len = 0;
    for (const char *const *a = args; *a; a++) {
        size_t n = strlen(*a) + 1;
        if (len + n > sizeof argv_buf) exit(2);
        memcpy(argv_buf + len, *a, n);
        len += n;
    }
    struct proto_run r = {
        .max_output = o && o->max_output ? o->max_output : 1u << 20,
        .cwd = o && o->cwd ? o->cwd : "/tmp",
        .stdout_path = o && o->stdout_path ? o->stdout_path : out_path,
        .stderr_path = err_path,
        .argv_blob = argv_buf,
        .argv_len = (uint32_t)len,
        .env_blob = o ? o->env_blob : NULL,
        .env_len = o ? o->env_len : 0,
        .stdin_data = o ? o->stdin_data : NULL,
        .stdin_len = o ? o->stdin_len : 0,
        .limits = o ? o->limits : (struct proto_limits){0},
    };
    return r;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drains both pipes until spawn_drain says EOF on each (waiting with poll, 60 s at most),
 * reaps the job, closes its fds. Returns the wait status. */
static int finish(struct spawn_job *job)
{
    int64_t deadline = now_ms() + 60000;
    for (;;) {
        struct pollfd p[2];
        nfds_t n = 0;
        if (job->out.pipe_fd >= 0) p[n++] = (struct pollfd){job->out.pipe_fd, POLLIN, 0};
        if (job->err.pipe_fd >= 0) p[n++] = (struct pollfd){job->err.pipe_fd, POLLIN, 0};
        if (n == 0) break;
        int64_t left = deadline - now_ms();
        int rc = left > 0 ? poll(p, n, (int)left) : 0;
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) {
            CHECK(!"the job's pipes did not reach EOF within 60 s");
            spawn_signal_tree(job, SIGKILL);
            deadline = now_ms() + 60000;
            continue;
        }
        int a = spawn_drain(job, &job->out), b = spawn_drain(job, &job->err);
        CHECK((a == 0) == (job->out.pipe_fd < 0));
        CHECK((b == 0) == (job->err.pipe_fd < 0));
    }
    /* once at EOF, drain keeps saying 0 */
    CHECK(spawn_drain(job, &job->out) == 0);
    CHECK(spawn_drain(job, &job->err) == 0);
    int status = -1;
    pid_t w;
    do
        w = waitpid(job->pid, &status, 0);
    while (w < 0 && errno == EINTR);
    CHECK(w == job->pid);
    spawn_close(job);
    CHECK(job->out.file_fd == -1 && job->err.file_fd == -1);
    return status;
}

/* Reads a whole small file into buf (NUL-terminated); returns its length or -1. */
static long slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len == cap - 1) break;
    }
    close(fd);
    buf[len] = '\0';
    return (long)len;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static bool exited_with(int status, int code)
{
    return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/* Runs args to the end; returns the wait status, stdout in out (and its length in *n). */
static int run(const char *const *args, const struct opts *o, struct spawn_job *job, char *out,
               size_t cap, long *n)
{
    struct proto_run r = make_run(args, o);
    struct proto_done done;
    memset(&done, 0x5a, sizeof done);
    /* capture files are made on the first byte: clear the previous run's */
    unlink(r.stdout_path);
    unlink(r.stderr_path);
    int rc = spawn_start(&r, NULL, job, &done);
    CHECK(rc == 0);
    if (rc != 0) {
        fprintf(stderr, "spawn_start(%s): %s\n", args[0], done.error);
        if (job->pid > 0) waitpid(job->pid, NULL, 0);
        spawn_close(job);
        return -1;
    }
    CHECK(job->pid > 0);
    int status = finish(job);
    long len = slurp(r.stdout_path, out, cap);
    if (n) *n = len;
    return status;
}

static void test_echo(void)
{
    int fds = count_fds();
    struct spawn_job job;
    char out[256];
    long n = -1;
    int status =
        run((const char *const[]){"/bin/echo", "hello", NULL}, NULL, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK_EQ_INT(n, 6);
    CHECK(strcmp(out, "hello\n") == 0);
    CHECK_EQ_INT(job.out.kept, 6);
    CHECK(!job.out.truncated);
    CHECK_EQ_INT(job.err.kept, 0);
    CHECK_EQ_INT(file_size(err_path), -1); /* no bytes, no file */
    CHECK_EQ_INT(count_fds(), fds);        /* nothing left open in the worker */

    /* PATH lookup, stderr, exit code */
    status = run((const char *const[]){"sh", "-c", "echo out; echo err >&2; exit 3", NULL}, NULL,
                 &job, out, sizeof out, &n);
    CHECK(exited_with(status, 3));
    CHECK(strcmp(out, "out\n") == 0);
    char err[64];
    CHECK(slurp(err_path, err, sizeof err) == 4 && strcmp(err, "err\n") == 0);
    CHECK_EQ_INT(job.err.kept, 4);

    /* the cwd is applied */
    struct opts o = {.cwd = dir};
    status = run((const char *const[]){"/bin/pwd", NULL}, &o, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    char want[300];
    snprintf(want, sizeof want, "%s\n", dir);
    CHECK(strcmp(out, want) == 0);
    CHECK_EQ_INT(count_fds(), fds);
}

static void test_exec_errors(void)
{
    int fds = count_fds();
    struct proto_done done;
    struct spawn_job job;

    static const char *const missing[] = {"/nonexistent/spawnpool-test-prog", "x", NULL};
    struct proto_run r = make_run(missing, NULL);
    CHECK(spawn_start(&r, NULL, &job, &done) == -1);
    CHECK_EQ_INT(done.end, PROTO_END_SPAWN_ERROR);
    CHECK_EQ_INT(done.code, ENOENT);
    CHECK(done.error[0] != '\0');
    CHECK(strstr(done.error, "/nonexistent/spawnpool-test-prog") != NULL);
    CHECK(memchr(done.error, '\0', sizeof done.error) != NULL);
    if (job.pid > 0) {
        int status = -1;
        CHECK(waitpid(job.pid, &status, 0) == job.pid);
        CHECK(exited_with(status, 127));
    }
    spawn_close(&job);
    CHECK_EQ_INT(count_fds(), fds);

    /* not found on PATH */
    r = make_run((const char *const[]){"spawnpool-no-such-program-xyz", NULL}, NULL);
    CHECK(spawn_start(&r, NULL, &job, &done) == -1);
    CHECK_EQ_INT(done.end, PROTO_END_SPAWN_ERROR);
    CHECK_EQ_INT(done.code, ENOENT);
    CHECK(strstr(done.error, "spawnpool-no-such-program-xyz") != NULL);
    if (job.pid > 0) CHECK(waitpid(job.pid, NULL, 0) == job.pid);
    spawn_close(&job);

    /* a file without execute permission */
    char noexec[300];
    snprintf(noexec, sizeof noexec, "%s/noexec.sh", dir);
    int fd = open(noexec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, "#!/bin/sh\necho no\n", 18) == 18);
        close(fd);
    }
    r = make_run((const char *const[]){noexec, NULL}, NULL);
    CHECK(spawn_start(&r, NULL, &job, &done) == -1);
    CHECK_EQ_INT(done.end, PROTO_END_SPAWN_ERROR);
    CHECK_EQ_INT(done.code, EACCES);
    if (job.pid > 0) CHECK(waitpid(job.pid, NULL, 0) == job.pid);
    spawn_close(&job);
    unlink(noexec);

    /* a cwd that does not exist: the error says chdir */
    struct opts o = {.cwd = "/nonexistent/spawnpool-test-dir"};
    r = make_run((const char *const[]){"/bin/echo", "never", NULL}, &o);
    CHECK(spawn_start(&r, NULL, &job, &done) == -1);
    CHECK_EQ_INT(done.end, PROTO_END_SPAWN_ERROR);
    CHECK_EQ_INT(done.code, ENOENT);
    CHECK(strstr(done.error, "chdir") != NULL);
    if (job.pid > 0) {
        int status = -1;
        CHECK(waitpid(job.pid, &status, 0) == job.pid);
        CHECK(exited_with(status, 127));
    }
    while (spawn_drain(&job, &job.out) == 1) {
    }
    spawn_close(&job);
    CHECK_EQ_INT(job.out.kept, 0); /* echo never ran: nothing came through its pipe */

    /* an output file that cannot be created: the job runs, its bytes are dropped and the
     * stream is marked truncated */
    o = (struct opts){.stdout_path = "/nonexistent/spawnpool-test-dir/out"};
    char buf[64];
    long got;
    int status =
        run((const char *const[]){"/bin/echo", "dropped", NULL}, &o, &job, buf, sizeof buf, &got);
    CHECK(exited_with(status, 0));
    CHECK_EQ_INT(job.out.kept, 0);
    CHECK(job.out.truncated);

    CHECK_EQ_INT(count_fds(), fds);
}

static void test_process_group(void)
{
    struct proto_done done;
    struct spawn_job job;
    /* killed, not finished: it would sleep for 5 minutes (the status says SIGKILL) */
    struct proto_run r = make_run((const char *const[]){"sleep", "300", NULL}, NULL);
    CHECK(spawn_start(&r, NULL, &job, &done) == 0);
    CHECK(job.pid > 0);
    if (job.pid <= 0) return;
    CHECK(getpgid(job.pid) == job.pid);
    CHECK(getpgid(job.pid) != getpgrp());
    spawn_signal_tree(&job, SIGKILL);
    int status = finish(&job);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* The whole tree: a background grandchild in the same group dies too. */
    r = make_run((const char *const[]){"/bin/sh", "-c", "sleep 300 & echo $!; wait", NULL}, NULL);
    CHECK(spawn_start(&r, NULL, &job, &done) == 0);
    if (job.pid <= 0) return;
    /* wait until the grandchild's pid has been printed */
    char out[64] = "";
    int64_t deadline = now_ms() + 60000;
    while (!strchr(out, '\n') && now_ms() < deadline) {
        struct pollfd p = {job.out.pipe_fd, POLLIN, 0};
        if (p.fd < 0 || poll(&p, 1, 1000) < 0) break;
        spawn_drain(&job, &job.out);
        slurp(out_path, out, sizeof out);
    }
    pid_t grandchild = (pid_t)atoi(out);
    CHECK(grandchild > 0);
    CHECK(grandchild <= 0 || getpgid(grandchild) == job.pid);
    spawn_signal_tree(&job, SIGKILL);
    status = finish(&job);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    if (grandchild > 0) {
        /* orphaned, it came back to this process (the subreaper) */
        int gstatus = -1;
        CHECK(waitpid(grandchild, &gstatus, 0) == grandchild);
        CHECK(WIFSIGNALED(gstatus) && WTERMSIG(gstatus) == SIGKILL);
    }
}

static void test_output_cap(void)
{
    struct spawn_job job;
    char out[64];
    long n;
    /* 100000 bytes (more than a pipe holds: the job only finishes if it is drained) */
    struct opts o = {.max_output = 1000};
    int status = run((const char *const[]){"head", "-c", "100000", "/dev/zero", NULL}, &o, &job,
                     out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK_EQ_INT(file_size(out_path), 1000);
    CHECK_EQ_INT(job.out.kept, 1000);
    CHECK(job.out.truncated);
    CHECK(!job.err.truncated);

    /* exactly the cap: kept whole, not truncated */
    o.max_output = 5;
    status = run((const char *const[]){"printf", "12345", NULL}, &o, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(n == 5 && strcmp(out, "12345") == 0);
    CHECK(!job.out.truncated);
    /* one byte over */
    status = run((const char *const[]){"printf", "123456", NULL}, &o, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(n == 5 && strcmp(out, "12345") == 0);
    CHECK_EQ_INT(job.out.kept, 5);
    CHECK(job.out.truncated);

    /* the streams are capped separately */
    o.max_output = 3;
    status = run((const char *const[]){"sh", "-c", "printf ab; printf abcdef >&2", NULL}, &o, &job,
                 out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(strcmp(out, "ab") == 0 && !job.out.truncated);
    CHECK_EQ_INT(file_size(err_path), 3);
    CHECK(job.err.truncated);
}

static void test_stdin(void)
{
    struct spawn_job job;
    char out[64];
    long n;
    struct opts o = {.stdin_data = "abc", .stdin_len = 3};
    int status = run((const char *const[]){"cat", NULL}, &o, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(n == 3 && strcmp(out, "abc") == 0);

    /* no stdin: it reads end of file at once */
    status = run((const char *const[]){"cat", NULL}, NULL, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK_EQ_INT(job.out.kept, 0);
    CHECK_EQ_INT(n, -1); /* no bytes: no capture file */

    /* binary and larger than a pipe */
    enum { BIG = 300000 };
    char *big = malloc(BIG);
    char *back = malloc(BIG + 1);
    CHECK(big && back);
    if (!big || !back) return;
    for (int i = 0; i < BIG; i++)
        big[i] = (char)(i * 13);
    o = (struct opts){.stdin_data = big, .stdin_len = BIG};
    status = run((const char *const[]){"cat", NULL}, &o, &job, back, BIG + 1, &n);
    CHECK(exited_with(status, 0));
    CHECK_EQ_INT(n, BIG);
    CHECK(n == BIG && memcmp(back, big, BIG) == 0);
    free(big);
    free(back);
}

/* Sorted, space-separated fd numbers from a listing with one path or number per line. */
static void fd_list(const char *listing, char *out, size_t cap)
{
    int fds[64], n = 0;
    for (const char *line = listing; *line && n < 64;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        const char *slash = end;
        while (slash > line && slash[-1] != '/')
            slash--;
        fds[n++] = atoi(slash);
        line = nl ? nl + 1 : end;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, i ? " %d" : "%d", fds[i]);
}

static void test_only_std_fds(void)
{
    /* Plant fds without FD_CLOEXEC in this process: the job must not inherit them (nor the
     * spawn's own pipes, nor whatever the test harness left open). */
    int planted_low = open("/dev/null", O_RDONLY);
    int planted_high = dup2(planted_low, 200);
    CHECK(planted_low >= 0 && planted_high == 200);
    CHECK((fcntl(200, F_GETFD) & FD_CLOEXEC) == 0);

    struct spawn_job job;
    char out[512], got[128];
    long n;
    /* ls runs as a child of the shell and lists the shell's fds, which sh -c does not add
     * to: exactly what the job was started with. */
    int status = run((const char *const[]){"/bin/sh", "-c", "ls /proc/$$/fd; exit 0", NULL}, NULL,
                     &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    fd_list(out, got, sizeof got);
    if (strcmp(got, "0 1 2") != 0) fprintf(stderr, "job fds (via ls): %s\n", got);
    CHECK(strcmp(got, "0 1 2") == 0);

    /* The shell lists its own fds with a glob. Expanding the glob opens the directory,
     * which takes the lowest free fd and is listed too: with only 0-2 inherited that is 3.
     * Any inherited extra fd would show up itself and also push that one to 4 or more. */
    status = run(
        (const char *const[]){"/bin/sh", "-c", "for f in /proc/$$/fd/*; do echo $f; done", NULL},
        NULL, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    fd_list(out, got, sizeof got);
    if (strcmp(got, "0 1 2 3") != 0) fprintf(stderr, "job fds (via glob): %s\n", got);
    CHECK(strcmp(got, "0 1 2 3") == 0);

    close(planted_low);
    close(planted_high);
}

static void test_signals_reset(void)
{
    /* The worker may ignore or block signals; the job starts with neither. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_pipe;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old_mask);
    spawn_init(); /* the worker calls it once its own dispositions are set */

    struct spawn_job job;
    char out[8192];
    long n;
    int status = run((const char *const[]){"cat", "/proc/self/status", NULL}, NULL, &job, out,
                     sizeof out, &n);
    CHECK(exited_with(status, 0));
    const char *ign_line = strstr(out, "\nSigIgn:");
    const char *blk_line = strstr(out, "\nSigBlk:");
    CHECK(ign_line && strncmp(ign_line, "\nSigIgn:\t0000000000000000\n", 26) == 0);
    CHECK(blk_line && strncmp(blk_line, "\nSigBlk:\t0000000000000000\n", 26) == 0);
    if (ign_line && strncmp(ign_line, "\nSigIgn:\t0000000000000000\n", 26) != 0)
        fprintf(stderr, "the job's status says: %.60s\n", ign_line + 1);

    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
}

static size_t env_count(char **envp)
{
    size_t n = 0;
    while (envp[n])
        n++;
    return n;
}

static int count_key(char **envp, const char *key, const char **value)
{
    size_t klen = strlen(key);
    int n = 0;
    for (size_t i = 0; envp[i]; i++)
        if (strncmp(envp[i], key, klen) == 0 && envp[i][klen] == '=') {
            n++;
            if (value) *value = envp[i] + klen + 1;
        }
    return n;
}

static void test_build_env(void)
{
    setenv("HOME", "/original-home", 1);
    setenv("HOMEX", "keep-me", 1);
    setenv("SPAWNPOOL_TEST_KEEP", "1", 1);
    size_t base = env_count(environ);

    static const char blob[] = "HOME=/x\0NEWKEY=1\0HOM=prefix\0EMPTY=";
    char **envp = spawn_build_env(blob, sizeof blob);
    CHECK(envp != NULL);
    if (!envp) return;
    const char *v = NULL;
    CHECK_EQ_INT(count_key(envp, "HOME", &v), 1);
    CHECK(v && strcmp(v, "/x") == 0);
    v = NULL;
    CHECK_EQ_INT(count_key(envp, "HOMEX", &v), 1); /* a longer key is not overridden */
    CHECK(v && strcmp(v, "keep-me") == 0);
    CHECK_EQ_INT(count_key(envp, "HOM", &v), 1);
    CHECK(v && strcmp(v, "prefix") == 0);
    CHECK_EQ_INT(count_key(envp, "NEWKEY", &v), 1);
    CHECK_EQ_INT(count_key(envp, "EMPTY", &v), 1);
    CHECK(v && strcmp(v, "") == 0);
    CHECK_EQ_INT(count_key(envp, "SPAWNPOOL_TEST_KEEP", NULL), 1);
    CHECK_EQ_INT(env_count(envp), base + 3); /* HOME replaced, three new */
    free(envp);

    /* No overrides: the environment as it is. */
    envp = spawn_build_env(NULL, 0);
    CHECK(envp != NULL);
    if (envp) {
        CHECK_EQ_INT(env_count(envp), base);
        bool same = true;
        for (size_t i = 0; i < base; i++)
            same = same && envp[i] == environ[i];
        CHECK(same);
        free(envp);
    }

    /* And the job sees it. */
    struct opts o = {.env_blob = blob, .env_len = sizeof blob};
    struct spawn_job job;
    char out[128];
    long n;
    int status = run((const char *const[]){"/bin/sh", "-c", "echo \"$HOME|$NEWKEY|$HOMEX\"", NULL},
                     &o, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(strcmp(out, "/x|1|keep-me\n") == 0);
}

/* rlimits are set in the child, soft and hard, and only where asked */
static void test_rlimits(void)
{
    struct opts o = {
        .limits = {.set = 1u << PROTO_LIMIT_NOFILE | 1u << PROTO_LIMIT_CORE | 1u << PROTO_LIMIT_AS,
                   .v = {[PROTO_LIMIT_NOFILE] = 77,
                         [PROTO_LIMIT_CORE] = 0,
                         [PROTO_LIMIT_AS] = (int64_t)512 << 20}}};
    struct spawn_job job;
    char out[256];
    long n;
    int status = run((const char *const[]){"/bin/sh", "-c",
                                           "ulimit -Sn; ulimit -Hn; ulimit -c; ulimit -v", NULL},
                     &o, &job, out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(strcmp(out, "77\n77\n0\n524288\n") == 0);

    /* none asked: the worker's own */
    struct rlimit mine;
    getrlimit(RLIMIT_NOFILE, &mine);
    char want[64];
    snprintf(want, sizeof want, "%llu\n", (unsigned long long)mine.rlim_cur);
    status = run((const char *const[]){"/bin/sh", "-c", "ulimit -Sn", NULL}, NULL, &job, out,
                 sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(strcmp(out, want) == 0);

    /* one that cannot be set is a spawn error naming it (an address space too small to exec
     * is not: exec fails; so ask for more open files than the kernel allows) */
    o.limits = (struct proto_limits){.set = 1u << PROTO_LIMIT_NOFILE, .v = {1 << 30}};
    struct proto_run r = make_run((const char *const[]){"/bin/true", NULL}, &o);
    struct proto_done done;
    CHECK(spawn_start(&r, NULL, &job, &done) == -1);
    CHECK_EQ_INT(done.end, PROTO_END_SPAWN_ERROR);
    CHECK(strstr(done.error, "nofile limit to 1073741824") != NULL);
    if (job.pid > 0) CHECK(waitpid(job.pid, NULL, 0) == job.pid);
    spawn_close(&job);
}

/* A job of a worker that lowered its own oom_score_adj gets the server's back, before its
 * rlimits (a tiny nofile must not leave it without an fd to do it with) */
static void test_oom_score(void)
{
    struct opts o = {.limits = {.set = 1u << PROTO_LIMIT_NOFILE, .v = {[PROTO_LIMIT_NOFILE] = 8}}};
    struct spawn_job job;
    char out[64];
    long n;
    spawn_set_oom_score(500, true); /* raising is allowed to anyone: checkable here */
    int status = run((const char *const[]){"/bin/cat", "/proc/self/oom_score_adj", NULL}, &o, &job,
                     out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(strcmp(out, "500\n") == 0);
    spawn_set_oom_score(0, false); /* off: inherited from us */
    char mine[16] = "";
    FILE *f = fopen("/proc/self/oom_score_adj", "r");
    if (f) {
        if (!fgets(mine, sizeof mine, f)) mine[0] = '\0';
        fclose(f);
    }
    status = run((const char *const[]){"/bin/cat", "/proc/self/oom_score_adj", NULL}, NULL, &job,
                 out, sizeof out, &n);
    CHECK(exited_with(status, 0));
    CHECK(strcmp(out, mine) == 0);
}

int main(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) perror("prctl(PR_SET_CHILD_SUBREAPER)");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(out_path, sizeof out_path, "%s/stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    spawn_init(); /* as the worker does: opens /dev/null once, notes dispositions */

    test_echo();
    test_exec_errors();
    test_process_group();
    test_output_cap();
    test_stdin();
    test_only_std_fds();
    test_signals_reset();
    test_build_env();
    test_rlimits();
    test_oom_score();

    /* every child was reaped */
    errno = 0;
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);

    unlink(out_path);
    unlink(err_path);
    CHECK(rmdir(dir) == 0);
    return check_report();
}
