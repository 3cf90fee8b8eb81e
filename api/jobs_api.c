/* jobs_api: the handlers of /v1/jobs (the pool's own, /v1/workers, /v1/tasks and /healthz,
 * are in api/pool_api.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/internal.h"
#include "server/clock.h"

static const char *const no_params[] = {NULL};

int api_fail_read(struct api_error *e, const char *what)
{
    if (store_read_unreachable())
        return api_fail(e, 503, "store_unavailable", NULL,
                        "%s failed: the database cannot be reached (retry later)", what);
    return api_fail(e, 500, "internal", NULL, "%s failed (see the server log)", what);
}

enum MHD_Result api_send_internal(struct MHD_Connection *c, const char *what)
{
    struct api_error e;
    api_fail_read(&e, what);
    return api_send_error(c, &e);
}

/* A running job's pid is in the dispatcher's memory and its output sizes in its capture
 * files: the row gets both when the job ends. */
void api_job_live(struct api *a, struct job *j)
{
    if (j->state != JOB_RUNNING) return;
    const char *here = store_node_name(a->store);
    if (j->node && here[0] && strcmp(j->node, here) != 0 && store_output_shared(a->store)) {
        /* another node runs it: its output so far is what that node shipped (chunks) */
        int64_t end;
        bool complete;
        if (store_output_end(a->store, j->id, j->attempt, "stdout", &end, &complete) == 0)
            j->stdout_bytes = end;
        if (store_output_end(a->store, j->id, j->attempt, "stderr", &end, &complete) == 0)
            j->stderr_bytes = end;
        return;
    }
    int64_t pid = dispatch_running_pid(a->dispatch, j->id);
    if (pid > 0) j->pid = pid;
    char path[PATH_MAX + 32];
    struct stat st;
    dispatch_output_path(a->dispatch, j->id, "stdout", path, sizeof path);
    if (stat(path, &st) == 0) j->stdout_bytes = st.st_size;
    dispatch_output_path(a->dispatch, j->id, "stderr", path, sizeof path);
    if (stat(path, &st) == 0) j->stderr_bytes = st.st_size;
}

/* Sends job id as store_get_job read it (rc: its result; 404 / 500) with status; frees it. */
static enum MHD_Result send_read_job(struct api *a, struct MHD_Connection *c, int64_t id, int rc,
                                     struct job *j, unsigned status, const char *location)
{
    if (rc == 1) return api_no_such_job(c, id);
    if (rc < 0) return api_send_internal(c, "reading the job");
    api_job_live(a, j);
    struct text t = {0};
    api_job_text(&t, j);
    job_free(j);
    return api_send_text_json(c, status, &t, location);
}

/* Reads a job and sends it with status (or 404 / 500). */
static enum MHD_Result send_job(struct api *a, struct MHD_Connection *c, int64_t id,
                                unsigned status, const char *location)
{
    struct job j;
    int rc = store_get_job(a->store, id, &j, false);
    return send_read_job(a, c, id, rc, &j, status, location);
}

bool api_job_ended(struct api *a, int64_t id)
{
    struct job j;
    int rc = store_get_job(a->store, id, &j, false);
    if (rc != 0) return true;
    bool ended = job_state_terminal(j.state);
    job_free(&j);
    return ended;
}

static enum MHD_Result submit_refused(struct api *a, struct MHD_Connection *c,
                                      enum dispatch_result rc)
{
    struct api_error e;
    if (rc == DISPATCH_SHUTTING_DOWN)
        api_fail(&e, 503, "shutting_down", NULL, "the server is draining and takes no new jobs");
    else if (rc == DISPATCH_UNAVAILABLE)
        return api_send_unavailable(a, c);
    else if (rc == DISPATCH_QUEUE_FULL) {
        api_fail(&e, 429, "queue_full", NULL,
                 "the queue holds its maximum of %lld jobs (--max-queued)",
                 (long long)a->cfg->max_queued);
        return api_send_retry_later(c, &e);
    } else
        return api_send_internal(c, "storing the job");
    return api_send_error(c, &e);
}

/* Appends the job as it was committed (queued, or canceled because a dependency had failed
 * already): built from the spec, no read back. */
