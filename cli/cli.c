/* cli: the entry of the client commands. The global options (--server, --token-file,
 * --cacert, --json, --verbose) may stand anywhere before a `--`; they are taken out here,
 * so each command parses only its own. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"

const struct cli_command cli_commands[] = {
    {"run", cli_cmd_run, "run a command in the pool as if here: live output, its exit status"},
    {"submit", cli_cmd_submit, "submit a job and print its id (--wait: and wait for it)"},
    {"ls", cli_cmd_ls, "list jobs, newest first"},
    {"show", cli_cmd_show, "one job, all of it"},
    {"wait", cli_cmd_wait, "wait until jobs end (join)"},
    {"logs", cli_cmd_logs, "a job's output (-f: follow it live)"},
    {"kill", cli_cmd_kill, "terminate jobs (a queued one is canceled)"},
    {"rm", cli_cmd_rm, "forget finished jobs and their output"},
    {"rerun", cli_cmd_rerun, "run jobs again: a new job with the same spec each"},
    {"set", cli_cmd_set, "change a queued job's priority or queue"},
    {"clean", cli_cmd_clean, "delete the finished jobs a filter matches (--all: every one)"},
    {"queues", cli_cmd_queues, "the named queues"},
    {"queue", cli_cmd_queue, "pause, resume or limit a queue"},
    {"workers", cli_cmd_workers, "the worker processes of the pool"},
    {"nodes", cli_cmd_nodes, "the nodes sharing the server's database, alive or not"},
    {"tasks", cli_cmd_tasks, "the task templates of the server's config"},
    {"schedules", cli_cmd_schedules, "the schedules: jobs made at cron times"},
    {"schedule", cli_cmd_schedule, "add, show, pause, resume or remove a schedule"},
    {"events", cli_cmd_events, "state changes as they happen, one line each"},
    {"health", cli_cmd_health, "is the server up, and how busy"},
    {"help", cli_cmd_help, "this list, or one command's manual"},
    {NULL, NULL, NULL},
};

static const struct cli_command *find(const char *name)
{
    for (const struct cli_command *k = cli_commands; k->name; k++)
        if (strcmp(k->name, name) == 0) return k;
    return NULL;
}

/* If argv[*i] is the global option NAME (as "--NAME VALUE" or "--NAME=VALUE"), sets *value
 * and advances *i past it. with_value: the option takes a value. 1 if it was, 0 if not, -1
 * if its value is missing. */
static int global_opt(int argc, char **argv, int *i, const char *name, bool with_value,
                      const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0) return 0;
    const char *rest = a + 2 + n;
    if (!with_value) {
        if (*rest) return 0;
        *value = "1";
        *i += 1;
        return 1;
    }
    if (*rest == '=') {
        *value = rest + 1;
        *i += 1;
        return 1;
    }
    if (*rest) return 0;
    if (*i + 1 >= argc) return -1; /* the value is missing */
    *value = argv[*i + 1];
    *i += 2;
    return 1;
}

struct globals {
    const char *server, *token_file, *cacert, *json, *verbose;
};

/* Takes the global option at argv[*i] into g: 1, 0 if it is none, -1 if its value lacks. */
static int take_global(int argc, char **argv, int *i, struct globals *g)
{
    int r;
    if ((r = global_opt(argc, argv, i, "server", true, &g->server)) ||
        (r = global_opt(argc, argv, i, "token-file", true, &g->token_file)) ||
        (r = global_opt(argc, argv, i, "cacert", true, &g->cacert)) ||
        (r = global_opt(argc, argv, i, "json", false, &g->json)) ||
        (r = global_opt(argc, argv, i, "verbose", false, &g->verbose)))
        return r;
    return 0;
}

int cli_main(int argc, char **argv)
{
    struct globals g = {0};
    int i = 1;
    /* global options may come before the command too: `spawnpool --server URL ls` */
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        int r = take_global(argc, argv, &i, &g);
        if (r == 0) return -1; /* (not ours: main says what it is) */
        if (r < 0) {
            fprintf(stderr, "spawnpool: %s needs a value\n", argv[i]);
            return CLI_USAGE;
        }
    }
    const struct cli_command *cmd = i < argc ? find(argv[i]) : NULL;
    if (!cmd) {
        if (i == 1) return -1;
        fprintf(stderr, "spawnpool: %s (spawnpool help lists the commands)\n",
                i < argc ? "unknown command after the global options" : "which command?");
        return CLI_USAGE;
    }
    /* the command's argv without the global options: up to a "--", and for run and submit
     * up to the first word of the job's command (`spawnpool run grep --verbose x` keeps
     * grep's --verbose) */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) return CLI_USAGE;
    bool submits = cmd->fn == cli_cmd_run || cmd->fn == cli_cmd_submit;
    bool verbatim = false, help = false;
    int n = 0;
    args[n++] = argv[i++];
    while (i < argc) {
        if (verbatim) {
            args[n++] = argv[i++];
            continue;
        }
        if (strcmp(argv[i], "--") == 0) {
            verbatim = true;
            args[n++] = argv[i++];
            continue;
        }
        int r = take_global(argc, argv, &i, &g);
        if (r < 0) {
            free(args);
            return cli_usage_error(cmd->name, "%s needs a value", argv[i]);
        }
        if (r > 0) continue;
        if (submits && argv[i][0] != '-') {
            verbatim = true; /* the job's command starts here */
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) help = true;
        if (submits && cli_submit_takes_value(argv[i]) && i + 1 < argc)
            args[n++] = argv[i++]; /* (its value is not a word of the command) */
        args[n++] = argv[i++];
    }
    struct cli c = {.json = g.json != NULL, .verbose = g.verbose != NULL};
    const char *no_color = getenv("NO_COLOR");
    c.color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
    int rc = CLI_USAGE;
    /* help needs no server: a broken SPAWNPOOL_TOKEN_FILE must not hide the manual */
    bool setup_ok = help || cmd->fn == cli_cmd_help ||
                    cli_setup(&c, g.server, g.token_file, g.cacert) == CLI_OK;
    if (setup_ok) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "spawnpool: cannot initialize libcurl\n");
            rc = CLI_RUN_ERROR;
        } else {
            rc = cmd->fn(&c, n, args);
            cli_close(&c);
            curl_global_cleanup();
        }
    }
    free(args);
    return rc;
}
