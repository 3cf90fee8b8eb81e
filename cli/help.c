/* help: the manual of the client commands (work in progress: being written). */
#include <stdarg.h>
#include <string.h>

#include "cli/cli.h"

int cli_cmd_help(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    for (const struct cli_command *k = cli_commands; k->name; k++)
        printf("  %-8s %s\n", k->name, k->summary);
    return CLI_OK;
}

bool cli_help_page(const char *command, FILE *f)
{
    (void)command, (void)f;
    return false;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "spawnpool %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (spawnpool help %s)\n", command);
    va_end(ap);
    return CLI_USAGE;
}
