/* usage: what a job's whole tree used, from the worker's cgroup leaf where it has one. The
 * leaf holds the worker and its job's processes (daemons the job left included, until they
 * are killed at its end), so the job's CPU is what cpu.stat counted while it ran less the
 * worker's own (its rusage), and its peak memory is memory.peak, reset at its start (kernel
 * 6.12 or later: a write resets it for that file descriptor; before, the peak of the leaf's
 * whole life says nothing of one job, and rusage is kept). Without a leaf: rusage alone. */
#ifndef SPAWNPOOL_USAGE_H
#define SPAWNPOOL_USAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "pool/proto.h"
#include "pool/tree.h"

/* A worker's handles on its leaf's usage files and the figures at the job's start. */
struct usage_cg {
    int stat_fd, peak_fd;       /* cpu.stat, memory.peak in the tree leaf; -1: none */
    bool began_cpu;             /* cpu.stat was read at the job's start */
    bool began_peak;            /* memory.peak was reset at the job's start */
    int64_t user_us, system_us; /* the leaf's at the start */
    struct rusage self;         /* the worker's own at the start */
};

/* Worker, once: opens the files of its tree leaf (cgroup mode), else sets them to -1. */
void usage_open(struct usage_cg *u, const struct tree *t);
/* Worker, just before starting a job: notes the leaf's CPU and its own, resets the peak. */
void usage_begin(struct usage_cg *u);
/* Worker, once the job's tree is gone: puts the tree's figures in d (user_us, system_us,
 * maxrss_kb) where the leaf gave them and says so in d->usage_from; the rest stays rusage. */
void usage_end(struct usage_cg *u, struct proto_done *d);
/* Parses cpu.stat text ("usage_usec N\nuser_usec N\nsystem_usec N\n..."): 0, or -1 if the
 * user or system line is missing. */
int usage_parse_cpu_stat(const char *text, int64_t *user_us, int64_t *system_us);
/* Worker: closes the files. */
void usage_close(struct usage_cg *u);

#endif
