/* runq: a heap of jobs ready to run, highest priority first and FIFO (by id) among equals: a
 * binary heap of (priority, id). The dispatcher's ready heap is one, and so are the jobs a
 * named queue, a concurrency key or a gang holds back (not a named queue of the API: those
 * are struct qstate, server/dispatch_internal.h). Only the main loop touches them. */
#ifndef SPAWNPOOL_RUNQ_H
#define SPAWNPOOL_RUNQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct runq_entry {
    int64_t priority;
    int64_t id;
    int64_t since_us; /* when it became ready to run (monotonic µs), 0: unknown */
};

struct runq {
    struct runq_entry *heap;
    size_t len, cap;
};

/* Adds a job; returns 0 or -1 on ENOMEM. O(log n). */
int runq_push(struct runq *q, int64_t priority, int64_t id);
/* Adds a job that became ready to run at since_us (for the dispatch latency). */
int runq_push_since(struct runq *q, int64_t priority, int64_t id, int64_t since_us);
/* Looks at the next job without taking it; false when empty. */
bool runq_peek(const struct runq *q, struct runq_entry *out);
/* Takes the next job; false when empty. O(log n). */
bool runq_pop(struct runq *q, struct runq_entry *out);
/* Removes job id wherever it is; false if it is not queued. O(n) to find, O(log n) to fix. */
bool runq_remove(struct runq *q, int64_t id);
/* Frees the heap. */
void runq_free(struct runq *q);

#endif
