/* serve: the `spawnpool serve` process from start to exit 0: data dir, pool, store,
 * recovery, the HTTP front end (through hooks, so server/ does not depend on api/), the
 * main loop and the drain on SIGTERM/SIGINT. */
#ifndef SPAWNPOOL_SERVE_H
#define SPAWNPOOL_SERVE_H

#include <stdint.h>

#include "server/config.h"
#include "server/dispatch.h"
#include "server/store.h"

/* What the HTTP front end gives the main loop. */
struct serve_frontend {
    /* Starts serving; writes the bound port. Returns an opaque handle or NULL (logged). */
    void *(*start)(const struct config *cfg, struct dispatch *d, struct store *s, int *port);
    /* Ms until the front end's next deadline (long-poll expiry, output follow), -1: none. */
    int64_t (*next_deadline)(void *handle);
    /* Applies what of a freshly loaded config can change while running (SIGHUP). */
    void (*reload)(void *handle, const struct config *fresh);
    /* Handles deadlines that passed. */
    void (*expire)(void *handle);
    /* Answers everything still waiting, stops serving, frees the handle. */
    void (*stop)(void *handle);
};

/* Runs the server until drained; returns the process exit status. */
int serve_run(const struct config *cfg, const struct serve_frontend *frontend);

#endif
