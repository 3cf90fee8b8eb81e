/* job_changes: the commands that change jobs: kill, rm, rerun, set. Each goes through its ids
 * one by one, and exits with the first failure (a kill of an ended job, an rm of a running
 * one, a set of one that no longer waits: 1) while still trying the others; and clean, which
 * deletes every finished job a filter matches in one request. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Sends method to job id's path (+ suffix) with body into *r: CLI_OK, CLI_FAILED for a 409
 * (the server's reason on stderr, else refused), or the status of another error (said). */
static int job_call(struct cli *c, const char *method, long long id, const char *suffix,
                    json_t *body, const char *refused, struct cli_resp *r)
{
    char path[96], what[64];
    cli_job_path(path, sizeof path, id, suffix);
    snprintf(what, sizeof what, "job %lld", id);
    cli_request(c, method, path, body, r);
    if (r->status != 409) return cli_check(c, r, what);
    const char *msg =
        json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    if (msg && strncmp(msg, what, strlen(what)) == 0) /* (it names the job already) */
        fprintf(stderr, "spawnpool: %s\n", msg);
    else
        fprintf(stderr, "spawnpool: %s: %s\n", what, msg ? msg : refused);
    return CLI_FAILED;
}

/* ---- kill ------------------------------------------------------------------------------ */

enum { K_SIGNAL = 256, K_GRACE, K_HELP };

/* `spawnpool kill ID... [--signal SIG] [--grace S]`: terminates running jobs, cancels queued
 * ones; 1 when one had ended already (the others are still tried). */
int cli_cmd_kill(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"signal", required_argument, NULL, K_SIGNAL},
        {"grace", required_argument, NULL, K_GRACE},
        {"help", no_argument, NULL, K_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *sig = NULL;
    double grace = -1;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
        case K_SIGNAL:
            sig = optarg;
            break;
        case K_GRACE:
            if (!cli_parse_seconds(optarg, &grace) || grace > 3600)
                return cli_usage_error("kill", "--grace wants seconds from 0 to 3600, got '%s'",
                                       optarg);
            break;
        case 'h':
        case K_HELP:
            cli_help_page("kill", stdout);
            return CLI_OK;
        default:
            return cli_bad_option("kill", argv, K_SIGNAL, "s");
        }
    }
    long long *ids;
    size_t n;
    int rc = cli_parse_ids("kill", argc, argv, optind, &ids, &n);
    if (rc) return rc;
    json_t *body = json_object();
    char signame[64] = "SIGTERM";
    if (sig) {
        char *end;
        long num = strtol(sig, &end, 10);
        if (*sig && !*end) { /* a number */
            json_object_set_new(body, "signal", json_integer(num));
            cli_signal_name((int)num, signame, sizeof signame);
        } else {
            json_object_set_new(body, "signal", json_string(sig));
            bool has_sig = strncasecmp(sig, "SIG", 3) == 0;
            snprintf(signame, sizeof signame, "%s%s", has_sig ? "" : "SIG", sig);
            for (char *p = signame; *p; p++)
                if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
        }
    }
    if (grace >= 0) json_object_set_new(body, "grace", json_real(grace));
    for (size_t i = 0; i < n; i++) {
        struct cli_resp r;
        int one = job_call(c, "POST", ids[i], "/terminate", body, "it has ended", &r);
        if (one == CLI_OK) {
            if (c->json)
                cli_print_body(&r);
            else if (r.status == 202)
                printf("job %lld: terminating (%s)\n", ids[i], signame);
            else
                printf("job %lld: canceled\n", ids[i]);
            fflush(stdout);
        }
        cli_keep_worst(&rc, one);
        cli_resp_free(&r);
    }
    json_decref(body);
    free(ids);
    return rc;
}

/* ---- rm -------------------------------------------------------------------------------- */

/* `spawnpool rm ID...`: forgets ended jobs, silently; 1 when one still runs (the others are
 * still tried). */
int cli_cmd_rm(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("rm", argc, argv, -1);
    if (rc) return rc < 0 ? CLI_OK : rc;
    long long *ids;
    size_t n;
    if ((rc = cli_parse_ids("rm", argc, argv, optind, &ids, &n))) return rc;
    for (size_t i = 0; i < n; i++) {
        char path[64], what[64];
        cli_job_path(path, sizeof path, ids[i], NULL);
        snprintf(what, sizeof what, "job %lld", ids[i]);
        struct cli_resp r;
        cli_request(c, "DELETE", path, NULL, &r);
        int one = CLI_OK;
        if (r.status == 409) {
            const char *msg =
                json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
            fprintf(stderr, "spawnpool: job %lld: %s\n", ids[i], msg ? msg : "it has not ended");
            one = CLI_FAILED;
        } else {
            one = cli_check(c, &r, what);
        }
        cli_keep_worst(&rc, one);
        cli_resp_free(&r);
    }
    free(ids);
    return rc;
}

/* ---- rerun ----------------------------------------------------------------------------- */

/* `spawnpool rerun ID...`: a new job with each one's spec (it says rerun_of); prints the new
 * ids (--json: the API's answers). */
