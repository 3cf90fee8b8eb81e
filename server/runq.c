/* runq: binary max-heap ordered by (priority desc, id asc). */
#include "server/runq.h"

#include <stdlib.h>

static bool before(const struct runq_entry *a, const struct runq_entry *b)
{
    return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
}

static void swap(struct runq *q, size_t i, size_t j)
{
    struct runq_entry t = q->heap[i];
    q->heap[i] = q->heap[j];
    q->heap[j] = t;
}

static void sift_up(struct runq *q, size_t i)
{
    while (i > 0 && before(&q->heap[i], &q->heap[(i - 1) / 2])) {
        swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void sift_down(struct runq *q, size_t i)
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

int runq_push(struct runq *q, int64_t priority, int64_t id)
{
    return runq_push_since(q, priority, id, 0);
}

int runq_push_since(struct runq *q, int64_t priority, int64_t id, int64_t since_us)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        struct runq_entry *h = realloc(q->heap, cap * sizeof *h);
        if (!h) return -1;
        q->heap = h;
        q->cap = cap;
    }
    q->heap[q->len] = (struct runq_entry){priority, id, since_us};
    sift_up(q, q->len++);
    return 0;
}

bool runq_peek(const struct runq *q, struct runq_entry *out)
{
    if (q->len == 0) return false;
    *out = q->heap[0];
    return true;
}

static void remove_at(struct runq *q, size_t i)
{
    q->heap[i] = q->heap[--q->len];
    if (i < q->len) {
        sift_up(q, i);
        sift_down(q, i);
    }
}

bool runq_pop(struct runq *q, struct runq_entry *out)
{
    if (!runq_peek(q, out)) return false;
    remove_at(q, 0);
    return true;
}

bool runq_remove(struct runq *q, int64_t id)
{
    for (size_t i = 0; i < q->len; i++)
        if (q->heap[i].id == id) {
            remove_at(q, i);
            return true;
        }
    return false;
}

void runq_free(struct runq *q)
{
    free(q->heap);
    q->heap = NULL;
    q->len = q->cap = 0;
}
