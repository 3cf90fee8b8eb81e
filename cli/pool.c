/* pool: queues, queue, workers, tasks, events, health (work in progress: being written). */
#include "cli/cli.h"

static int todo(const char *what)
{
    fprintf(stderr, "spawnpool %s: not written yet\n", what);
    return CLI_USAGE;
}
int cli_cmd_queues(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("queues");
}
int cli_cmd_queue(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("queue");
}
int cli_cmd_workers(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("workers");
}
int cli_cmd_tasks(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("tasks");
}
int cli_cmd_events(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("events");
}
int cli_cmd_health(struct cli *c, int argc, char **argv)
{
    (void)c, (void)argc, (void)argv;
    return todo("health");
}
