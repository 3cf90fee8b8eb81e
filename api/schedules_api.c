/* schedules_api: /v1/schedules, jobs made at the times a cron expression names in a time
 * zone. The body is validated here (the expression, the zone, and the job as a submit would
 * be); the main loop keeps the schedule and makes its runs (server/dispatch_schedules.c);
 * reads come straight from the store. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "server/clock.h"
#include "server/cron.h"
#include "server/tz.h"

/* Next run times a schedule shows (next_runs). */
#define NEXT_RUNS 5

/* Submit fields a schedule's job cannot have: each run is a new job, now. */
static const char *const not_in_schedules[] = {
    "after", "stdin_from", "idempotency_key", "group", "group_size", "run_at", "delay", NULL};

int api_schedule_job_parser(void *ctx, const char *json, struct job_spec *out, char *err,
                            size_t errlen)
{
    struct api *a = ctx;
    struct api_error e;
    json_t *obj = api_parse_body(json, strlen(json), &e);
    int rc = obj ? api_parse_job(obj, a->cfg, a->caps, "job.", out, &e) : -1;
    json_decref(obj);
    if (rc < 0) snprintf(err, errlen, "%s", e.message);
    return rc;
}

/* A schedule's name: a queue's alphabet and length, but not "." or "..", dot segments that
 * clients (curl, libcurl, browsers) drop from the path of /v1/schedules/{name}. */
static bool name_ok(const char *s)
{
    return job_queue_name_ok(s) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Reads one field of a schedule body into def; 0, or -1 with e. */
static int schedule_field(struct api *a, const char *key, json_t *v, struct dispatch_schedule *def,
                          json_t **job, struct api_error *e)
{
    if (strcmp(key, "cron") == 0) {
        def->given |= SCHEDULE_GIVEN_CRON;
        if (!json_is_string(v) || json_string_length(v) >= sizeof def->cron_text)
            return api_fail(e, 400, "invalid_argument", "cron",
                            "cron must be a string such as \"*/5 * * * *\" or \"@daily\"");
        snprintf(def->cron_text, sizeof def->cron_text, "%s", json_string_value(v));
        return 0;
    }
    if (strcmp(key, "timezone") == 0) {
        def->given |= SCHEDULE_GIVEN_TIMEZONE;
        if (!json_is_string(v) || json_string_length(v) >= sizeof def->timezone)
            return api_fail(e, 400, "invalid_argument", "timezone",
                            "timezone must be \"UTC\" or an IANA zone name such as "
                            "\"Europe/Berlin\"");
        snprintf(def->timezone, sizeof def->timezone, "%s", json_string_value(v));
        return 0;
    }
    if (strcmp(key, "job") == 0) {
        def->given |= SCHEDULE_GIVEN_JOB;
        if (!json_is_object(v))
            return api_fail(e, 400, "invalid_argument", "job",
                            "job must be an object: the body of a POST /v1/jobs");
        *job = v;
        return 0;
    }
    if (strcmp(key, "overlap") == 0) {
        def->given |= SCHEDULE_GIVEN_OVERLAP;
        if (!json_is_string(v) || store_overlap_parse(json_string_value(v), &def->overlap) < 0)
            return api_fail(e, 400, "invalid_argument", "overlap",
                            "overlap must be \"allow\", \"skip\" or \"replace\"");
        return 0;
    }
    if (strcmp(key, "paused") == 0 || strcmp(key, "catch_up") == 0) {
        if (!json_is_boolean(v))
            return api_fail(e, 400, "invalid_argument", key, "%s must be true or false", key);
        *(key[0] == 'p' ? &def->paused : &def->catch_up) = json_is_true(v);
        def->given |= key[0] == 'p' ? SCHEDULE_GIVEN_PAUSED : SCHEDULE_GIVEN_CATCH_UP;
        return 0;
    }
    (void)a;
    return api_fail(e, 400, "invalid_argument", key,
                    "unknown field '%.60s' (known: name, cron, timezone, job, overlap, paused, "
                    "catch_up)",
                    key);
}

/* Checks def's expression, zone and job (parsed into def->cron, def->tz, def->job);
 * 0, or -1 with e. */
static int schedule_check(struct api *a, struct dispatch_schedule *def, json_t *job,
                          struct api_error *e)
{
    char err[256];
    if (!def->cron_text[0]) return api_fail(e, 400, "invalid_argument", "cron", "cron is required");
    if (cron_parse(def->cron_text, &def->cron, err, sizeof err) < 0)
        return api_fail(e, 400, "invalid_argument", "cron", "cron: %s", err);
    if (tz_load(def->timezone, &def->tz, err, sizeof err) < 0)
        return api_fail(e, 400, "invalid_argument", "timezone", "timezone: %s", err);
    if (cron_next(def->cron, def->tz, clock_wall_ms() / 1000) < 0)
        return api_fail(e, 400, "invalid_argument", "cron",
                        "cron: '%s' names no time in the next 28 years", def->cron_text);
    if (!job) return api_fail(e, 400, "invalid_argument", "job", "job is required");
    for (const char *const *k = not_in_schedules; *k; k++)
        if (json_object_get(job, *k)) {
            char field[48];
            snprintf(field, sizeof field, "job.%s", *k);
            return api_fail(e, 400, "invalid_argument", field,
                            "%s: a schedule's job cannot have it (each run is a new job, made "
                            "at its time)",
                            field);
        }
    struct job_spec spec;
    if (api_parse_job(job, a->cfg, a->caps, "job.", &spec, e) < 0) return -1;
    job_spec_free(&spec);
    def->job = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS);
    return def->job ? 0 : api_fail(e, 500, "internal", NULL, "out of memory");
}

