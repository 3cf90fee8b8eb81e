/* queue: the jobs waiting for a worker, highest priority first and FIFO (by id) among
 * equals. A binary heap of (priority, id); the dispatcher owns it and locks around it. */
#ifndef SPAWNPOOL_QUEUE_H
#define SPAWNPOOL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue_entry {
    int64_t priority;
    int64_t id;
    int64_t since_us; /* when it became ready to run (monotonic µs), 0: unknown */
};

struct queue {
    struct queue_entry *heap;
    size_t len, cap;
};

/* Adds a job; returns 0 or -1 on ENOMEM. O(log n). */
int queue_push(struct queue *q, int64_t priority, int64_t id);
/* Adds a job that became ready to run at since_us (for the dispatch latency). */
int queue_push_since(struct queue *q, int64_t priority, int64_t id, int64_t since_us);
/* Looks at the next job without taking it; false when empty. */
bool queue_peek(const struct queue *q, struct queue_entry *out);
/* Takes the next job; false when empty. O(log n). */
bool queue_pop(struct queue *q, struct queue_entry *out);
/* Removes job id wherever it is; false if it is not queued. O(n) to find, O(log n) to fix. */
bool queue_remove(struct queue *q, int64_t id);
/* Frees the heap. */
void queue_free(struct queue *q);

#endif
