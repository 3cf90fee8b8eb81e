/* output_ship: on PostgreSQL, copies the output files of this node's jobs into the database
 * as they grow (job_output), so that any node can serve a job's output; a thread of the
 * master with a connection of its own. */
#ifndef SPAWNPOOL_OUTPUT_SHIP_H
#define SPAWNPOOL_OUTPUT_SHIP_H

#include <stddef.h>

#include "server/config.h"
#include "server/dispatch.h"

struct output_ship;

/* Starts the shipper for cfg's node and database (PostgreSQL), reading the output files
 * where d keeps them (cfg and d outlive it). 0, or -1 with a message in err. */
int output_ship_start(struct output_ship **out, const struct config *cfg, const struct dispatch *d,
                      char *err, size_t errlen);
/* Ships once more what was written meanwhile (a drained node's last jobs, with their end
 * marks), then stops the thread and frees it. NULL is ignored. */
void output_ship_stop(struct output_ship *sh);

#endif