static void submitted_text(struct text *t, const struct job_spec *spec, int64_t id,
                           int64_t created_at, enum job_state state)
{
    bool queued = state == JOB_QUEUED;
    struct job j = {.id = id,
                    .spec = *spec,
                    .state = state,
                    .exit_code = -1,
                    .signal = -1,
                    .pid = -1,
                    .worker = -1,
                    .created_at = created_at,
                    .finished_at = queued ? 0 : created_at,
                    .user_us = -1, /* (never ran: no usage) */
                    .system_us = -1,
                    .maxrss_kb = -1,
                    .error = queued ? NULL : "a dependency ended without succeeding"};
    api_job_text(t, &j);
}

/* A submit between its validation and its commit: the connection is suspended meanwhile. */
struct pending_submit {
    struct dispatch_submit sub;
    struct MHD_Connection *conn;
    struct job_spec *specs;
    int64_t *ids;
    enum job_state *states;
    bool *existing;
    size_t n;
    bool many;
    bool answered; /* the main loop set sub.result */
};

static void submit_wait(void *ctx)
{
    struct pending_submit *p = ctx;
    MHD_suspend_connection(p->conn);
}

static void submit_done(void *ctx)
{
    struct pending_submit *p = ctx;
    p->answered = true;
    MHD_resume_connection(p->conn); /* the handler runs again and answers */
}

void api_pending_submit_free(struct pending_submit *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++)
        job_spec_free(&p->specs[i]);
    free(p->specs);
    free(p->ids);
    free(p->states);
    free(p->existing);
    free(p);
}

/* Answers a submit once its batch committed: 201 with the job(s) as stored. */
static enum MHD_Result answer_submit(struct api *a, struct MHD_Connection *c,
                                     struct pending_submit *p)
{
    if (p->sub.result == DISPATCH_INVALID || p->sub.result == DISPATCH_IDEMPOTENCY_MISMATCH) {
        struct api_error e;
        if (p->sub.result == DISPATCH_INVALID)
            api_fail(&e, 400, "invalid_argument", p->sub.error_field, "%s", p->sub.error);
        else
            api_fail(&e, 409, "idempotency_mismatch", p->sub.error_field, "%s", p->sub.error);
        return api_send_error(c, &e);
    }
    if (p->sub.result != DISPATCH_OK) return submit_refused(a, c, p->sub.result);
    if (!p->many && p->existing[0]) /* the same idempotency key: the first job, 200 */
        return send_job(a, c, p->ids[0], 200, NULL);
    if (!p->many && p->states[0] != JOB_QUEUED) { /* scheduled, or canceled at once: as stored */
        char location[64];
        snprintf(location, sizeof location, "/v1/jobs/%lld", (long long)p->ids[0]);
        return send_job(a, c, p->ids[0], 201, location);
    }
    struct text t = {0};
    if (!p->many) {
        char location[64];
        snprintf(location, sizeof location, "/v1/jobs/%lld", (long long)p->ids[0]);
        submitted_text(&t, &p->specs[0], p->ids[0], p->sub.created_at, p->states[0]);
        return api_send_text_json(c, 201, &t, location);
    }
    bool created = false;
    text_add(&t, "{\"jobs\":[", 9);
    for (size_t i = 0; i < p->n; i++) {
        if (i) text_add(&t, ",", 1);
        created |= !p->existing[i];
        struct job j; /* an earlier job, scheduled, or canceled at once: as stored */
        if ((p->existing[i] || p->states[i] != JOB_QUEUED) &&
            store_get_job(a->store, p->ids[i], &j, false) == 0) {
            api_job_text(&t, &j);
            job_free(&j);
            continue;
        }
        submitted_text(&t, &p->specs[i], p->ids[i], p->sub.created_at, p->states[i]);
    }
    text_add(&t, "]}", 2);
    return api_send_text_json(c, created ? 201 : 200, &t, NULL);
}

/* Hands parsed specs (owned from here on) to the main loop; the connection is suspended
 * until their batch committed, then answer_submit answers. */
