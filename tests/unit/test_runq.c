/* Unit tests for server/runq (the ready heap): priority order, FIFO by id among equals,
 * removal from the middle, and a long random run against a sorted reference. */
#include <stdlib.h>
#include <string.h>

#include "server/runq.h"
#include "check.h"

/* The heap's order: higher priority first, then lower id first. */
static bool ahead(const struct runq_entry *a, const struct runq_entry *b)
{
    return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
}

/* True if every child in the heap array comes no earlier than its parent. */
static bool heap_ok(const struct runq *q)
{
    for (size_t i = 1; i < q->len; i++)
        if (ahead(&q->heap[i], &q->heap[(i - 1) / 2])) return false;
    return true;
}

static void test_empty(void)
{
    struct runq q = {0};
    struct runq_entry e = {7, 7, 0};
    CHECK(!runq_peek(&q, &e));
    CHECK(!runq_pop(&q, &e));
    CHECK(!runq_remove(&q, 1));
    runq_free(&q);
    CHECK(q.heap == NULL && q.len == 0 && q.cap == 0);
}

static void test_priority_order(void)
{
    struct runq q = {0};
    CHECK(runq_push(&q, 1, 1) == 0);
    CHECK(runq_push(&q, 5, 2) == 0);
    CHECK(runq_push(&q, 3, 3) == 0);
    CHECK(runq_push(&q, 5, 4) == 0);
    CHECK(runq_push(&q, -2, 5) == 0);
    CHECK(runq_push(&q, INT64_MAX, 6) == 0);
    CHECK(runq_push(&q, INT64_MIN, 7) == 0);
    CHECK_EQ_INT(q.len, 7);
    CHECK(heap_ok(&q));

    static const struct runq_entry want[] = {{INT64_MAX, 6, 0}, {5, 2, 0}, {5, 4, 0},
                                             {3, 3, 0},         {1, 1, 0}, {-2, 5, 0},
                                             {INT64_MIN, 7, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct runq_entry peeked = {0, 0, 0}, e = {0, 0, 0};
        CHECK(runq_peek(&q, &peeked));
        CHECK(runq_pop(&q, &e));
        CHECK(peeked.priority == e.priority && peeked.id == e.id);
        CHECK_EQ_INT(e.priority, want[i].priority);
        CHECK_EQ_INT(e.id, want[i].id);
        CHECK(heap_ok(&q));
    }
    struct runq_entry e;
    CHECK(!runq_pop(&q, &e));
    CHECK_EQ_INT(q.len, 0);
    runq_free(&q);
}

static void test_fifo_equal_priority(void)
{
    /* Pushed in a scrambled id order, all at one priority: they come out by id. */
    static const int64_t ids[] = {42, 7, 19, 3, 100, 8, 1, 55, 21, 64, 2, 13};
    const size_t n = sizeof ids / sizeof ids[0];
    struct runq q = {0};
    for (size_t i = 0; i < n; i++)
        CHECK(runq_push(&q, 10, ids[i]) == 0);
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        struct runq_entry e = {0, 0, 0};
        CHECK(runq_pop(&q, &e));
        CHECK_EQ_INT(e.priority, 10);
        CHECK(e.id > prev);
        prev = e.id;
    }
    CHECK_EQ_INT(prev, 100);
    CHECK_EQ_INT(q.len, 0);

    /* Ids pushed in increasing order (the usual case) stay FIFO, interleaved with other
     * priorities. */
    for (int64_t id = 1; id <= 30; id++)
        CHECK(runq_push(&q, id % 3, id) == 0);
    for (int64_t p = 2; p >= 0; p--)
        for (int64_t id = 1; id <= 30; id++) {
            if (id % 3 != p) continue;
            struct runq_entry e = {0, 0, 0};
            CHECK(runq_pop(&q, &e));
            CHECK_EQ_INT(e.priority, p);
            CHECK_EQ_INT(e.id, id);
        }
    CHECK_EQ_INT(q.len, 0);
    runq_free(&q);
}

