/* tasks_internal.h: what the config reader (config.c) needs of tasks.c, in JSON; not for use
 * outside server/ (jansson stays out of the headers the API sees: tasks.h takes no json_t). */
#ifndef SPAWNPOOL_TASKS_INTERNAL_H
#define SPAWNPOOL_TASKS_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "server/tasks.h"

/* Reads the config's "tasks" object into set. Returns 0, or -1 with a message in err. */
int tasks_load(struct task_set *set, json_t *tasks, char *err, size_t errlen);

#endif
