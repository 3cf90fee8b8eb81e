/* routes: path and method -> handler. Known path with a wrong method is 405 with Allow;
 * anything else is 404. Job ids in paths must be positive integers. */
#include <string.h>

#include "api/internal.h"

static bool is(const char *method, const char *want)
{
    return strcmp(method, want) == 0 || (strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

static enum MHD_Result not_found(struct MHD_Connection *c, const char *url)
{
    struct api_error e;
    api_fail(&e, 404, "not_found", NULL, "no route %.200s (see the API reference, docs/api.md)",
             url);
    return api_send_error(c, &e);
}

/* Routes /v1/jobs/{id}[/action]. rest points after "/v1/jobs/". */
static enum MHD_Result route_job(struct api *a, struct request *r, struct MHD_Connection *c,
                                 const char *method, const char *url, const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *action = slash ? slash + 1 : NULL;
    const char *allow;
    if (!action)
        allow = "GET, HEAD, DELETE, PATCH";
    else if (strcmp(action, "wait") == 0 || strcmp(action, "output") == 0)
        allow = "GET, HEAD";
    else if (strcmp(action, "terminate") == 0 || strcmp(action, "rerun") == 0)
        allow = "POST";
    else
        return not_found(c, url);

    int64_t id;
    struct api_error e;
    if (api_parse_id(rest, idlen, &id, &e) < 0) return api_send_error(c, &e);
    if (!action) {
        if (is(method, "GET")) return api_jobs_get(a, c, id);
        if (is(method, "DELETE")) return api_jobs_delete(a, r, c, id);
        if (is(method, "PATCH")) return api_jobs_patch(a, r, c, id);
    } else if (strcmp(action, "wait") == 0) {
        if (is(method, "GET")) return api_jobs_wait(a, r, c, id);
    } else if (strcmp(action, "output") == 0) {
        if (is(method, "GET")) return api_jobs_output(a, r, c, id);
    } else if (strcmp(action, "rerun") == 0) {
        if (is(method, "POST")) return api_jobs_rerun(a, r, c, id);
    } else if (is(method, "POST")) {
        return api_jobs_terminate(a, r, c, id);
    }
    return api_send_not_allowed(c, allow);
}

enum MHD_Result api_route(struct api *a, struct request *r, struct MHD_Connection *c,
                          const char *method, const char *url)
{
    if (strcmp(url, "/v1/jobs/wait") == 0) /* several jobs at once (before /v1/jobs/{id}) */
        return is(method, "GET") ? api_jobs_wait_many(a, r, c)
                                 : api_send_not_allowed(c, "GET, HEAD");
    if (strncmp(url, "/v1/jobs/", 9) == 0) return route_job(a, r, c, method, url, url + 9);
    if (strcmp(url, "/v1/jobs") == 0) {
        if (is(method, "GET")) return api_jobs_list(a, c);
        if (is(method, "POST")) return api_jobs_submit(a, r, c);
        if (is(method, "DELETE")) return api_jobs_delete_finished(a, r, c);
        return api_send_not_allowed(c, "GET, HEAD, POST, DELETE");
    }
    if (strcmp(url, "/v1/events") == 0)
        return is(method, "GET") ? api_events(a, c) : api_send_not_allowed(c, "GET, HEAD");
    if (strcmp(url, "/v1/queues") == 0)
        return is(method, "GET") ? api_queues_list(a, c) : api_send_not_allowed(c, "GET, HEAD");
    if (strncmp(url, "/v1/queues/", 11) == 0)
        return strcmp(method, "PATCH") == 0 ? api_queues_patch(a, r, c, url + 11)
                                            : api_send_not_allowed(c, "PATCH");
    if (strcmp(url, "/v1/schedules") == 0) {
        if (is(method, "GET")) return api_schedules_list(a, c);
        if (is(method, "POST")) return api_schedules_create(a, r, c);
        return api_send_not_allowed(c, "GET, HEAD, POST");
    }
    if (strncmp(url, "/v1/schedules/", 14) == 0) return api_schedule_one(a, r, c, method, url + 14);
    if (strcmp(url, "/v1/tasks") == 0)
        return is(method, "GET") ? api_tasks(a, c) : api_send_not_allowed(c, "GET, HEAD");
    if (strcmp(url, "/v1/workers") == 0)
        return is(method, "GET") ? api_workers(a, c) : api_send_not_allowed(c, "GET, HEAD");
    if (strcmp(url, "/v1/nodes") == 0)
        return is(method, "GET") ? api_nodes(a, c) : api_send_not_allowed(c, "GET, HEAD");
    if (strcmp(url, "/v1/openapi.json") == 0)
        return is(method, "GET") ? api_openapi(c) : api_send_not_allowed(c, "GET, HEAD");
    if (strcmp(url, "/healthz") == 0)
        return is(method, "GET") ? api_healthz(a, c) : api_send_not_allowed(c, "GET, HEAD");
    if (strcmp(url, "/readyz") == 0)
        return is(method, "GET") ? api_readyz(a, c) : api_send_not_allowed(c, "GET, HEAD");
    if (strcmp(url, "/metrics") == 0)
        return is(method, "GET") ? api_metrics(a, c) : api_send_not_allowed(c, "GET, HEAD");
    if (strcmp(url, "/") == 0 || strncmp(url, "/ui/", 4) == 0)
        return api_dashboard(a, c, method, url);
    return not_found(c, url);
}
