/* main: the spawnpool binary's entry. `serve` runs the server; `worker` is the internal
 * mode a replacement worker is exec'd in; every other command is the client (cli/). It wires the
 * HTTP front end (api/) to server/, so it sits at the top level, above both: server/ never includes
 * api/. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "api/api.h"
#include "cli/cli.h"
#include "pool/ledger.h"
#include "pool/spawn.h"
#include "pool/worker.h"
#include "server/config.h"
#include "server/serve.h"

static int worker_command(int argc, char **argv)
{
    /* exec'd from /proc/self/exe, the kernel names it "exe": keep the name ps shows */
    prctl(PR_SET_NAME, "spawnpool");
    int fd = -1, index = -1;
    long uid = -1, gid = -1;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--fd") == 0)
            fd = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--index") == 0)
            index = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--uid") == 0)
            uid = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--gid") == 0)
            gid = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--ledger-fd") == 0 && ledger_attach(atoi(argv[i + 1])) < 0)
            fprintf(stderr, "spawnpool worker: cannot map the start ledger: %s\n", strerror(errno));
    }
    if (uid >= 0 && gid >= 0) spawn_set_identity((uid_t)uid, (gid_t)gid);
    if (fd < 0 || index < 0) {
        fprintf(stderr, "spawnpool worker: internal mode, started by the server only\n");
        return 2;
    }
    return worker_main(fd, index);
}

/* The short list `spawnpool --help` starts with: the client commands and serve. */
static void usage(FILE *out, bool flags_below)
{
    fputs("usage: spawnpool COMMAND [ARGS]\n\nCommands:\n", out);
    for (const struct cli_command *k = cli_commands; k->name; k++)
        fprintf(out, "  %-8s %s\n", k->name, k->summary);
    fprintf(out,
            "  serve    run the server\n\n"
            "spawnpool help: the client's global options, environment and exit codes;\n"
            "spawnpool help COMMAND: one command's page. spawnpool serve --help: the server's\n"
            "flags%s.\n",
            flags_below ? " (also below)" : "");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("spawnpool %s\n", SPAWNPOOL_VERSION);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        /* the commands first; the server's flags stay here too (the README, the container's
         * `docker run --rm spawnpool --help`), after the pointer to them */
        FILE *out = argc < 2 ? stderr : stdout;
        usage(out, argc >= 2);
        if (argc >= 2) {
            fputs("\n", out);
            config_usage(out);
        }
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "worker") == 0) return worker_command(argc - 2, argv + 2);
    if (strcmp(argv[1], "serve") != 0) {
        int rc = cli_main(argc, argv);
        if (rc >= 0) return rc;
        fprintf(stderr, "spawnpool: unknown command '%s' (spawnpool help lists them)\n", argv[1]);
        return 2;
    }
    struct config cfg;
    char err[1024];
    int rc = config_load(&cfg, argc - 2, argv + 2, err, sizeof err);
    if (rc != 0) {
        if (rc < 0) fprintf(stderr, "spawnpool: %s\n", err);
        config_free(&cfg);
        return rc < 0 ? 2 : 0;
    }
    int status = serve_run(&cfg, &api_frontend);
    config_free(&cfg);
    return status;
}
