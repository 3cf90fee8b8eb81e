/* queues_api: GET /v1/queues and PATCH /v1/queues/{name} (multiprocessing's Queue as named
 * queues: pause, concurrency). */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

#define MAX_QUEUES 1024

struct listing {
    struct dispatch_queue_info info[MAX_QUEUES];
    int64_t queued[MAX_QUEUES], running[MAX_QUEUES];
    size_t n;
};

static size_t find_or_add(struct listing *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->info[i].name, name) == 0) return i;
    if (l->n == MAX_QUEUES) return MAX_QUEUES;
    struct dispatch_queue_info *q = &l->info[l->n];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->concurrency = -1;
    return l->n++;
}

static void add_counts(void *ctx, const char *name, int64_t queued, int64_t running)
{
    struct listing *l = ctx;
    size_t i = find_or_add(l, name);
    if (i == MAX_QUEUES) return;
    l->queued[i] = queued;
    l->running[i] = running;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct dispatch_queue_info *)a)->name,
                  ((const struct dispatch_queue_info *)b)->name);
}

static void queue_text(struct text *t, const struct dispatch_queue_info *q, int64_t queued,
                       int64_t running)
{
    text_add(t, "{\"name\":", 8);
    text_json_string(t, q->name);
    text_addf(t, ",\"queued\":%lld,\"running\":%lld,\"concurrency\":", (long long)queued,
              (long long)running);
    if (q->concurrency < 0)
        text_add(t, "null", 4);
    else
        text_addf(t, "%d", q->concurrency);
    text_addf(t, ",\"paused\":%s}", q->paused ? "true" : "false");
}

enum MHD_Result api_queues_list(struct api *a, struct MHD_Connection *c)
{
    static const char *const no_params[] = {NULL};
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    struct listing *l = calloc(1, sizeof *l);
    if (!l) return MHD_NO;
    l->n = dispatch_queue_list(a->dispatch, l->info, MAX_QUEUES);
    store_queue_counts(a->store, add_counts, l);
    /* sort names with their counts: sort an index */
    struct dispatch_queue_info *sorted = calloc(l->n ? l->n : 1, sizeof *sorted);
    if (!sorted) {
        free(l);
        return MHD_NO;
    }
    memcpy(sorted, l->info, l->n * sizeof *sorted);
    qsort(sorted, l->n, sizeof *sorted, by_name);
    struct text t = {0};
    text_add(&t, "{\"queues\":[", 11);
    for (size_t i = 0; i < l->n; i++) {
        size_t k = find_or_add(l, sorted[i].name);
        if (i) text_add(&t, ",", 1);
        queue_text(&t, &sorted[i], l->queued[k], l->running[k]);
    }
    text_add(&t, "]}", 2);
    free(sorted);
    free(l);
    return api_send_text_json(c, 200, &t, NULL);
}

int api_parse_queue_patch(const char *body, size_t len, struct queue_patch *q, struct api_error *e)
{
    *q = (struct queue_patch){.concurrency = -1, .paused = -1};
    json_t *root = api_parse_body(body, len, e);
    if (!root) return -1;
    int rc = json_is_object(root) && json_object_size(root) > 0
                 ? 0
                 : api_fail(e, 400, "invalid_argument", NULL,
                            "the body is an object with concurrency and/or paused");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (rc < 0) break;
        if (strcmp(key, "concurrency") == 0) {
            q->set_concurrency = true;
            if (json_is_null(v))
                q->concurrency = -1;
            else if (json_is_integer(v) && json_integer_value(v) >= 1 &&
                     json_integer_value(v) <= 1000000)
                q->concurrency = (int)json_integer_value(v);
            else
                rc = api_fail(e, 400, "invalid_argument", "concurrency",
                              "concurrency must be an integer >= 1, or null for no limit");
        } else if (strcmp(key, "paused") == 0) {
            if (json_is_boolean(v))
                q->paused = json_is_true(v);
            else
                rc = api_fail(e, 400, "invalid_argument", "paused", "paused must be true or false");
        } else {
            rc = api_fail(e, 400, "invalid_argument", key,
                          "unknown field '%.60s' (known: concurrency, paused)", key);
        }
    }
    json_decref(root);
    return rc;
}

enum MHD_Result api_queues_patch(struct api *a, struct request *r, struct MHD_Connection *c,
                                 const char *name)
{
    static const char *const no_params[] = {NULL};
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    if (!job_queue_name_ok(name)) {
        api_fail(&e, 400, "invalid_argument", "name",
                 "a queue name is 1 to 64 letters, digits, '-', '_' or '.'");
        return api_send_error(c, &e);
    }
    const struct dispatch_cmd *done = api_command_answer(r);
    enum dispatch_result result;
    if (done) {
        result = done->result;
    } else {
        struct queue_patch patch;
        if (api_parse_queue_patch(r->body, r->body_len, &patch, &e) < 0)
            return api_send_error(c, &e);
        struct dispatch_cmd cmd = {.kind = DISPATCH_CMD_QUEUE_SET,
                                   .concurrency = patch.concurrency,
                                   .set_concurrency = patch.set_concurrency,
                                   .paused = patch.paused};
        snprintf(cmd.queue, sizeof cmd.queue, "%s", name);
        result = api_command(a, r, c, &cmd);
        if (result == DISPATCH_OK) return MHD_YES; /* answered after the commit */
    }
    if (result == DISPATCH_UNAVAILABLE || result == DISPATCH_SHUTTING_DOWN)
        return api_send_not_now(a, c, result);
    if (result != DISPATCH_OK) {
        api_fail(&e, 500, "internal", NULL, "saving the queue failed (see the server log)");
        return api_send_error(c, &e);
    }
    struct dispatch_queue_info q = *api_command_queue(r);
    struct listing *l = calloc(1, sizeof *l);
    if (!l) return MHD_NO;
    store_queue_counts(a->store, add_counts, l);
    size_t k = find_or_add(l, name);
    struct text t = {0};
    queue_text(&t, &q, k < MAX_QUEUES ? l->queued[k] : 0, k < MAX_QUEUES ? l->running[k] : 0);
    free(l);
    return api_send_text_json(c, 200, &t, NULL);
}
