/* ledger: which jobs each worker slot last began to start (the last 8: a worker may start
 * the job it runs and those it holds before the master commits any of it), in a small file
 * of the data dir that the master and its workers share. A worker writes the job's id
 * with a plain memory store before it spawns the job; the page outlives a crash of every
 * process, so the next master can tell a job a worker only held (never started: it goes
 * back to the queue) from one that may have run (lost, or retried). */
#ifndef SPAWNPOOL_LEDGER_H
#define SPAWNPOOL_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Master at start: moves the last run's ledger (DIR/starts) aside to DIR/starts.prev, unless
 * a start that died before its recovery committed left one there (then that one is the
 * last run's), and reads the job ids its workers began to start. Returns 0 with *ids (free
 * it) and *n, 1 when there is none (a first start, or a data dir from before the ledger:
 * nothing is known), or -1 with errno. */
int ledger_take(const char *dir, int64_t **ids, size_t *n);
/* Master, once its recovery is committed: the last run's ledger is not needed any more. */
void ledger_forget(const char *dir);
/* Master at start, after ledger_take and before forking workers: makes DIR/starts afresh for
 * slots workers and maps it (forked workers share the mapping). Returns its fd (kept open,
 * close-on-exec, for pool_respawn to hand to re-exec'd workers) or -1 with errno. */
int ledger_open(const char *dir, int slots);
/* Re-exec'd worker: maps the ledger from the fd it was given. 0 or -1. */
int ledger_attach(int fd);
/* Worker: job id is about to be started in slot (no-op without a ledger). */
void ledger_mark(int slot, int64_t job_id);
/* Master: whether a worker of slot began to start job id lately (false without a ledger). */
bool ledger_began(int slot, int64_t job_id);

#endif
