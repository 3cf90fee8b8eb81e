/* queue: binary max-heap ordered by (priority desc, id asc). */
#include "server/queue.h"

#include <stdlib.h>

static bool before(const struct queue_entry *a, const struct queue_entry *b)
{
    return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
}

static void swap(struct queue *q, size_t i, size_t j)
{
    struct queue_entry t = q->heap[i];
    q->heap[i] = q->heap[j];
    q->heap[j] = t;
}

static void sift_up(struct queue *q, size_t i)
{
    while (i > 0 && before(&q->heap[i], &q->heap[(i - 1) / 2])) {
        swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void sift_down(struct queue *q, size_t i)
{
    for (;;) {
        size_t best = i, l = 2 * i + 1, r = l + 1;
        if (l < q->len && before(&q->heap[l], &q->heap[best])) best = l;
        if (r < q->len && before(&q->heap[r], &q->heap[best])) best = r;
        if (best == i) return;
        swap(q, i, best);
        i = best;
    }
}

int queue_push(struct queue *q, int64_t priority, int64_t id)
{
    return queue_push_since(q, priority, id, 0);
}

int queue_push_since(struct queue *q, int64_t priority, int64_t id, int64_t since_us)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        struct queue_entry *h = realloc(q->heap, cap * sizeof *h);
        if (!h) return -1;
        q->heap = h;
        q->cap = cap;
    }
    q->heap[q->len] = (struct queue_entry){priority, id, since_us};
    sift_up(q, q->len++);
    return 0;
}

bool queue_peek(const struct queue *q, struct queue_entry *out)
{
    if (q->len == 0) return false;
    *out = q->heap[0];
    return true;
}

static void remove_at(struct queue *q, size_t i)
{
    q->heap[i] = q->heap[--q->len];
    if (i < q->len) {
        sift_up(q, i);
        sift_down(q, i);
    }
}

bool queue_pop(struct queue *q, struct queue_entry *out)
{
    if (!queue_peek(q, out)) return false;
    remove_at(q, 0);
    return true;
}

bool queue_remove(struct queue *q, int64_t id)
{
    for (size_t i = 0; i < q->len; i++)
        if (q->heap[i].id == id) {
            remove_at(q, i);
            return true;
        }
    return false;
}

void queue_free(struct queue *q)
{
    free(q->heap);
    q->heap = NULL;
    q->len = q->cap = 0;
}
