/* tree: ending a job's whole process tree, grandchildren that left its process group
 * included. With a writable cgroup v2 hierarchy each worker sits in a leaf cgroup of its
 * own, its jobs are born there and cannot leave, and the tree is every member but the
 * worker; otherwise the job's process group plus every descendant found under the
 * (subreaper) worker in /proc. */
#ifndef SPAWNPOOL_TREE_H
#define SPAWNPOOL_TREE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

enum tree_kind { TREE_PGROUP, TREE_CGROUP };

/* A worker's handle on its jobs' tree. */
struct tree {
    enum tree_kind kind;
    int procs_fd;        /* leaf/cgroup.procs (the worker is a member; its jobs too); -1 */
    int kill_fd;         /* leaf/cgroup.kill; -1 */
    char path[PATH_MAX]; /* the leaf directory */
};

/* Master, before forking anything: picks the mechanism ("auto", "cgroup" or "pgroup"),
 * probing that a leaf can be made, joined and killed; records the choice in the
 * environment for workers. instance names this server's leaves: "<data-dir hash>-<master
 * pid>", so a dead run's are found by the hash and a live one's are told by the pid. Returns 0, or
 * -1 with a message in err if "cgroup" was asked for and cannot work. */
int tree_setup(const char *want, const char *instance, char *err, size_t errlen);
/* Master, cgroup mode: the directory its workers' leaves are made in; NULL otherwise. */
const char *tree_cgroup_base(void);
/* The mechanism in use, as shown in /healthz: "cgroup" or "process-group". */
const char *tree_mechanism(void);
/* Worker: opens (making if needed) the leaf of slot index; falls back to process groups
 * if that fails. Also removes the setting from the environment jobs inherit. */
void tree_open(struct tree *t, int index);
/* In the job's child between fork and exec (async-signal-safe). Nothing to do while the
 * worker itself sits in the leaf (its children are born there); kept as the hook where a
 * job would join a cgroup of its own. Returns 0 or -1 (errno set). */
int tree_enter(const struct tree *t);
/* Sends sig to every process of the job: its process group pgid and its whole tree. */
void tree_signal(const struct tree *t, pid_t pgid, int sig);
/* After the job's main process exited (and was reaped): SIGKILLs whatever it left behind,
 * cheaply when nothing is left (the common case: no walk, no kill). */
void tree_kill_leftovers(const struct tree *t, pid_t pgid);
/* Worker, exiting: moves itself out of its leaf (to the parent, or where that hands
 * controllers down, to the master's own leaf) and removes it, waiting up to 0.2 s for the
 * job's killed processes to leave; so a master killed with -9 leaves no leaves behind. A
 * worker killed with -9 cannot: its leaf waits for the next start (tree_remove_stale). */
void tree_leave(const struct tree *t);
/* Closes the worker's fds on its leaf. */
void tree_close(struct tree *t);
/* Master: SIGKILLs whatever runs in the leaf of a worker slot that died, and (process
 * group mode) every descendant of the master outside the live workers. Returns how many
 * processes it found: none means the dead worker's job never got to run. */
int tree_kill_slot(int index, const pid_t *workers, int nworkers);
/* Master at start: kills and removes the leaves of dead servers of this data dir (whose
 * master pid is gone). At exit, tree_remove_own: removes its own. */
void tree_remove_stale(void);
void tree_remove_own(int nslots);
/* Calls fn with the path of every leaf in dir of a dead server of this data dir: names are
 * spawnpool.<data-dir hash>-<master pid>.<what>, so a live server's are never passed, even
 * one running on the same data-dir path. */
void tree_for_each_stale_leaf(const char *dir, const char *instance, void (*fn)(const char *leaf));
/* SIGKILLs (or sends sig to) every descendant of root except the subtrees of `exclude`.
 * Returns how many processes were signalled. */
int tree_signal_descendants(pid_t root, const pid_t *exclude, int nexclude, int sig);

#endif
