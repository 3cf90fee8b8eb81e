/* jobs_list: GET /v1/jobs, the jobs its filters select, newest first, a page at a time. Its
 * query is read here (each value by the parsers of api/query.c); the store answers every
 * combination from an index (server/store_list.c). */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

/* The time parameters: created_after, created_before, finished_after. */
struct list_times {
    int64_t created_after, created_before, finished_after;
};

static const char *query_value(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* Reads time parameter name into *ms and points *bound at it (absent: left NULL). 0 or -1. */
static int query_time(struct MHD_Connection *c, const char *name, bool round_up, int64_t *ms,
                      const int64_t **bound, struct api_error *e)
{
    const char *v = query_value(c, name);
    if (!v) return 0;
    if (api_parse_time(name, v, round_up, ms, e) < 0) return -1;
    *bound = ms;
    return 0;
}

/* Reads the filters of the query into f (name: a copy when it is a prefix, freed by the
 * caller). 0, or -1 with e. */
static int read_filter(struct MHD_Connection *c, struct store_filter *f, struct list_times *t,
                       char **name_copy, struct api_error *e)
{
    static const char *const allowed[] = {
        "state",         "queue",          "name",           "limit",    "before", "rerun_of",
        "created_after", "created_before", "finished_after", "schedule", NULL};
    int64_t limit, before, rerun_of;
    if (api_query_check(c, allowed, e) < 0 ||
        api_query_int(c, "limit", 1, 1000, 100, &limit, e) < 0 ||
        api_query_int(c, "before", 1, INT64_MAX, 0, &before, e) < 0 ||
        api_query_int(c, "rerun_of", 1, INT64_MAX, 0, &rerun_of, e) < 0)
        return -1;
    *f = (struct store_filter){
        .queue = query_value(c, "queue"),
        .name = query_value(c, "name"),
        .rerun_of = rerun_of,
        .schedule = query_value(c, "schedule"),
        .before = before,
        .limit = (int)limit + 1, /* one more tells whether there is a next page */
    };
    const char *state = query_value(c, "state");
    if (state && api_parse_states(state, f->states, &f->n_states, e) < 0) return -1;
    if (f->name && api_parse_name_filter(f->name, &f->name_prefix, e) < 0) return -1;
    if (f->name_prefix) { /* without its '*' */
        if (!(*name_copy = strndup(f->name, strlen(f->name) - 1)))
            return api_fail(e, 500, "internal", NULL, "out of memory");
        f->name = *name_copy;
    }
    /* (bounds are exclusive: a time with digits below the millisecond rounds away from it) */
    if (query_time(c, "created_after", false, &t->created_after, &f->created_after, e) < 0 ||
        query_time(c, "created_before", true, &t->created_before, &f->created_before, e) < 0 ||
        query_time(c, "finished_after", false, &t->finished_after, &f->finished_after, e) < 0)
        return -1;
    return 0;
}

enum MHD_Result api_jobs_list(struct api *a, struct MHD_Connection *c)
{
    struct api_error e;
    struct store_filter f;
    struct list_times times;
    char *name_copy = NULL;
    if (read_filter(c, &f, &times, &name_copy, &e) < 0) {
        free(name_copy);
        return api_send_error(c, &e);
    }
    struct job *jobs;
    size_t n;
    int rc = store_list_jobs(a->store, &f, &jobs, &n);
    free(name_copy);
    if (rc < 0) return api_send_internal(c, "listing jobs");
    struct text t = {0};
    text_add(&t, "{\"jobs\":[", 9);
    size_t limit = (size_t)f.limit - 1, shown = n > limit ? limit : n;
    for (size_t i = 0; i < shown; i++) {
        if (i) text_add(&t, ",", 1);
        api_job_live(a, &jobs[i]);
        api_job_text(&t, &jobs[i]);
    }
    if (n > shown)
        text_addf(&t, "],\"next_before\":%lld}", (long long)jobs[shown - 1].id);
    else
        text_add(&t, "],\"next_before\":null}", 21);
    for (size_t i = 0; i < n; i++)
        job_free(&jobs[i]);
    free(jobs);
    return api_send_text_json(c, 200, &t, NULL);
}
