/* commands: a request that changes something (terminate, delete, queue settings) is handed
 * to the main loop as a command; its connection is suspended (no thread held) until the
 * batch that carried it out committed, then its handler runs again and answers. */
#include <stdlib.h>

#include "api/internal.h"
#include "server/cron.h"
#include "server/tz.h"

struct pending_cmd {
    struct dispatch_cmd cmd;
    struct MHD_Connection *conn;
    struct dispatch_queue_info queue;  /* a queue change's result */
    struct dispatch_schedule schedule; /* a schedule change's (owned: freed with the request) */
    bool answered;
};

static void command_wait(void *ctx)
{
    struct pending_cmd *p = ctx;
    MHD_suspend_connection(p->conn);
}

static void command_done(void *ctx)
{
    struct pending_cmd *p = ctx;
    p->answered = true;
    MHD_resume_connection(p->conn); /* the handler runs again and answers */
}

enum dispatch_result api_command(struct api *a, struct request *r, struct MHD_Connection *c,
                                 const struct dispatch_cmd *cmd)
{
    struct pending_cmd *p = calloc(1, sizeof *p);
    if (!p) return DISPATCH_ERROR;
    p->cmd = *cmd;
    p->cmd.queue_out = &p->queue;
    if (cmd->schedule) { /* the request owns it from here on, until it completes */
        p->schedule = *cmd->schedule;
        p->cmd.schedule = &p->schedule;
    }
    p->cmd.done = command_done;
    p->cmd.ctx = p;
    p->conn = c;
    r->cmd = p; /* freed when the request completes */
    return dispatch_command(a->dispatch, &p->cmd, command_wait);
}

const struct dispatch_cmd *api_command_answer(const struct request *r)
{
    return r->cmd && r->cmd->answered ? &r->cmd->cmd : NULL;
}

const struct dispatch_queue_info *api_command_queue(const struct request *r)
{
    return &r->cmd->queue;
}

void api_command_free(struct pending_cmd *p)
{
    if (p) { /* (what the main loop took is NULL) */
        cron_free(p->schedule.cron);
        tz_free(p->schedule.tz);
        free(p->schedule.job);
    }
    free(p);
}

enum MHD_Result api_send_not_now(struct api *a, struct MHD_Connection *c,
                                 enum dispatch_result result)
{
    if (result == DISPATCH_UNAVAILABLE) return api_send_unavailable(a, c);
    struct api_error e;
    api_fail(&e, 503, "shutting_down", NULL, "the server is stopping: retry when it is back");
    return api_send_error(c, &e);
}

enum MHD_Result api_send_unavailable(struct api *a, struct MHD_Connection *c)
{
    struct dispatch_stats st;
    dispatch_stats(a->dispatch, &st);
    struct api_error e;
    api_fail(&e, 503, "store_unavailable", NULL,
             "the database cannot record changes now (%s): nothing was changed; retry later",
             st.store.error[0] ? st.store.error : "a commit failed");
    return api_send_retry_later(c, &e);
}

enum MHD_Result api_no_such_job(struct MHD_Connection *c, int64_t id)
{
    struct api_error e;
    api_fail(&e, 404, "not_found", "id", "no job %lld", (long long)id);
    return api_send_error(c, &e);
}

enum MHD_Result api_command_refused(struct api *a, struct MHD_Connection *c, int64_t id,
                                    enum dispatch_result result, const char *what)
{
    if (result == DISPATCH_NOT_FOUND) return api_no_such_job(c, id);
    if (result == DISPATCH_UNAVAILABLE || result == DISPATCH_SHUTTING_DOWN)
        return api_send_not_now(a, c, result);
    return api_send_internal(c, what);
}

enum MHD_Result api_send_empty(struct MHD_Connection *c, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    enum MHD_Result rc = api_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}
