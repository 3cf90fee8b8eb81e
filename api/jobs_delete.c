/* jobs_delete: forgetting finished jobs on request: one (DELETE /v1/jobs/{id}), or every one a
 * filter matches (DELETE /v1/jobs?state=&queue=&name=&before=, or all=1), carried out by the
 * main loop in slices (server/dispatch_clean.c) and answered after the last one committed. */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

static const char *const no_params[] = {NULL};

enum MHD_Result api_jobs_delete(struct api *a, struct request *r, struct MHD_Connection *c,
                                int64_t id)
{
    struct api_error e;
    const struct dispatch_cmd *done = api_command_answer(r);
    enum dispatch_result result;
    if (done) {
        result = done->result;
    } else {
        if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
        struct dispatch_cmd cmd = {.kind = DISPATCH_CMD_DELETE, .job_id = id};
        result = api_command(a, r, c, &cmd);
        if (result == DISPATCH_OK) return MHD_YES; /* answered after the commit */
    }
    switch (result) {
    case DISPATCH_OK: {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        if (!resp) return MHD_NO;
        enum MHD_Result rc = api_queue_response(c, 204, resp);
        MHD_destroy_response(resp);
        return rc;
    }
    case DISPATCH_CONFLICT:
        api_fail(&e, 409, "conflict", NULL,
                 "job %lld has not finished: terminate it first, then delete it", (long long)id);
        return api_send_error(c, &e);
    default:
        return api_command_refused(a, c, id, result, "deleting the job");
    }
}

/* The bulk delete's query into cmd->filter: a filter or all=1 (a bare DELETE /v1/jobs is too
 * easy to send by mistake), and a state only if finished. 0, or -1 with e. */
static int parse_bulk(struct MHD_Connection *c, struct dispatch_cmd *cmd, struct api_error *e)
{
    static const char *const allowed[] = {API_FILTER_PARAMS, "all", NULL};
    if (api_query_check(c, allowed, e) < 0 || api_query_filter(c, &cmd->filter, e) < 0) return -1;
    const char *all = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "all");
    if (all && strcmp(all, "1") != 0)
        return api_fail(e, 400, "invalid_argument", "all", "all must be 1, got '%.20s'", all);
    const struct store_filter *f = &cmd->filter;
    if (!all && !f->state && !f->queue && !f->name && f->before <= 0)
        return api_fail(e, 400, "invalid_argument", NULL,
                        "say which finished jobs to delete: state, queue, name or before (a job "
                        "id), or all=1 for every one");
    enum job_state st;
    if (f->state && job_state_parse(f->state, &st) == 0 && !job_state_terminal(st)) {
        char ended[200] = "";
        size_t used = 0;
        for (int i = 0; i < JOB_STATE_COUNT && used < sizeof ended; i++)
            if (job_state_terminal((enum job_state)i))
                used += (size_t)snprintf(ended + used, sizeof ended - used, "%s%s",
                                         used ? ", " : "", job_state_name((enum job_state)i));
        return api_fail(e, 400, "invalid_argument", "state",
                        "only finished jobs are deleted: state must be one of %s, got '%s'", ended,
                        f->state);
    }
    return 0;
}

enum MHD_Result api_jobs_delete_finished(struct api *a, struct request *r, struct MHD_Connection *c)
{
    struct api_error e;
    const struct dispatch_cmd *done = api_command_answer(r);
    enum dispatch_result result;
    if (done) {
        result = done->result;
    } else {
        struct dispatch_cmd cmd = {.kind = DISPATCH_CMD_DELETE_FINISHED};
        if (parse_bulk(c, &cmd, &e) < 0) return api_send_error(c, &e);
        result = api_command(a, r, c, &cmd);
        if (result == DISPATCH_OK) return MHD_YES; /* answered after the last slice */
    }
    if (result != DISPATCH_OK) return api_command_refused(a, c, 0, result, "deleting jobs");
    struct text t = {0};
    text_addf(&t, "{\"deleted\":%lld,\"kept\":%lld}", (long long)done->deleted,
              (long long)done->kept);
    return api_send_text_json(c, 200, &t, NULL);
}
