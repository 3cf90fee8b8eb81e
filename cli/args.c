/* args: what the commands share in reading their options and arguments: --help alone, job
 * ids, seconds, a refused option's message; and the job path and exit status they build. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* The usage error for an option getopt_long refused (CLI_USAGE): a missing value when
 * optopt is a long option's id (>= first_long_id) or one of the short options with_value. */
int cli_bad_option(const char *cmd, char **argv, int first_long_id, const char *with_value)
{
    if (optopt >= first_long_id || (optopt > 0 && strchr(with_value, optopt)))
        return cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
    return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

/* Seconds from the text s (>= 0); false if it is not a number. */
bool cli_parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e9) return false;
    *out = v;
    return true;
}

/* Builds "/v1/jobs/ID[SUFFIX]" into out. */
void cli_job_path(char *out, size_t n, long long id, const char *suffix)
{
    snprintf(out, n, "/v1/jobs/%lld%s", id, suffix ? suffix : "");
}

/* Keeps the first failure: a status beats none, and one other than CLI_FAILED beats that. */
void cli_keep_worst(int *rc, int now)
{
    if (now == CLI_OK) return;
    if (*rc == CLI_OK || (*rc == CLI_FAILED && now != CLI_FAILED)) *rc = now;
}

/* Parses the job ids of argv[from..argc) into a malloc'd array (*n of them). CLI_OK, or
 * CLI_USAGE (said). */
int cli_parse_ids(const char *cmd, int argc, char **argv, int from, long long **ids, size_t *n)
{
    *n = 0;
    *ids = NULL;
    if (from >= argc) return cli_usage_error(cmd, "which job? give one or more job ids");
    *ids = calloc((size_t)(argc - from), sizeof **ids);
    if (!*ids) return CLI_USAGE;
    for (int i = from; i < argc; i++)
        if (!cli_parse_id(cmd, argv[i], &(*ids)[(*n)++])) {
            free(*ids);
            *ids = NULL;
            return CLI_USAGE;
        }
    return CLI_OK;
}

/* Parses the options of a command that takes only --help (and no arguments past max_args;
 * -1: any number).
 * CLI_OK, -1 when --help was printed, or CLI_USAGE (said). */
int cli_only_help(const char *cmd, int argc, char **argv, int max_args)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'h') {
            cli_help_page(cmd, stdout);
            return -1;
        }
        return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
    if (max_args >= 0 && argc - optind > max_args)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + max_args]);
    return CLI_OK;
}