int cli_cmd_rerun(struct cli *c, int argc, char **argv)
{
    int rc = cli_only_help("rerun", argc, argv, -1);
    if (rc) return rc < 0 ? CLI_OK : rc;
    long long *ids;
    size_t n;
    if ((rc = cli_parse_ids("rerun", argc, argv, optind, &ids, &n))) return rc;
    for (size_t i = 0; i < n; i++) {
        char path[64], what[64];
        cli_job_path(path, sizeof path, ids[i], "/rerun");
        snprintf(what, sizeof what, "rerun of job %lld", ids[i]);
        struct cli_resp r;
        int one = cli_call(c, "POST", path, NULL, &r, what);
        if (one == CLI_OK) {
            if (c->json)
                cli_print_body(&r);
            else
                printf("%lld\n", (long long)json_integer_value(json_object_get(r.json, "id")));
            fflush(stdout);
            cli_resp_free(&r);
        }
        cli_keep_worst(&rc, one);
    }
    free(ids);
    return rc;
}

/* ---- set ------------------------------------------------------------------------------- */

enum { S_PRIORITY = 256, S_QUEUE, S_HELP };

/* The largest priority the API takes either way. */
#define SET_PRIORITY_MAX 1000000000LL

/* `spawnpool set ID... [--priority N] [--queue Q]`: a queued job's priority and queue
 * (PATCH /v1/jobs/{id}); 1 when one is no longer waiting (the others are still tried). */
int cli_cmd_set(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"priority", required_argument, NULL, S_PRIORITY},
        {"queue", required_argument, NULL, S_QUEUE},
        {"help", no_argument, NULL, S_HELP},
        {NULL, 0, NULL, 0},
    };
    json_t *body = json_object();
    optind = 1;
    opterr = 0;
    int opt, rc = CLI_OK;
    while (rc == CLI_OK && (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        long long v;
        switch (opt) {
        case S_PRIORITY:
            errno = 0;
            v = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || v < -SET_PRIORITY_MAX || v > SET_PRIORITY_MAX)
                rc = cli_usage_error("set",
                                     "--priority wants an integer from %lld to %lld, got '%s'",
                                     -SET_PRIORITY_MAX, SET_PRIORITY_MAX, optarg);
            else
                json_object_set_new(body, "priority", json_integer(v));
            break;
        case S_QUEUE:
            json_object_set_new(body, "queue", json_string(optarg));
            break;
        case 'h':
        case S_HELP:
            cli_help_page("set", stdout);
            json_decref(body);
            return CLI_OK;
        default:
            rc = cli_bad_option("set", argv, S_PRIORITY, "");
        }
    }
    if (rc == CLI_OK && json_object_size(body) == 0)
        rc = cli_usage_error("set", "what to change? --priority N, --queue Q or both");
    long long *ids = NULL;
    size_t n = 0;
    if (rc == CLI_OK) rc = cli_parse_ids("set", argc, argv, optind, &ids, &n);
    for (size_t i = 0; rc != CLI_USAGE && i < n; i++) {
        struct cli_resp r;
        int one = job_call(c, "PATCH", ids[i], NULL, body, "it is not waiting", &r);
        if (one == CLI_OK) {
            if (c->json)
                cli_print_body(&r);
            else
                printf("job %lld: priority %lld, queue %s\n", ids[i],
                       (long long)json_integer_value(json_object_get(r.json, "priority")),
                       json_string_value(json_object_get(r.json, "queue")));
            fflush(stdout);
        }
        cli_keep_worst(&rc, one);
        cli_resp_free(&r);
    }
    json_decref(body);
    free(ids);
    return rc;
}

/* ---- clean ----------------------------------------------------------------------------- */

/* `spawnpool clean [FILTERS] [--all]`: deletes the finished jobs that match (DELETE
 * /v1/jobs?..., the filters of ls), those still needed left; prints how many. Without a
 * filter it needs --all. */
int cli_cmd_clean(struct cli *c, int argc, char **argv)
{
    char path[4096], again[2048];
    int rc = cli_jobs_query("clean", argc, argv, path, sizeof path, again, sizeof again);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!strchr(path, '?'))
        return cli_usage_error("clean", "say which finished jobs: --state, --queue, --name, "
                                        "--before, --rerun-of, --schedule, --created-after, "
                                        "--created-before, --finished-after, or --all for "
                                        "every one");
    struct cli_resp r;
    rc = cli_call(c, "DELETE", path, NULL, &r, "clean");
    if (rc) return rc;
    if (c->json) {
        cli_print_body(&r);
    } else {
        long long deleted = (long long)json_integer_value(json_object_get(r.json, "deleted"));
        long long kept = (long long)json_integer_value(json_object_get(r.json, "kept"));
        printf("deleted %lld finished job%s", deleted, deleted == 1 ? "" : "s");
        if (kept) printf(" (%lld kept: other jobs or an idempotency key still need them)", kept);
        printf("\n");
    }
    cli_resp_free(&r);
    return CLI_OK;
}