static void schedule_def_free(struct dispatch_schedule *def)
{
    cron_free(def->cron);
    tz_free(def->tz);
    free(def->job);
    memset(def, 0, sizeof *def);
}

/* The schedule as JSON text, with its next run times worked out in its zone: *zone is the
 * zone loaded last (NULL: none), kept while the next schedule names the same one, so a list
 * reads each zone file once rather than once a schedule. */
static void schedule_text(struct text *t, const struct store_schedule *sc, struct tz **zone)
{
    text_add(t, "{\"name\":", 8);
    text_json_string(t, sc->name);
    text_add(t, ",\"cron\":", 8);
    text_json_string(t, sc->cron);
    text_add(t, ",\"timezone\":", 12);
    text_json_string(t, sc->timezone);
    text_addf(t, ",\"job\":%s,\"overlap\":\"%s\",\"paused\":%s,\"catch_up\":%s", sc->job,
              store_overlap_name(sc->overlap), sc->paused ? "true" : "false",
              sc->catch_up ? "true" : "false");
    api_text_time(t, "created_at", sc->created_at);
    api_text_time(t, "updated_at", sc->updated_at);
    api_text_time(t, "next_run_at", sc->next_run_at);
    text_add(t, ",\"next_runs\":[", 14);
    struct cron *c = NULL;
    char err[64], at[32];
    if (sc->next_run_at > 0 && (!*zone || strcmp(tz_name(*zone), sc->timezone) != 0)) {
        tz_free(*zone);
        *zone = NULL;
        tz_load(sc->timezone, zone, err, sizeof err);
    }
    if (sc->next_run_at > 0 && *zone && cron_parse(sc->cron, &c, err, sizeof err) == 0) {
        int64_t next = sc->next_run_at / 1000;
        for (int i = 0; i < NEXT_RUNS && next > 0; i++) {
            clock_format(next * 1000, at);
            text_addf(t, "%s\"%s\"", i ? "," : "", at);
            next = cron_next(c, *zone, next);
        }
    }
    cron_free(c);
    text_add(t, "]", 1);
    api_text_time(t, "last_run_at", sc->last_run_at);
    if (sc->last_job_id > 0)
        text_addf(t, ",\"last_job_id\":%lld", (long long)sc->last_job_id);
    else
        text_add(t, ",\"last_job_id\":null", 19);
    text_addf(t, ",\"runs\":%lld,\"skipped\":%lld}", (long long)sc->runs, (long long)sc->skipped);
}

struct listing {
    struct text t;
    int n;
    struct tz *zone; /* the zone schedule_text loaded last (freed by the listing's reader) */
};

