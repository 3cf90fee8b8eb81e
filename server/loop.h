/* loop: the master's main loop. One epoll over a signalfd, the dispatcher's wake-up
 * eventfd and the worker channels; deadlines are its timeout. Ends when drained. */
#ifndef SPAWNPOOL_LOOP_H
#define SPAWNPOOL_LOOP_H

#include "server/config.h"
#include "server/dispatch.h"
#include "server/serve.h"

/* Runs until a SIGTERM/SIGINT drain completes. sigfd is a signalfd for SIGCHLD, SIGTERM,
 * SIGINT and SIGHUP, already in epoll_fd with data.u64 = 0. Returns 0. */
int loop_run(const struct config *cfg, struct dispatch *d, int epoll_fd, int sigfd,
             const struct serve_frontend *fe, void *fe_handle);

#endif