static enum MHD_Result start_submit(struct api *a, struct request *r, struct MHD_Connection *c,
                                    struct job_spec *specs, size_t n, bool many)
{
    struct pending_submit *p = calloc(1, sizeof *p);
    if (p) {
        p->specs = specs;
        p->n = n;
        p->ids = calloc(n, sizeof *p->ids);
        p->states = calloc(n, sizeof *p->states);
        p->existing = calloc(n, sizeof *p->existing);
    }
    if (!p || !p->ids || !p->states || !p->existing) {
        if (!p) api_specs_free(specs, n);
        api_pending_submit_free(p);
        return api_send_internal(c, "allocating");
    }
    p->many = many;
    p->conn = c;
    p->sub = (struct dispatch_submit){.specs = p->specs,
                                      .n = n,
                                      .ids = p->ids,
                                      .states = p->states,
                                      .existing = p->existing,
                                      .done = submit_done,
                                      .ctx = p};
    r->submit = p; /* freed when the request completes */
    enum dispatch_result d = dispatch_submit(a->dispatch, &p->sub, submit_wait);
    if (d != DISPATCH_OK) return submit_refused(a, c, d);
    return MHD_YES; /* suspended until the batch with these jobs has committed */
}

enum MHD_Result api_jobs_submit(struct api *a, struct request *r, struct MHD_Connection *c)
{
    if (r->submit && r->submit->answered) return answer_submit(a, c, r->submit);
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    struct job_spec *specs;
    size_t n;
    bool many;
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    if (api_parse_submit(r->body, r->body_len, a->cfg, a->caps, key, &specs, &n, &many, &e) < 0)
        return api_send_error(c, &e);
    return start_submit(a, r, c, specs, n, many);
}

enum MHD_Result api_jobs_get(struct api *a, struct MHD_Connection *c, int64_t id)
{
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    return send_job(a, c, id, 200, NULL);
}

enum MHD_Result api_jobs_wait(struct api *a, struct request *r, struct MHD_Connection *c,
                              int64_t id)
{
    static const char *const allowed[] = {"timeout", NULL};
    struct api_error e;
    if (r->wait.resumed) return send_job(a, c, id, 200, NULL); /* woken: answer as it is */
    double timeout;
    if (api_query_check(c, allowed, &e) < 0 ||
        api_query_seconds(c, "timeout", 0, 300, 30, &timeout, &e) < 0)
        return api_send_error(c, &e);
    /* no lock across the read: see api/waiters.c for why no end is missed */
    struct waiters *ws = &a->waiters;
    uint64_t gen = waiters_generation(ws);
    struct job j;
    int rc = store_get_job(a->store, id, &j, false);
    if (rc != 0 || job_state_terminal(j.state) || timeout == 0)
        return send_read_job(a, c, id, rc, &j, 200, NULL);
    job_free(&j);
    if (!r->long_poll && !(r->long_poll = api_long_poll_begin(a, &e)))
        return api_send_retry_later(c, &e);
    r->wait.conn = c;
    r->wait.job_id = id;
    r->wait.deadline = clock_mono_ms() + (int64_t)(timeout * 1000);
    bool changed;
    if (!waiters_add(ws, &r->wait, gen, &changed)) /* the server stops: as it is */
        return send_job(a, c, id, 200, NULL);
    if (changed && api_job_ended(a, id))
        waiters_resume_now(ws, &r->wait); /* it ended meanwhile: answered on the next call */
    else
        dispatch_wake(a->dispatch); /* the main loop must learn the new deadline */
    return MHD_YES;
}

/* Parses "ids=1,2,3" (1 to 100 positive ids) into r->wait_ids. 0 or -1 with e. */
static int parse_wait_ids(struct MHD_Connection *c, struct request *r, struct api_error *e)
{
    r->wait_ids = calloc(100, sizeof *r->wait_ids);
    if (!r->wait_ids) return api_fail(e, 500, "internal", NULL, "out of memory");
    return api_parse_id_list(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ids"),
                             r->wait_ids, 100, &r->n_wait_ids, e);
}

/* Frees what read_waited read. */
static void free_jobs(struct job *jobs, size_t got)
{
    for (size_t i = 0; i < got; i++)
        job_free(&jobs[i]);
    free(jobs);
}