static void list_one(void *ctx, const struct store_schedule *sc)
{
    struct listing *l = ctx;
    if (l->n++) text_add(&l->t, ",", 1);
    schedule_text(&l->t, sc, &l->zone);
}

enum MHD_Result api_schedules_list(struct api *a, struct MHD_Connection *c)
{
    static const char *const no_params[] = {NULL};
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    struct listing l = {0};
    text_add(&l.t, "{\"schedules\":[", 14);
    int n = store_each_schedule(a->store, NULL, list_one, &l);
    tz_free(l.zone);
    if (n < 0) {
        free(l.t.data);
        return api_send_unavailable(a, c);
    }
    text_add(&l.t, "]}", 2);
    return api_send_text_json(c, 200, &l.t, NULL);
}

/* Answers with schedule name as stored (status), or 404. */
static enum MHD_Result send_schedule(struct api *a, struct MHD_Connection *c, const char *name,
                                     unsigned status, bool location)
{
    struct listing l = {0};
    int n = store_each_schedule(a->store, name, list_one, &l);
    tz_free(l.zone);
    if (n < 0) {
        free(l.t.data);
        return api_send_unavailable(a, c);
    }
    if (n == 0) {
        struct api_error e;
        api_fail(&e, 404, "not_found", "name", "no schedule named '%.80s'", name);
        return api_send_error(c, &e);
    }
    char where[128];
    snprintf(where, sizeof where, "/v1/schedules/%s", name);
    return api_send_text_json(c, status, &l.t, location ? where : NULL);
}

/* The reply to a change the main loop carried out (result), or its refusal. */
static enum MHD_Result answer_change(struct api *a, struct MHD_Connection *c, const char *name,
                                     enum dispatch_result result, bool created)
{
    struct api_error e;
    if (result == DISPATCH_UNAVAILABLE || result == DISPATCH_SHUTTING_DOWN)
        return api_send_not_now(a, c, result);
    if (result == DISPATCH_CONFLICT) {
        api_fail(&e, 409, "conflict", "name",
                 "schedule '%.80s' exists already: change it with PATCH /v1/schedules/%.80s", name,
                 name);
        return api_send_error(c, &e);
    }
    if (result == DISPATCH_NOT_FOUND) {
        api_fail(&e, 404, "not_found", "name", "no schedule named '%.80s'", name);
        return api_send_error(c, &e);
    }
    if (result == DISPATCH_QUEUE_FULL) {
        api_fail(&e, 400, "invalid_argument", "name", "this server keeps at most %d schedules",
                 DISPATCH_MAX_SCHEDULES);
        return api_send_error(c, &e);
    }
    if (result != DISPATCH_OK) {
        api_fail(&e, 500, "internal", NULL, "saving the schedule failed (see the server log)");
        return api_send_error(c, &e);
    }
    return send_schedule(a, c, name, created ? 201 : 200, created);
}

/* Hands def (owned by the request from here on) to the main loop. */
static enum MHD_Result send_change(struct api *a, struct request *r, struct MHD_Connection *c,
                                   enum dispatch_cmd_kind kind, struct dispatch_schedule *def,
                                   bool create)
{
    struct dispatch_cmd cmd = {.kind = kind, .schedule = def, .schedule_create = create};
    enum dispatch_result result = api_command(a, r, c, &cmd);
    if (result == DISPATCH_OK) return MHD_YES; /* answered after the commit */
    if (!api_command_answer(r) && result == DISPATCH_ERROR) schedule_def_free(def);
    return answer_change(a, c, def->name, result, create);
}

struct current {
    struct dispatch_schedule def;
    json_t *job;
    bool found;
};

static void read_current(void *ctx, const struct store_schedule *sc)
{
    struct current *cur = ctx;
    cur->found = true;
    snprintf(cur->def.cron_text, sizeof cur->def.cron_text, "%s", sc->cron);
    snprintf(cur->def.timezone, sizeof cur->def.timezone, "%s", sc->timezone);
    cur->def.overlap = sc->overlap;
    cur->def.paused = sc->paused;
    cur->def.catch_up = sc->catch_up;
    cur->job = json_loads(sc->job, 0, NULL);
}

