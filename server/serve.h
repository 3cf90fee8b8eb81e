/* serve: the `spawnpool serve` process from start to exit 0: data dir, pool, store,
 * recovery, the HTTP front end (through hooks, so server/ does not depend on api/), the
 * main loop and the drain on SIGTERM/SIGINT. */
#ifndef SPAWNPOOL_SERVE_H
#define SPAWNPOOL_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "server/config.h"
#include "server/dispatch.h"
#include "server/store.h"

/* What this server can do, found at start (before any thread) and fixed from then on: what
 * /healthz reports and what a submit's limits are checked against. The front end asks this,
 * never pool/ (whose probes fill it). */
struct serve_caps {
    const char *kill_mechanism;            /* how a job's tree is killed: "cgroup" or
                                            * "process-group" */
    const char *limit_where[PROTO_LIMITS]; /* by enum proto_limit: "rlimit", "cgroup v2",
                                            * "cgroup v1" or "none" */
    bool limit_supported[PROTO_LIMITS];    /* the limit can be enforced here */
    int64_t limit_hard[PROTO_LIMITS];      /* rlimits: the server's own hard limit, which jobs
                                            * inherit; cpu: the machine's CPUs (thousandths);
                                            * -1: unlimited, or not an rlimit */
};
/* Fills caps from what tree_setup and limits_setup found (their defaults if they did not run:
 * process groups, no cgroup limits). */
void serve_caps_read(struct serve_caps *caps);

/* What the HTTP front end gives the main loop. */
struct serve_frontend {
    /* Starts serving; writes the bound port. caps outlives the handle. Returns an opaque
     * handle or NULL (logged). */
    void *(*start)(const struct config *cfg, const struct serve_caps *caps, struct dispatch *d,
                   struct store *s, int *port);
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