/* Reads the jobs r waits for into *jobs (*got of them, *ended of those ended). 0; 1 if one
 * does not exist (*missing says which); -1 on error. */
static int read_waited(struct api *a, struct request *r, struct job **jobs, size_t *got,
                       size_t *ended, int64_t *missing)
{
    *got = *ended = 0;
    if (!(*jobs = calloc(r->n_wait_ids, sizeof **jobs))) return -1;
    for (; *got < r->n_wait_ids; (*got)++) {
        int rc = store_get_job(a->store, r->wait_ids[*got], &(*jobs)[*got], false);
        if (rc == 1) *missing = r->wait_ids[*got];
        if (rc != 0) return rc;
        if (job_state_terminal((*jobs)[*got].state)) (*ended)++;
    }
    return 0;
}

enum MHD_Result api_jobs_wait_many(struct api *a, struct request *r, struct MHD_Connection *c)
{
    static const char *const allowed[] = {"ids", "mode", "timeout", NULL};
    struct api_error e;
    double timeout = 0;
    if (!r->wait_ids) { /* first time: validate, and fix the deadline */
        if (api_query_check(c, allowed, &e) < 0 ||
            api_query_seconds(c, "timeout", 0, 300, 30, &timeout, &e) < 0 ||
            parse_wait_ids(c, r, &e) < 0)
            return api_send_error(c, &e);
        const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode");
        if (mode && strcmp(mode, "all") != 0 && strcmp(mode, "any") != 0) {
            api_fail(&e, 400, "invalid_argument", "mode", "mode must be all or any, got '%.20s'",
                     mode);
            return api_send_error(c, &e);
        }
        r->wait.deadline = clock_mono_ms() + (int64_t)(timeout * 1000);
    }
    const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mode");
    bool any = mode && strcmp(mode, "any") == 0;
    /* no lock across the reads: see api/waiters.c for why no end is missed */
    struct waiters *ws = &a->waiters;
    uint64_t gen = waiters_generation(ws);
    struct job *jobs;
    size_t ended, got;
    int64_t missing = 0;
    bool failed = read_waited(a, r, &jobs, &got, &ended, &missing) != 0;
    bool met = any ? ended > 0 : ended == r->n_wait_ids;
    bool done = failed || met || clock_mono_ms() >= r->wait.deadline;
    if (!done && !r->long_poll && !(r->long_poll = api_long_poll_begin(a, &e))) {
        free_jobs(jobs, got);
        return api_send_retry_later(c, &e);
    }
    bool changed;
    if (!done) {
        r->wait.conn = c;
        r->wait.job_id = 0;
        r->wait.ids = r->wait_ids;
        r->wait.n_ids = r->n_wait_ids;
        done = !waiters_add(ws, &r->wait, gen, &changed); /* the server stops: as it is */
    }
    if (!done) {
        free_jobs(jobs, got);
        if (changed) { /* one may have ended meanwhile: then answered on the next call */
            bool again = read_waited(a, r, &jobs, &got, &ended, &missing) != 0;
            free_jobs(jobs, got);
            if (again || (any ? ended > 0 : ended == r->n_wait_ids))
                waiters_resume_now(ws, &r->wait);
            else
                dispatch_wake(a->dispatch);
        } else {
            dispatch_wake(a->dispatch); /* the main loop must learn the new deadline */
        }
        return MHD_YES;
    }
    enum MHD_Result result;
    if (failed && missing) {
        api_fail(&e, 404, "not_found", "ids", "no job %lld", (long long)missing);
        result = api_send_error(c, &e);
    } else if (failed) {
        result = api_send_internal(c, "reading the jobs");
    } else {
        struct text t = {0};
        text_addf(&t, "{\"done\":%s,\"jobs\":[", met ? "true" : "false");
        for (size_t i = 0; i < got; i++) {
            if (i) text_add(&t, ",", 1);
            api_job_live(a, &jobs[i]);
            api_job_text(&t, &jobs[i]);
        }
        text_add(&t, "]}", 2);
        result = api_send_text_json(c, 200, &t, NULL);
    }
    free_jobs(jobs, got);
    return result;
}

