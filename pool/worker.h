/* worker: the single-threaded loop of one pool process. It pulls jobs from the master
 * over its channel (READY -> RUN -> STARTED -> DONE), runs each with spawn, enforces the
 * timeout and KILL requests, and exits (killing its job's tree) when the channel closes. */
#ifndef SPAWNPOOL_WORKER_H
#define SPAWNPOOL_WORKER_H

/* Runs the worker loop on channel_fd until the master goes away; returns the exit status. */
int worker_main(int channel_fd, int index);

#endif
