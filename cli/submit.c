/* submit: `spawnpool run` and `spawnpool submit`. Both turn their options into the submit
 * body of POST /v1/jobs; run then streams the job's output live and exits as the job
 * exited, terminating it on Ctrl-C. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"

/* stdin bigger than this is refused before it is sent (the server's --max-body is 1 MiB by
 * default; a larger one can take more, up to this) */
#define STDIN_MAX (64L * 1024 * 1024)

/* Reads all of fd (at most STDIN_MAX bytes) into the job's "stdin". 0, or CLI_RUN_ERROR/
 * CLI_USAGE (said). */
static int read_stdin(const char *cmd, int fd, const char *name, json_t *job)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf) return CLI_RUN_ERROR;
    for (;;) {
        if (len == cap) {
            char probe;
            if (cap >= (size_t)STDIN_MAX && read(fd, &probe, 1) == 0) break; /* exactly full */
            if (cap >= (size_t)STDIN_MAX) {
                free(buf);
                fprintf(stderr,
                        "spawnpool %s: %s is over %ld MiB: too big to send as a job's "
                        "stdin\n",
                        cmd, name, STDIN_MAX >> 20);
                return CLI_USAGE;
            }
            char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                return CLI_RUN_ERROR;
            }
            buf = grown;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "spawnpool %s: reading %s: %s\n", cmd, name, strerror(errno));
            free(buf);
            return CLI_RUN_ERROR;
        }
        len += (size_t)n;
    }
    if (memchr(buf, '\0', len)) {
        free(buf);
        fprintf(stderr,
                "spawnpool %s: %s holds a NUL byte; the API takes a job's stdin as "
                "text (put binary input in a file the job reads)\n",
                cmd, name);
        return CLI_USAGE;
    }
    json_t *s = json_stringn(buf, len);
    free(buf);
    if (!s) {
        fprintf(stderr,
                "spawnpool %s: %s is not UTF-8 text; the API takes a job's stdin as "
                "text (put binary input in a file the job reads)\n",
                cmd, name);
        return CLI_USAGE;
    }
    if (len)
        json_object_set_new(job, "stdin", s);
    else
        json_decref(s);
    return CLI_OK;
}

/* True if the server's host is this machine (its jobs see our directories). */
static bool server_is_local(const struct cli *c)
{
    /* the host of scheme://[user@]host[:port][/path] */
    const char *h = strstr(c->server, "://");
    h = h ? h + 3 : c->server;
    const char *end = h + strcspn(h, "/?#");
    const char *at = memchr(h, '@', (size_t)(end - h));
    if (at) h = at + 1;
    char host[256];
    size_t n;
    if (*h == '[') { /* [v6]:port */
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close) return false;
        n = (size_t)(close - h - 1);
        h++;
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        n = (size_t)((colon ? colon : end) - h);
    }
    if (n == 0 || n >= sizeof host) return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcasecmp(host, "localhost") == 0) return true;
    unsigned char a4[4], a6[16];
    if (inet_pton(AF_INET, host, a4) == 1) return a4[0] == 127;
    return inet_pton(AF_INET6, host, a6) == 1 && memcmp(a6, &in6addr_loopback, 16) == 0;
}

/* Everything before the POST: options, the working directory, stdin. 0 with o->job ready,
 * or the exit status. */
static int prepare(struct cli *c, const char *cmd, int argc, char **argv, struct submit_opts *o,
                   bool forward_stdin)
{
    if (cli_submit_parse(cmd, argc, argv, o) < 0) return CLI_USAGE;
    bool run = strcmp(cmd, "run") == 0;
    if (run && (o->wait || o->quiet))
        return cli_usage_error(cmd, "%s is for submit (run always waits, and shows the output)",
                               o->wait ? "--wait" : "--quiet");
    if (!run && (o->detach || o->no_stdin))
        return cli_usage_error(cmd, "%s is for run", o->detach ? "--detach" : "--no-stdin");
    if (o->help) {
        cli_help_page(cmd, stdout);
        return -1;
    }
    char here[PATH_MAX];
    if (o->cwd && o->cwd[0] != '/' && server_is_local(c) && getcwd(here, sizeof here)) {
        /* a relative --cwd is the client's, as a local command would take it */
        size_t n = strlen(here);
        if (n + 1 + strlen(o->cwd) >= sizeof here) return cli_usage_error(cmd, "--cwd is too long");
        snprintf(here + n, sizeof here - n, "/%s", o->cwd);
        o->cwd = here;
    }
    if (o->cwd) {
        json_t *s = json_string(o->cwd);
        if (!s) return cli_usage_error(cmd, "--cwd is not UTF-8");
        json_object_set_new(o->job, "cwd", s);
    } else if (server_is_local(c) && getcwd(here, sizeof here)) {
        /* the server runs here: the job starts where you are, as a local command would */
        json_t *s = json_string(here);
        if (s) json_object_set_new(o->job, "cwd", s);
        o->auto_cwd = s != NULL;
    }
    if (o->stdin_file) {
        bool dash = strcmp(o->stdin_file, "-") == 0;
        int fd = dash ? STDIN_FILENO : open(o->stdin_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "spawnpool %s: cannot open --stdin-file %s: %s\n", cmd, o->stdin_file,
                    strerror(errno));
            return CLI_USAGE;
        }
        int rc = read_stdin(cmd, fd, o->stdin_file, o->job);
        if (!dash) close(fd);
        if (rc) return rc;
    } else if (forward_stdin && !o->no_stdin && !isatty(STDIN_FILENO)) {
        int rc = read_stdin(cmd, STDIN_FILENO, "stdin", o->job);
        if (rc) return rc;
    }
    return CLI_OK;
}