static int parse_signal(json_t *v, int *sig, struct api_error *e)
{
    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) < NSIG) {
        *sig = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *name = json_string_value(v);
        if (strncmp(name, "SIG", 3) == 0) name += 3;
        for (int s = 1; s < NSIG; s++) {
            const char *abbrev = sigabbrev_np(s);
            if (abbrev && strcmp(abbrev, name) == 0) {
                *sig = s;
                return 0;
            }
        }
    }
    return api_fail(e, 400, "invalid_argument", "signal",
                    "signal must be a signal name such as \"SIGTERM\" or a number from 1 to %d",
                    NSIG - 1);
}

/* Answers a terminate the main loop carried out (and committed). */
static enum MHD_Result terminated(struct api *a, struct MHD_Connection *c, int64_t id,
                                  enum dispatch_result result)
{
    struct api_error e;
    switch (result) {
    case DISPATCH_CANCELED:
        return send_job(a, c, id, 200, NULL);
    case DISPATCH_SIGNALED:
        return send_job(a, c, id, 202, NULL);
    case DISPATCH_NOT_FOUND:
        return api_no_such_job(c, id);
    case DISPATCH_CONFLICT: {
        struct job j;
        const char *state = "finished";
        if (store_get_job(a->store, id, &j, false) == 0) {
            state = job_state_name(j.state);
            job_free(&j);
        }
        api_fail(&e, 409, "conflict", NULL, "job %lld already finished (%s)", (long long)id, state);
        return api_send_error(c, &e);
    }
    case DISPATCH_UNAVAILABLE:
    case DISPATCH_SHUTTING_DOWN:
        return api_send_not_now(a, c, result);
    default:
        return api_send_internal(c, "terminating the job");
    }
}

enum MHD_Result api_jobs_terminate(struct api *a, struct request *r, struct MHD_Connection *c,
                                   int64_t id)
{
    const struct dispatch_cmd *done = api_command_answer(r);
    if (done) return terminated(a, c, id, done->result);
    struct api_error e;
    int sig = SIGTERM;
    double grace = a->cfg->kill_grace;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    if (r->body_len > 0) {
        json_t *root = api_parse_body(r->body, r->body_len, &e);
        if (!root) return api_send_error(c, &e);
        int rc = 0;
        if (!json_is_object(root))
            rc = api_fail(&e, 400, "invalid_argument", NULL, "the body must be a JSON object");
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
        {
            if (rc < 0) break;
            if (strcmp(key, "signal") == 0)
                rc = parse_signal(v, &sig, &e);
            else if (strcmp(key, "grace") == 0) {
                if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 3600)
                    rc = api_fail(&e, 400, "invalid_argument", "grace",
                                  "grace must be a number of seconds from 0 to 3600");
                else
                    grace = json_number_value(v);
            } else
                rc = api_fail(&e, 400, "invalid_argument", key,
                              "unknown field '%.100s' (known: signal, grace)", key);
        }
        json_decref(root);
        if (rc < 0) return api_send_error(c, &e);
    }
    struct dispatch_cmd cmd = {.kind = DISPATCH_CMD_TERMINATE,
                               .job_id = id,
                               .sig = sig,
                               .grace_ms = (int64_t)(grace * 1000)};
    enum dispatch_result handed = api_command(a, r, c, &cmd);
    return handed == DISPATCH_OK ? MHD_YES : terminated(a, c, id, handed);
}

