/* jobs_delete: forgetting finished jobs on request: one (DELETE /v1/jobs/{id}), or every one a
 * filter of GET /v1/jobs matches (DELETE /v1/jobs?state=..., or all=1), carried out by the
 * main loop in slices (server/dispatch_clean.c) and answered after the last one committed. */
#include <stdio.h>
#include <stdlib.h>
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
    case DISPATCH_OK:
        return api_send_empty(c, 204);
    case DISPATCH_CONFLICT:
        api_fail(&e, 409, "conflict", NULL,
                 "job %lld has not finished: terminate it first, then delete it", (long long)id);
        return api_send_error(c, &e);
    default:
        return api_command_refused(a, c, id, result, "deleting the job");
    }
}

/* The finished states, "succeeded, failed, ..." into out. */
static void finished_states(char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < JOB_STATE_COUNT && used < n; i++)
        if (job_state_terminal((enum job_state)i))
            used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "",
                                     job_state_name((enum job_state)i));
}

/* The bulk delete's query into r->filter, which cmd->filter copies: a filter or all=1 (a bare
 * DELETE /v1/jobs is too easy to send by mistake), and states only if finished. 0, or -1
 * with e. */
static int parse_bulk(struct MHD_Connection *c, struct request *r, struct dispatch_cmd *cmd,
                      struct api_error *e)
{
    static const char *const allowed[] = {API_FILTER_PARAMS, "all", NULL};
    if (api_query_check(c, allowed, e) < 0) return -1;
    if (!(r->filter = calloc(1, sizeof *r->filter)))
        return api_fail(e, 500, "internal", NULL, "out of memory");
    if (api_query_filter(c, r->filter, e) < 0) return -1;
    const char *all = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "all");
    if (all && strcmp(all, "1") != 0)
        return api_fail(e, 400, "invalid_argument", "all", "all must be 1, got '%.20s'", all);
    const struct store_filter *f = &r->filter->f;
    if (!all && !f->n_states && !f->queue && !f->name && f->before <= 0 && !f->rerun_of &&
        !f->schedule && !f->created_after && !f->created_before && !f->finished_after)
        return api_fail(e, 400, "invalid_argument", NULL,
                        "say which finished jobs to delete: state, queue, name, before (a job "
                        "id), rerun_of, schedule, created_after, created_before or "
                        "finished_after, or all=1 for every one");
    for (int i = 0; i < f->n_states; i++) {
        if (job_state_terminal(f->states[i])) continue;
        char ended[200];
        finished_states(ended, sizeof ended);
        return api_fail(e, 400, "invalid_argument", "state",
                        "only finished jobs are deleted: each state must be one of %s, got '%s'",
                        ended, job_state_name(f->states[i]));
    }
    cmd->filter = *f;
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
        if (parse_bulk(c, r, &cmd, &e) < 0) return api_send_error(c, &e);
        result = api_command(a, r, c, &cmd);
        if (result == DISPATCH_OK) return MHD_YES; /* answered after the last slice */
    }
    if (result != DISPATCH_OK) return api_command_refused(a, c, 0, result, "deleting jobs");
    struct text t = {0};
    text_addf(&t, "{\"deleted\":%lld,\"kept\":%lld}", (long long)done->deleted,
              (long long)done->kept);
    return api_send_text_json(c, 200, &t, NULL);
}
