/* cli: the client commands of the spawnpool binary (`spawnpool run`, `ls`, `logs`, ...).
 * They speak the public HTTP API only, through libcurl, so they work against a server on
 * another machine or in a container exactly as curl does. Nothing here links server/ or
 * api/: the client knows the server by its wire contract, not by its code. */
#ifndef SPAWNPOOL_CLI_H
#define SPAWNPOOL_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit statuses of every command (README: "Command-line client"). `run` and `wait ID`
 * exit with the job's own status instead; the CLI_JOB_* ones stand for its states that have
 * none. */
enum {
    CLI_OK = 0,
    CLI_FAILED = 1,          /* the command worked, the answer is "no" (a job did not succeed) */
    CLI_USAGE = 2,           /* bad flags or arguments: nothing was sent */
    CLI_SERVER_ERROR = 3,    /* the server answered with an error (other than the two below) */
    CLI_NOT_FOUND = 4,       /* 404: no such job, queue or route */
    CLI_AUTH = 5,            /* 401/403: no token, a wrong one, or forbidden */
    CLI_UNREACHABLE = 6,     /* no answer: connection refused, DNS, TLS, a dropped connection */
    CLI_PENDING = 7,         /* wait --timeout ran out before the job(s) ended */
    CLI_JOB_LOST = 122,      /* run, wait ID: the job is lost */
    CLI_JOB_CANCELED = 123,  /* ... canceled before it started */
    CLI_JOB_TIMED_OUT = 124, /* ... killed by its timeout (as timeout(1) exits) */
    CLI_RUN_ERROR = 125,     /* run: spawnpool could not run it (as `docker run` exits) */
};

/* The default server when neither --server nor SPAWNPOOL_URL says. */
#define CLI_DEFAULT_URL "http://127.0.0.1:8080"

/* What every command shares: where the server is and how to talk to it. */
struct cli {
    char server[1024];  /* base URL, no trailing slash */
    char *token;        /* bearer token (malloc'd) or NULL */
    const char *cacert; /* --cacert: CA bundle for https, or NULL (the system's) */
    bool json;          /* --json: print the API's JSON unchanged */
    bool color;         /* stdout is a terminal and NO_COLOR is not set */
    bool verbose;       /* --verbose: each request on stderr */
    void *curl;         /* the CURL handle cli_request reuses (keep-alive); NULL until used */
    volatile sig_atomic_t *interrupt; /* a signal count: a request aborts when it changes
                                       * (run sets it; NULL: requests run to their end) */
};

/* An answer of the server. */
struct cli_resp {
    long status; /* HTTP status; 0 when no answer came (error says why) */
    char *body;  /* raw bytes, NUL-terminated (malloc'd), or NULL */
    size_t len;
    json_t *json; /* the body parsed, or NULL (not JSON) */
    char error[256];
};

/* One command: `spawnpool NAME ...`. fn gets argv[0] = NAME and the global options removed;
 * it returns the process's exit status. */
struct cli_command {
    const char *name;
    int (*fn)(struct cli *c, int argc, char **argv);
    const char *summary; /* one line for `spawnpool help` */
};

/* ---- cli/cli.c: the entry ------------------------------------------------------------- */

/* The command table, ending with a {NULL} entry. */
extern const struct cli_command cli_commands[];
/* Runs `spawnpool CMD ...` for a client command; returns the exit status. Returns -1 (and
 * prints nothing) when argv[1] names no client command. */
int cli_main(int argc, char **argv);

/* ---- cli/client.c: HTTP through libcurl ------------------------------------------------ */

/* Finds the server URL, token and CA bundle: flags (NULL: not given) beat SPAWNPOOL_URL,
 * SPAWNPOOL_TOKEN, SPAWNPOOL_TOKEN_FILE, which beat the default. 0, or CLI_USAGE (said). */
int cli_setup(struct cli *c, const char *server, const char *token_file, const char *cacert);
/* Frees what cli_setup and cli_request hold. */
void cli_close(struct cli *c);
/* Sends METHOD PATH (path and query, starting with /) with body (NULL: none; else sent as
 * application/json) and fills r. 0 when the server answered (any status), CLI_UNREACHABLE
 * when not (r->error says why: also after 60 s without an answer, or a long-poll's timeout
 * plus 30 s, or when *c->interrupt changed meanwhile). */
int cli_request(struct cli *c, const char *method, const char *path, json_t *body,
                struct cli_resp *r);
/* 0 for a 2xx answer. Otherwise prints "spawnpool: WHAT: <the server's message> (field: F)"
 * (or why no answer came, with "is the server running?") and returns the exit status that
 * fits: CLI_NOT_FOUND, CLI_AUTH, CLI_UNREACHABLE or CLI_SERVER_ERROR. */
int cli_check(const struct cli *c, const struct cli_resp *r, const char *what);
/* Request + check in one: 0 with r filled and 2xx, or the exit status (said). */
int cli_call(struct cli *c, const char *method, const char *path, json_t *body, struct cli_resp *r,
             const char *what);
/* Appends n bytes to r's body (kept NUL-terminated), unless it holds cap bytes already (then
 * they are dropped: enough of an error's body is kept). false when out of memory. */