/* The body of PATCH /v1/jobs/{id} into cmd: priority and/or queue, nothing else. */
static int parse_job_patch(const struct request *r, struct dispatch_cmd *cmd, struct api_error *e)
{
    json_t *root = api_parse_body(r->body, r->body_len, e);
    if (!root) return -1;
    int rc = 0;
    if (!json_is_object(root) || json_object_size(root) == 0)
        rc = api_fail(e, 400, "invalid_argument", NULL,
                      "the body is an object with priority, queue or both");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (rc < 0) break;
        if (strcmp(key, "priority") == 0) {
            /* (the range a submit takes: a PATCH must not make a job no submit could) */
            if (!json_is_integer(v) || json_integer_value(v) < -1000000000 ||
                json_integer_value(v) > 1000000000)
                rc = api_fail(e, 400, "invalid_argument", "priority",
                              "priority must be an integer from -1000000000 to 1000000000");
            cmd->set_priority = true;
            cmd->priority = json_integer_value(v);
        } else if (strcmp(key, "queue") == 0) {
            const char *q = json_string_value(v);
            if (!q || !job_queue_name_ok(q))
                rc = api_fail(e, 400, "invalid_argument", "queue",
                              "queue must be a name of 1 to 64 letters, digits, '-', '_' or '.'");
            else
                snprintf(cmd->queue, sizeof cmd->queue, "%s", q);
            cmd->set_queue = true;
        } else {
            rc = api_fail(e, 400, "invalid_argument", key,
                          "unknown field '%.60s' (known: priority, queue)", key);
        }
    }
    json_decref(root);
    return rc;
}

enum MHD_Result api_jobs_patch(struct api *a, struct request *r, struct MHD_Connection *c,
                               int64_t id)
{
    struct api_error e;
    const struct dispatch_cmd *done = api_command_answer(r);
    enum dispatch_result result;
    if (done) {
        result = done->result;
    } else {
        if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
        struct dispatch_cmd cmd = {.kind = DISPATCH_CMD_PATCH_JOB, .job_id = id};
        if (parse_job_patch(r, &cmd, &e) < 0) return api_send_error(c, &e);
        result = api_command(a, r, c, &cmd);
        if (result == DISPATCH_OK) return MHD_YES; /* answered after the commit */
    }
    switch (result) {
    case DISPATCH_OK:
        return send_job(a, c, id, 200, NULL);
    case DISPATCH_CONFLICT:
        api_fail(
            &e, 409, "conflict", NULL,
            "job %lld is not waiting: only a queued or scheduled job that no worker holds yet can "
            "change its priority or queue",
            (long long)id);
        return api_send_error(c, &e);
    default:
        return api_command_refused(a, c, id, result, "changing the job");
    }
}

enum MHD_Result api_jobs_rerun(struct api *a, struct request *r, struct MHD_Connection *c,
                               int64_t id)
{
    if (r->submit && r->submit->answered) return answer_submit(a, c, r->submit);
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    if (r->body_len) { /* nothing to say but {}: a rerun repeats the job as it was */
        json_t *b = api_parse_body(r->body, r->body_len, &e);
        if (!b) return api_send_error(c, &e);
        bool empty = json_is_object(b) && json_object_size(b) == 0;
        json_decref(b);
        if (!empty) {
            api_fail(&e, 400, "invalid_argument", NULL,
                     "a rerun takes no fields (send none, or {}): it repeats the job as it was; "
                     "submit a new job to change it");
            return api_send_error(c, &e);
        }
    }
    struct job j;
    int rc = store_get_job(a->store, id, &j, true);
    if (rc == 1) return api_no_such_job(c, id);
    if (rc < 0) return api_send_internal(c, "reading the job");
    if (j.spec.group) {
        api_fail(&e, 409, "conflict", NULL,
                 "job %lld is a member of group '%.100s': alone, its rerun would wait for the "
                 "others forever; submit the group again",
                 (long long)id, j.spec.group);
        job_free(&j);
        return api_send_error(c, &e);
    }
    struct job_spec *spec = calloc(1, sizeof *spec);
    if (!spec) {
        job_free(&j);
        return api_send_internal(c, "allocating");
    }
    *spec = j.spec; /* the spec moves to the new job; the rest of j is freed */
    memset(&j.spec, 0, sizeof j.spec);
    job_free(&j);
    /* a new job: not the first one's idempotency key (that names the first job) */
    free(spec->idempotency_key);
    free(spec->idempotency_fingerprint);
    spec->idempotency_key = spec->idempotency_fingerprint = NULL;
    spec->run_at = 0;     /* it runs now (a rerun is asked for now) */
    free(spec->schedule); /* a rerun is nobody's scheduled run */
    spec->schedule = NULL;
    spec->rerun_of = id;
    return start_submit(a, r, c, spec, 1, false);
}