/* True if a refused submit's error names the cwd field. */
static bool cwd_refused(const struct cli_resp *r)
{
    const char *field =
        json_string_value(json_object_get(json_object_get(r->json, "error"), "field"));
    return r->status == 400 && field && strcmp(field, "cwd") == 0;
}

/* POSTs the job; 0 with *id, or the exit status (said; r keeps the refusal's answer: free
 * it). */
static int post(struct cli *c, struct submit_opts *o, long long *id, struct cli_resp *r)
{
    cli_request(c, "POST", "/v1/jobs", o->job, r);
    int rc = cli_check(c, r, "submit");
    if (rc) return rc;
    json_t *jid = json_object_get(r->json, "id");
    if (!json_is_integer(jid)) {
        fprintf(stderr, "spawnpool: submit: the answer has no job id: %.200s\n", r->body);
        cli_resp_free(r);
        return CLI_SERVER_ERROR;
    }
    *id = json_integer_value(jid);
    return CLI_OK;
}

/* Long-polls the job until it ended; 0 with *job (decref it), or the exit status. With
 * print_json, the last answer is printed as it came (--json). */
static int wait_end(struct cli *c, long long id, json_t **job, bool print_json)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%lld/wait?timeout=300", id);
    for (;;) {
        struct cli_resp r;
        int rc = cli_call(c, "GET", path, NULL, &r, "wait");
        if (rc) return rc;
        if (cli_job_ended(r.json)) {
            if (print_json) cli_print_body(&r);
            *job = json_incref(r.json);
            cli_resp_free(&r);
            return CLI_OK;
        }
        cli_resp_free(&r);
    }
}

/* The line a person wants when a job ended in a way its output does not tell. */
static void say_end(long long id, json_t *job)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    const char *error = json_string_value(json_object_get(job, "error"));
    if (!state || strcmp(state, "succeeded") == 0) return;
    json_t *sig = json_object_get(job, "signal");
    if (strcmp(state, "failed") == 0 && !error && !json_is_integer(sig)) return; /* exit n */
    if (json_is_integer(sig))
        fprintf(stderr, "spawnpool: job %lld %s (signal %lld)%s%s\n", id, state,
                (long long)json_integer_value(sig), error ? ": " : "", error ? error : "");
    else
        fprintf(stderr, "spawnpool: job %lld %s%s%s\n", id, state, error ? ": " : "",
                error ? error : "");
}

/* ---- run ------------------------------------------------------------------------------ */

static int g_sigpipe[2] = {-1, -1};

static volatile sig_atomic_t g_signals; /* how many arrived: an HTTP call in flight aborts */

static void on_signal(int sig)
{
    int saved = errno;
    g_signals++;
    unsigned char b = (unsigned char)sig;
    if (write(g_sigpipe[1], &b, 1) < 0) { /* full: a signal is pending already */
    }
    errno = saved;
}

/* Asks the server to send signal to the job's tree: 1 if it took the request, 0 if not (the
 * job had ended already, or the server said why not), -1 if no answer came (said). */
static int terminate(struct cli *c, long long id, const char *signal)
{
    json_t *body = json_pack("{s:s}", "signal", signal);
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%lld/terminate", id);
    struct cli_resp r;
    cli_request(c, "POST", path, body, &r);
    json_decref(body);
    /* 409: it ended meanwhile, its end is on the way */
    int rc = r.status == 0 ? -1 : r.status != 409 && cli_check(c, &r, "terminate") == CLI_OK;
    if (rc < 0)
        fprintf(stderr,
                "\nspawnpool: cannot reach the server to stop job %lld (%s): it may "
                "still run\n",
                id, r.error);
    cli_resp_free(&r);
    return rc;
}

struct run_state {
    struct cli *cli;
    long long id;
    bool detach;
    int interrupts;
};

/* A signal arrived while following: the first asks the job to stop (SIGTERM, its grace),
 * the next kills it (SIGKILL); with --detach the client leaves it running instead. */
