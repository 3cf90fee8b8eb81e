/* jobs_list: GET /v1/jobs, the jobs its filters select, newest first, a page at a time. Its
 * filter is read by api_query_filter (api/query.c, which DELETE /v1/jobs shares); the store
 * answers every combination from an index (server/store_list.c). */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

enum MHD_Result api_jobs_list(struct api *a, struct MHD_Connection *c)
{
    static const char *const allowed[] = {API_FILTER_PARAMS, "limit", NULL};
    struct api_error e;
    struct api_filter af = {0};
    int64_t limit;
    if (api_query_check(c, allowed, &e) < 0 ||
        api_query_int(c, "limit", 1, 1000, 100, &limit, &e) < 0 ||
        api_query_filter(c, &af, &e) < 0) {
        api_filter_free(&af);
        return api_send_error(c, &e);
    }
    struct store_filter f = af.f;
    f.limit = (int)limit + 1; /* one more tells whether there is a next page */
    struct job *jobs;
    size_t n;
    int rc = store_list_jobs(a->store, &f, &jobs, &n);
    api_filter_free(&af);
    if (rc < 0) return api_send_internal(c, "listing jobs");
    struct text t = {0};
    text_add(&t, "{\"jobs\":[", 9);
    size_t shown = n > (size_t)limit ? (size_t)limit : n;
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