bool cli_resp_append(struct cli_resp *r, const char *data, size_t n, size_t cap);
/* Frees the answer's body and JSON. */
void cli_resp_free(struct cli_resp *r);
/* Writes the answer's body to stdout as received (--json), with a newline if it lacks one. */
void cli_print_body(const struct cli_resp *r);
/* Percent-encodes s for a query value or a path segment (malloc'd; NULL: out of memory). */
char *cli_escape(const char *s);
/* A new CURL handle set up as cli_request's are (token, CA bundle, user agent, no signals),
 * for streaming transfers the caller drives itself; NULL on failure. */
void *cli_curl_new(const struct cli *c);
/* The Authorization header list for a handle of cli_curl_new (NULL without a token); free
 * it with curl_slist_free_all after the transfer. */
struct curl_slist *cli_auth_header(const struct cli *c);

/* ---- cli/format.c: human output -------------------------------------------------------- */

/* Seconds since the epoch of an API time ("2026-11-27T12:00:00.123Z"); -1 if NULL or bad. */
double cli_time_parse(const char *rfc3339);
/* "0.2s", "12.5s", "3m04s", "2h05m", "3d04h" into out. */
void cli_fmt_duration(double seconds, char *out, size_t n);
/* An API time as local "HH:MM:SS" today, else "Mon DD HH:MM"; "-" for NULL. */
void cli_fmt_time(const char *rfc3339, char *out, size_t n);
/* The ANSI colour sequence for a job state (and "" when colour is off); cli_color_end after. */
const char *cli_color(const struct cli *c, const char *state);
const char *cli_color_end(const struct cli *c);
/* Characters (not bytes) of UTF-8 text s: what it takes on a terminal, near enough. */
size_t cli_text_width(const char *s);
/* True once the job is in a terminal state. */
bool cli_job_ended(json_t *job);
/* The exit status an ended job stands for: its exit code, 128+signal, or a CLI_JOB_* for a
 * lost, canceled or timed-out job. */
int cli_job_status(json_t *job);
/* A job's command as one line: its `command`, its task and params, its pipeline stages, or
 * its argv joined with spaces (words with spaces or quotes are quoted). Into out. */
void cli_fmt_command(json_t *job, char *out, size_t n);

/* ---- cli/submit.c: run and submit ---------------------------------------------------- */

/* `spawnpool run [opts] -- CMD ...`: submit, stream its output, exit as it exits. */
int cli_cmd_run(struct cli *c, int argc, char **argv);
/* `spawnpool submit [opts] -- CMD ...`: submit, print the id (--wait: wait for it). */
int cli_cmd_submit(struct cli *c, int argc, char **argv);

/* ---- cli/submit_opts.c: the options of run and submit ---------------------------------- */

/* What run/submit's options say: the submit body, and how to run it. */
struct submit_opts {
    json_t *job;     /* the submit body being built */
    const char *cwd; /* --cwd, or NULL */
    const char *stdin_file;
    bool detach, no_stdin, wait, quiet, help;
    bool auto_cwd; /* the cwd sent is the client's own, not asked for */
};
/* Parses the options of run/submit into o (argv[0] is the command; o->job is made). Returns
 * the index of the first word of the command, or -1 after a usage error (said). */
int cli_submit_parse(const char *cmd, int argc, char **argv, struct submit_opts *o);
/* True if arg is an option of run/submit that takes its value from the next word
 * ("--name", not "--name=x" nor "--detach"). */
bool cli_submit_takes_value(const char *arg);

/* ---- cli/follow.c: live output --------------------------------------------------------- */

/* Streams a job's output until it ends: its stdout to out_fd and its stderr to err_fd (-1:
 * that stream is not followed), from the given offsets, over output?follow=1, reconnecting
 * from where it was after a dropped connection. While waiting it also watches wake_fd (-1:
 * none) and calls on_wake(ctx) when it is readable; a non-zero return from on_wake stops
 * following and is returned. 0 when both streams ended; 128+SIGPIPE when the reader of a
 * descriptor went away (SIGPIPE is ignored: a write gets EPIPE; nothing said); else the exit
 * status (said). */
int cli_follow(struct cli *c, long long id, int out_fd, int err_fd, long long offset_out,
               long long offset_err, int wake_fd, int (*on_wake)(void *ctx), void *ctx);

/* ---- cli/format.c: tables, ids, signal names (for jobs.c and pool.c) ---------------------- */

/* A table of text cells for human output: a header row, then rows; columns aligned on the
 * widest cell (in characters, not bytes), two spaces apart; a cell may carry a colour. */
struct cli_table {
    size_t ncols, ncells, cap;
    char **cells;        /* row-major, malloc'd */
    const char **colors; /* per cell: a cli_color sequence or NULL */
    bool header;         /* the first row is the header (printed even with no rows) */
};
/* Starts a table of ncols columns; header (ncols names) or NULL for none. */
void cli_table_init(struct cli_table *t, size_t ncols, const char *const *header);
/* Appends the next cell (rows fill left to right), printf-style, coloured with color
 * (NULL or "": none). Control characters become spaces. */