static void test_remove_middle(void)
{
    struct runq q = {0};
    /* ids 1..40 with priorities that put them all over the heap */
    for (int64_t id = 1; id <= 40; id++)
        CHECK(runq_push(&q, (id * 7) % 5, id) == 0);
    CHECK(heap_ok(&q));

    /* Remove entries that sit in the middle of the heap array, and a leaf, and the root. */
    int64_t removed[6];
    size_t nremoved = 0;
    removed[nremoved++] = q.heap[q.len / 2].id;
    CHECK(runq_remove(&q, removed[0]));
    CHECK(heap_ok(&q));
    removed[nremoved++] = q.heap[3].id;
    CHECK(runq_remove(&q, removed[1]));
    CHECK(heap_ok(&q));
    removed[nremoved++] = q.heap[q.len - 1].id;
    CHECK(runq_remove(&q, removed[2]));
    CHECK(heap_ok(&q));
    removed[nremoved++] = q.heap[0].id;
    CHECK(runq_remove(&q, removed[3]));
    CHECK(heap_ok(&q));
    removed[nremoved++] = q.heap[1].id;
    CHECK(runq_remove(&q, removed[4]));
    CHECK(heap_ok(&q));
    CHECK_EQ_INT(q.len, 35);

    /* Not queued (never, or no longer): false, nothing changes. */
    CHECK(!runq_remove(&q, 999));
    CHECK(!runq_remove(&q, removed[0]));
    CHECK_EQ_INT(q.len, 35);

    /* What is left comes out in order and without the removed ids. */
    struct runq_entry prev = {INT64_MAX, 0, 0};
    size_t popped = 0;
    struct runq_entry e;
    while (runq_pop(&q, &e)) {
        CHECK(!ahead(&e, &prev));
        for (size_t i = 0; i < nremoved; i++)
            CHECK(e.id != removed[i]);
        prev = e;
        popped++;
    }
    CHECK_EQ_INT(popped, 35);
    runq_free(&q);
}

/* A deliberately simple reference: an unsorted array, "pop" scans for the best. */
struct ref {
    struct runq_entry *v;
    size_t n;
};

static bool ref_pop(struct ref *r, struct runq_entry *out)
{
    if (r->n == 0) return false;
    size_t best = 0;
    for (size_t i = 1; i < r->n; i++)
        if (ahead(&r->v[i], &r->v[best])) best = i;
    *out = r->v[best];
    r->v[best] = r->v[--r->n];
    return true;
}

static bool ref_remove(struct ref *r, int64_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].id == id) {
            r->v[i] = r->v[--r->n];
            return true;
        }
    return false;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct runq_entry *x = a, *y = b;
    return ahead(x, y) ? -1 : ahead(y, x) ? 1 : 0;
}

static void test_random_against_reference(void)
{
    enum { OPS = 20000, MAXN = 4096 };
    struct runq q = {0};
    struct ref r = {calloc(MAXN, sizeof(struct runq_entry)), 0};
    CHECK(r.v != NULL);
    if (!r.v) return;
    srand(12345);
    int64_t next_id = 1;
    int mismatches = 0;
    for (int op = 0; op < OPS; op++) {
        int dice = rand() % 10;
        if ((dice < 6 || r.n == 0) && r.n < MAXN) { /* push, priorities with many ties */
            int64_t prio = rand() % 8 - 4;
            if (runq_push(&q, prio, next_id) != 0) mismatches++;
            r.v[r.n++] = (struct runq_entry){prio, next_id, 0};
            next_id++;
        } else if (dice < 9) { /* pop */
            struct runq_entry a = {0, 0, 0}, b = {0, 0, 0};
            bool ga = runq_pop(&q, &a), gb = ref_pop(&r, &b);
            if (ga != gb || a.id != b.id || a.priority != b.priority) mismatches++;
        } else { /* remove a random id, queued or not */
            int64_t id = 1 + rand() % next_id;
            if (runq_remove(&q, id) != ref_remove(&r, id)) mismatches++;
        }
        if (q.len != r.n) mismatches++;
        if (op % 500 == 0 && !heap_ok(&q)) mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK(heap_ok(&q));

    /* Fill well past the initial capacity, then drain against a sorted copy. */
    for (int i = 0; i < 1500 && r.n < MAXN; i++) {
        int64_t prio = rand() % 50;
        CHECK(runq_push(&q, prio, next_id) == 0);
        r.v[r.n++] = (struct runq_entry){prio, next_id, 0};
        next_id++;
    }
    CHECK_EQ_INT(q.len, r.n);
    qsort(r.v, r.n, sizeof *r.v, cmp_entry);
    mismatches = 0;
    for (size_t i = 0; i < r.n; i++) {
        struct runq_entry e = {0, 0, 0};
        if (!runq_pop(&q, &e) || e.id != r.v[i].id || e.priority != r.v[i].priority) mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(q.len, 0);
    free(r.v);
    runq_free(&q);
}

int main(void)
{
    test_empty();
    test_priority_order();
    test_fifo_equal_priority();
    test_remove_middle();
    test_random_against_reference();
    return check_report();
}