static int on_wake(void *ctx)
{
    struct run_state *s = ctx;
    unsigned char sigs[16];
    ssize_t n = read(g_sigpipe[0], sigs, sizeof sigs);
    for (ssize_t i = 0; i < n; i++) {
        if (s->detach) {
            fprintf(stderr,
                    "\nspawnpool: job %lld keeps running (spawnpool logs -f %lld; "
                    "spawnpool kill %lld)\n",
                    s->id, s->id, s->id);
            return 128 + sigs[i];
        }
        bool kill9 = s->interrupts++ > 0;
        int took = terminate(s->cli, s->id, kill9 ? "SIGKILL" : "SIGTERM");
        if (took < 0) return CLI_RUN_ERROR; /* the server is gone: Ctrl-C ends the client */
        if (took)
            fprintf(stderr,
                    kill9 ? "\nspawnpool: killing job %lld (SIGKILL)\n"
                          : "\nspawnpool: terminating job %lld (Ctrl-C again: kill it)\n",
                    s->id);
    }
    return 0;
}

int cli_cmd_run(struct cli *c, int argc, char **argv)
{
    struct submit_opts o = {0};
    int rc = prepare(c, "run", argc, argv, &o, true);
    if (rc) {
        json_decref(o.job);
        return rc < 0 ? CLI_OK : rc;
    }
    /* signals wait in a pipe from here on: a Ctrl-C during the submit is acted on once the
     * job has an id */
    if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        json_decref(o.job);
        return CLI_RUN_ERROR;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct cli_resp r;
    long long id;
    c->interrupt = &g_signals; /* a Ctrl-C aborts a call the server does not answer */
    rc = post(c, &o, &id, &r);
    if (rc && g_signals) {
        fprintf(stderr, "spawnpool: interrupted while submitting; the server may have taken "
                        "the job (spawnpool ls)\n");
        json_decref(o.job);
        return 128 + SIGINT;
    }
    if (rc && o.auto_cwd && cwd_refused(&r))
        fprintf(stderr, "spawnpool: the server cannot use this directory as the job's cwd (is "
                        "it in a container?): give --cwd DIR\n");
    json_decref(o.job);
    if (rc) {
        cli_resp_free(&r);
        return CLI_RUN_ERROR;
    }
    cli_resp_free(&r);
    if (c->verbose) fprintf(stderr, "spawnpool: job %lld\n", id);
    struct run_state st = {.cli = c, .id = id, .detach = o.detach};
    rc = cli_follow(c, id, STDOUT_FILENO, STDERR_FILENO, 0, 0, g_sigpipe[0], on_wake, &st);
    if (rc == 128 + SIGPIPE) {
        /* `spawnpool run -- producer | head`: nobody reads the output any more; a local
         * producer would die of SIGPIPE, so the job is stopped and the client exits so */
        terminate(c, id, "SIGTERM");
        return rc;
    }
    if (rc == CLI_FAILED) { /* our output could not be written (a full disk, a closed fd) */
        fprintf(stderr, "spawnpool: stopping job %lld: its output has nowhere to go\n", id);
        terminate(c, id, "SIGTERM");
        return CLI_RUN_ERROR;
    }
    if (rc) return rc >= 128 ? rc : CLI_RUN_ERROR; /* detached, or the server went away */
    json_t *job;
    if (wait_end(c, id, &job, false)) return CLI_RUN_ERROR;
    say_end(id, job);
    if (json_is_true(json_object_get(json_object_get(job, "output"), "truncated")))
        fprintf(stderr,
                "spawnpool: job %lld's output was cut at the server's --max-output: "
                "what you saw is not all it wrote\n",
                id);
    rc = cli_job_status(job);
    json_decref(job);
    return rc;
}

/* ---- submit --------------------------------------------------------------------------- */

int cli_cmd_submit(struct cli *c, int argc, char **argv)
{
    struct submit_opts o = {0};
    int rc = prepare(c, "submit", argc, argv, &o, false);
    if (rc) {
        json_decref(o.job);
        return rc < 0 ? CLI_OK : rc;
    }
    struct cli_resp r;
    long long id;
    rc = post(c, &o, &id, &r);
    if (rc && o.auto_cwd && cwd_refused(&r))
        fprintf(stderr, "spawnpool: the server cannot use this directory as the job's cwd (is "
                        "it in a container?): give --cwd DIR\n");
    json_decref(o.job);
    if (rc) {
        cli_resp_free(&r);
        return rc;
    }
    if (c->json && !o.wait)
        cli_print_body(&r);
    else if (!o.quiet || !o.wait)
        printf("%lld\n", id);
    fflush(stdout);
    cli_resp_free(&r);
    if (!o.wait) return CLI_OK;
    json_t *job;
    if ((rc = wait_end(c, id, &job, c->json))) return rc;
    if (!c->json && !o.quiet) say_end(id, job);
    rc = cli_job_status(job);
    json_decref(job);
    return rc;
}

int cli_job_body(struct cli *c, const char *cmd, int argc, char **argv, json_t **job)
{
    struct submit_opts o = {0};
    int rc = prepare(c, cmd, argc, argv, &o, false);
    if (rc || o.wait || o.quiet) {
        json_decref(o.job);
        if (rc) return rc;
        return cli_usage_error(cmd, "--wait and --quiet are for submit");
    }
    *job = o.job;
    return CLI_OK;
}