/* POST /v1/schedules (name from the body) and PATCH /v1/schedules/{name} (checked over what
 * is stored; the main loop changes only the fields it gives). */
static enum MHD_Result put_schedule(struct api *a, struct request *r, struct MHD_Connection *c,
                                    const char *patch_name)
{
    struct api_error e;
    const struct dispatch_cmd *done = api_command_answer(r);
    if (done) return answer_change(a, c, done->schedule->name, done->result, !patch_name);
    struct current cur = {.def = {.timezone = "UTC", .catch_up = true}};
    struct dispatch_schedule *def = &cur.def;
    if (patch_name) {
        if (store_each_schedule(a->store, patch_name, read_current, &cur) < 0)
            return api_send_unavailable(a, c);
        if (!cur.found) {
            api_fail(&e, 404, "not_found", "name", "no schedule named '%.80s'", patch_name);
            return api_send_error(c, &e);
        }
        snprintf(def->name, sizeof def->name, "%s", patch_name);
    }
    json_t *root = api_parse_body(r->body, r->body_len, &e), *job = cur.job;
    int rc = root ? 0 : -1;
    if (rc == 0 && !json_is_object(root))
        rc = api_fail(&e, 400, "invalid_argument", NULL, "the body must be a JSON object");
    const char *key;
    json_t *v;
    if (rc == 0) json_object_foreach(root, key, v)
        {
            if (strcmp(key, "name") == 0 && patch_name) {
                rc = api_fail(&e, 400, "invalid_argument", "name",
                              "a schedule's name cannot be changed: DELETE it and POST it anew");
            } else if (strcmp(key, "name") == 0) {
                if (!json_is_string(v) || !name_ok(json_string_value(v)))
                    rc = api_fail(
                        &e, 400, "invalid_argument", "name",
                        "name must be 1 to 64 letters, digits, '-', '_' or '.' (not . or ..)");
                else
                    snprintf(def->name, sizeof def->name, "%s", json_string_value(v));
            } else {
                rc = schedule_field(a, key, v, def, &job, &e);
            }
            if (rc < 0) break;
        }
    if (rc == 0 && !def->name[0])
        rc = api_fail(&e, 400, "invalid_argument", "name", "name is required");
    if (rc == 0) rc = schedule_check(a, def, job, &e);
    json_decref(root);
    json_decref(cur.job);
    if (rc < 0) {
        schedule_def_free(def);
        return api_send_error(c, &e);
    }
    return send_change(a, r, c, DISPATCH_CMD_SCHEDULE_PUT, def, !patch_name);
}

enum MHD_Result api_schedules_create(struct api *a, struct request *r, struct MHD_Connection *c)
{
    static const char *const no_params[] = {NULL};
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    return put_schedule(a, r, c, NULL); /* (the main loop holds the count to 1000) */
}

enum MHD_Result api_schedule_one(struct api *a, struct request *r, struct MHD_Connection *c,
                                 const char *method, const char *name)
{
    static const char *const no_params[] = {NULL};
    struct api_error e;
    if (api_query_check(c, no_params, &e) < 0) return api_send_error(c, &e);
    if (!name_ok(name)) {
        api_fail(&e, 400, "invalid_argument", "name",
                 "a schedule name is 1 to 64 letters, digits, '-', '_' or '.'");
        return api_send_error(c, &e);
    }
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return send_schedule(a, c, name, 200, false);
    if (strcmp(method, "PATCH") == 0) return put_schedule(a, r, c, name);
    if (strcmp(method, "DELETE") != 0) return api_send_not_allowed(c, "GET, HEAD, PATCH, DELETE");
    const struct dispatch_cmd *done = api_command_answer(r);
    if (!done) {
        struct dispatch_schedule def = {0};
        snprintf(def.name, sizeof def.name, "%s", name);
        struct dispatch_cmd cmd = {.kind = DISPATCH_CMD_SCHEDULE_DELETE, .schedule = &def};
        enum dispatch_result result = api_command(a, r, c, &cmd);
        if (result == DISPATCH_OK) return MHD_YES;
        return answer_change(a, c, name, result, false);
    }
    if (done->result != DISPATCH_OK) return answer_change(a, c, name, done->result, false);
    return api_send_empty(c, 204);
}