void cli_table_cell(struct cli_table *t, const char *color, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints the table to stdout, aligned, and frees it. */
void cli_table_print(const struct cli *c, struct cli_table *t);
/* A job id argument: a positive integer. True with *id, else a usage error was said. */
bool cli_parse_id(const char *command, const char *s, long long *id);
/* "SIGTERM" for 15 (the number as "SIG15" when it has no name) into out. */
void cli_signal_name(int sig, char *out, size_t n);

/* ---- cli/args.c: options and arguments the commands share ------------------------------ */

/* Parses the options of a command that takes only --help, and at most max_args arguments
 * (-1: any). CLI_OK, -1 when --help was printed, or CLI_USAGE (said). */
int cli_only_help(const char *cmd, int argc, char **argv, int max_args);
/* Parses the job ids of argv[from..argc) into a malloc'd array (*n of them). CLI_OK, or
 * CLI_USAGE (said). */
int cli_parse_ids(const char *cmd, int argc, char **argv, int from, long long **ids, size_t *n);
/* Seconds from the text s (>= 0); false if it is not a number. */
bool cli_parse_seconds(const char *s, double *out);
/* The usage error for an option getopt_long refused (CLI_USAGE): a missing value when
 * optopt is a long option's id (>= first_long_id) or one of the short options with_value. */
int cli_bad_option(const char *cmd, char **argv, int first_long_id, const char *with_value);
/* Builds "/v1/jobs/ID[SUFFIX]" into out. */
void cli_job_path(char *out, size_t n, long long id, const char *suffix);
/* Keeps the first failure in *rc: a status beats none, and one other than CLI_FAILED beats
 * that. */
void cli_keep_worst(int *rc, int now);

/* ---- cli/ls_query.c: what ls and clean ask ------------------------------------------- */

/* The /v1/jobs path (into path) for the options of cmd, "ls" (GET: filters, --limit,
 * --before) or "clean" (DELETE: filters, --before, --all); again gets the options that ls's
 * next page repeats (all but --before), as " --flag 'value'" each. CLI_OK, -1 when --help was
 * printed, or CLI_USAGE (said). */
int cli_jobs_query(const char *cmd, int argc, char **argv, char *path, size_t n, char *again,
                   size_t again_n);
/* A time option's value as the API takes it, into out: an RFC 3339 time as it is (the
 * server checks it), or a span ago (a number and s, m, h, d or w: "90s", "1.5h", "2d") as
 * the UTC time it was then. false if it is neither. */
/* A span, a number and s, m, h, d or w ("90s", "1.5h", "2d"), into *seconds; false if it is not. */
bool cli_parse_span(const char *s, double *seconds);
bool cli_parse_time(const char *s, char *out, size_t n);

/* ---- cli/jobs.c, cli/job_changes.c, cli/pool.c: the other commands ----------------------- */

int cli_cmd_ls(struct cli *c, int argc, char **argv);
int cli_cmd_show(struct cli *c, int argc, char **argv);
int cli_cmd_wait(struct cli *c, int argc, char **argv);
int cli_cmd_logs(struct cli *c, int argc, char **argv);
int cli_cmd_kill(struct cli *c, int argc, char **argv);
int cli_cmd_rm(struct cli *c, int argc, char **argv);
int cli_cmd_rerun(struct cli *c, int argc, char **argv);
int cli_cmd_set(struct cli *c, int argc, char **argv);
/* `spawnpool clean [FILTERS of ls] [--all]` */
int cli_cmd_clean(struct cli *c, int argc, char **argv);
int cli_cmd_queues(struct cli *c, int argc, char **argv);
int cli_cmd_queue(struct cli *c, int argc, char **argv);
int cli_cmd_workers(struct cli *c, int argc, char **argv);
/* `spawnpool nodes`: the nodes sharing the server's store (GET /v1/nodes). */
int cli_cmd_nodes(struct cli *c, int argc, char **argv);
int cli_cmd_tasks(struct cli *c, int argc, char **argv);
int cli_cmd_events(struct cli *c, int argc, char **argv);
int cli_cmd_health(struct cli *c, int argc, char **argv);

/* ---- cli/help.c: the manual ------------------------------------------------------------ */

/* `spawnpool help [COMMAND]`: the list of commands, or one command's page. */
int cli_cmd_help(struct cli *c, int argc, char **argv);
/* cli/submit.c: the submit body that `submit`'s options and -- CMD ARGS... describe (for
 * `schedule add`). CLI_OK with *job set, -1 when --help was printed, or the exit status. */
int cli_job_body(struct cli *c, const char *cmd, int argc, char **argv, json_t **job);
/* cli/schedules.c: `spawnpool schedules` (the list) and `schedule add|show|pause|resume|rm`. */
int cli_cmd_schedules(struct cli *c, int argc, char **argv);
int cli_cmd_schedule(struct cli *c, int argc, char **argv);
/* Prints one command's page to f; false if there is no such command. */
bool cli_help_page(const char *command, FILE *f);
/* "spawnpool: usage: <the command's synopsis>" and a pointer to its help on stderr;
 * returns CLI_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
