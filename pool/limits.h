/* limits: per-job resource limits. rlimits (nofile, nproc, core, as) are set in the job's
 * child just before exec. memory, pids and cpu limits are written on the cgroup the worker
 * and its job share while the job runs, and lifted after it: the tree leaf when cgroup v2
 * has the controller there, else a leaf of the worker's own in the cgroup v1 hierarchy of
 * that controller; where neither works they are refused (not ignored). */
#ifndef SPAWNPOOL_LIMITS_H
#define SPAWNPOOL_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "pool/proto.h"
#include "pool/tree.h"

/* Master, after tree_setup and before forking: finds where memory and pids limits can be
 * enforced and records it in the environment for workers. instance names this server's
 * cgroup v1 leaves (as tree_setup's). */
void limits_setup(const char *instance);
/* Whether limit (enum proto_limit) can be enforced here; rlimits always can. */
bool limits_supported(int limit);
/* Where the memory / pids / cpu limit is enforced: "cgroup v2", "cgroup v1" or "none". */
const char *limits_where(int limit);

/* A worker's handles on the cgroup files of its memory, pids and cpu limits. */
struct limits_cg {
    int memory_fd, swap_fd, pids_fd, events_fd; /* -1: none */
    int cpu_fd;                                 /* cpu.max (v1 cpu.cfs_quota_us); -1: none */
    bool v1_memory;                             /* v1 file names and "unlimited" spelling */
    bool v1_cpu;                                /* v1: quota alone, "-1" for none */
    int64_t oom_kills;  /* the counter when a job with a memory limit started; -1 */
    bool limited;       /* limits written for the running job */
    bool oom_protected; /* for the running job, the worker's oom_score_adj is -1000 */
    int oom_score;      /* the worker's own score otherwise (the server's, inherited) */
};
/* Worker, once: opens the files (joining its cgroup v1 leaves where those are used) and
 * lifts whatever a dead predecessor left on them. */
void limits_open(struct limits_cg *c, const struct tree *t, int index);
/* Worker, before starting a job: writes its memory, pids and cpu limits (the worker is a
 * member too: one process, its few MiB and the CPU it spends copying output more); with a memory
 * limit the worker also makes itself the OOM killer's last choice while the job runs
 * (oom_protected: the child resets it). Returns 0, or -1 with errno and the failed limit in *which.
 */
int limits_begin(struct limits_cg *c, const struct proto_limits *l, int *which);
/* Worker, after the job's tree is gone: lifts the limits (if that fails, the cgroup is given
 * up: later limited jobs are refused). True if the kernel's OOM killer killed a process in
 * the cgroup while the job ran with a memory limit. */
bool limits_end(struct limits_cg *c);
/* Worker, exiting: moves itself out of its cgroup v1 leaves and removes them (as
 * tree_leave does for the tree leaf). */
void limits_leave(void);
/* Worker: closes the files. */
void limits_close(struct limits_cg *c);
/* The hard rlimit of this process for limit (an rlimit one), in *max; false if unlimited.
 * Jobs inherit it: it is what a job may ask for when no --limit-* or template sets one. For
 * cpu: the machine's online CPUs in thousandths (a quota above them limits nothing). */
bool limits_hard(int limit, int64_t *max);
/* Master, before threads: whether a job's child could set l's rlimits (raising a hard limit
 * needs privilege). 0, or -1 with the one it could not in *which. */
int limits_probe_rlimits(const struct proto_limits *l, int *which);
/* In the job's child between fork and exec (async-signal-safe): sets each rlimit of l,
 * soft and hard. Returns 0, or -1 with errno and the failed limit in *which. */
int limits_set_rlimits(const struct proto_limits *l, int *which);
/* Master at start: removes the cgroup v1 leaves of dead servers of this data dir; at exit
 * (limits_remove_own): its own. */
void limits_remove_stale(void);
void limits_remove_own(int nslots);

#endif
