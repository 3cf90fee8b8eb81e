/* jobs: ls, show, wait, logs, kill, rm (work in progress: being written). */
#include "cli/cli.h"

static int todo(const char *what)
{
    fprintf(stderr, "spawnpool %s: not written yet\n", what);
    return CLI_USAGE;
}
int cli_cmd_ls(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("ls");
}
int cli_cmd_show(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("show");
}
int cli_cmd_wait(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("wait");
}
int cli_cmd_logs(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("logs");
}
int cli_cmd_kill(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("kill");
}
int cli_cmd_rm(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("rm");
}
