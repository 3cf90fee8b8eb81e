/* fuzz_body: request body validation. Every input is a POST /v1/jobs body (one job or an
 * array) and a PATCH /v1/queues body, checked by the server's own parsers against a
 * config with task templates, so the template expansion is reached too.
 * Invariants: an error has a 4xx/500 status, an API.md code and renders as JSON; an
 * accepted job has a well-formed argv, a valid queue and an absolute cwd, its pipeline
 * stages add up to its argv, and its API.md job object is valid JSON that gives back the
 * argv and name it was submitted with. */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "api/internal.h"
#include "server/tasks.h"
#include "tests/fuzz/fuzz_common.h"

static struct config cfg;
static struct serve_caps caps; /* no tree_setup or limits_setup ran: process groups, no cgroup
                                * limits, this process's own hard rlimits */

static void init(void)
{
    static const char conf[] =
        "{\"tasks\": {"
        "\"greet\": {\"argv\": [\"/bin/echo\", \"hello {who}\", \"{who}-{n}\"], "
        "\"queue\": \"small\", \"timeout\": 5, \"max_attempts\": 2, \"env\": {\"A\": \"b\"}},"
        "\"plain\": {\"argv\": [\"/bin/true\"], \"cwd\": \"/tmp\", \"priority\": 3, "
        "\"limits\": {\"nofile\": 4096, \"core\": 0}}},"
        "\"max_batch\": 50, \"limit_nofile\": \"1024\", \"limit_as\": \"1G\"}";
    char err[512];
    config_defaults(&cfg);
    serve_caps_read(&caps);
    snprintf(cfg.job_dir, sizeof cfg.job_dir, "/tmp");
    FUZZ_REQUIRE(config_apply_text(&cfg, conf, sizeof conf - 1, "fuzz", err, sizeof err) == 0);
}

static void check_error(const struct api_error *e)
{
    FUZZ_REQUIRE(e->code && e->code[0]);
    FUZZ_REQUIRE(e->status == 400 || e->status == 403 || e->status == 500);
    FUZZ_REQUIRE(e->status != 500 || strcmp(e->code, "internal") == 0);
    json_t *body = api_error_json(e); /* the message may quote the input: still JSON */
    FUZZ_REQUIRE(body);
    json_decref(body);
}

/* The fields the submitter gave come back as given in the job object (those a template or a
 * default may fill in are compared only when given). */
static void check_as_submitted(json_t *in, json_t *o, const struct job_spec *s)
{
    static const char *const same[] = {"command",  "name",    "queue",      "priority",      "cwd",
                                       "pipeline", "timeout", "max_output", "retry_backoff", NULL};
    for (const char *const *f = same; *f; f++) {
        json_t *given = json_object_get(in, *f);
        if (!given || json_is_null(given)) continue;
        if (!strcmp(*f, "cwd") && json_string_value(given)[0] != '/') continue; /* relative */
        if (!json_equal(given, json_object_get(o, *f)) &&
            !(json_is_number(given) &&
              json_number_value(given) == json_number_value(json_object_get(o, *f)))) {
            fprintf(stderr, "field %s differs\n", *f);
            FUZZ_REQUIRE(0);
        }
    }
    json_t *argv = json_object_get(in, "argv");
    if (argv && !s->task) FUZZ_REQUIRE(json_equal(argv, json_object_get(o, "argv")));
    json_t *limits = json_object_get(in, "limits"), *v;
    const char *key;
    json_object_foreach(limits, key, v)
    {
        json_t *got = json_object_get(json_object_get(o, "limits"), key);
        if (!strcmp(key, "cpu")) /* CPUs, kept in thousandths */
            FUZZ_REQUIRE(json_is_number(got) &&
                         fabs(json_number_value(got) - json_number_value(v)) <= 0.0005 + 1e-9);
        else
            FUZZ_REQUIRE(json_is_integer(got) && json_integer_value(got) == json_integer_value(v));
    }
}

/* The job object of API.md for an accepted spec parses back with the same argv and name. */
static void check_job_json(const struct job_spec *s, json_t *in)
{
    struct job j = {.id = 1,
                    .spec = *s,
                    .state = JOB_QUEUED,
                    .exit_code = -1,
                    .signal = -1,
                    .pid = -1,
                    .worker = -1,
                    .attempt = 0,
                    .created_at = 1};
    struct text t = {0};
    api_job_text(&t, &j);
    FUZZ_REQUIRE(!t.failed);
    json_error_t jerr;
    json_t *o = json_loadb(t.data, t.len, 0, &jerr);
    if (!o) fprintf(stderr, "job JSON: %s: %.*s\n", jerr.text, (int)t.len, t.data);
    FUZZ_REQUIRE(o);
    json_t *words = json_array(); /* argv, or a pipeline's stages one after the other */
    json_t *stages = json_object_get(o, "pipeline"), *stage;
    size_t k;
    if (s->pipeline) {
        FUZZ_REQUIRE(json_is_array(stages));
        json_array_foreach(stages, k, stage) json_array_extend(words, stage);
        FUZZ_REQUIRE(json_equal(json_array_get(stages, 0), json_object_get(o, "argv")));
    } else {
        json_array_extend(words, json_object_get(o, "argv"));
    }
    FUZZ_REQUIRE(json_array_size(words) == strblob_count(&s->argv));
    size_t i = 0;
    for (const char *a = strblob_next(&s->argv, NULL); a; a = strblob_next(&s->argv, a), i++)
        FUZZ_REQUIRE(strcmp(json_string_value(json_array_get(words, i)), a) == 0);
    json_decref(words);
    json_t *limits = json_object_get(o, "limits"); /* the set ones, with their values */
    FUZZ_REQUIRE(json_is_object(limits));
    for (int l = 0; l < PROTO_LIMITS; l++) {
        json_t *v = json_object_get(limits, proto_limit_name(l));
        if (l == PROTO_LIMIT_CPU && s->limits.set & (1u << l)) /* 0.5 for 500 thousandths */
            FUZZ_REQUIRE(json_is_number(v) &&
                         llround(json_number_value(v) * 1000) == s->limits.v[l]);
        else
            FUZZ_REQUIRE(s->limits.set & (1u << l)
                             ? json_is_integer(v) && json_integer_value(v) == s->limits.v[l]
                             : !v);
    }
    check_as_submitted(in, o, s);
    json_t *name = json_object_get(o, "name");
    FUZZ_REQUIRE(s->name ? strcmp(json_string_value(name), s->name) == 0 : json_is_null(name));
    json_decref(o);
    text_free(&t);
}

static void check_spec(const struct job_spec *s, json_t *in)
{
    FUZZ_REQUIRE(s->argv.len > 0 && s->argv.data[s->argv.len - 1] == '\0');
    FUZZ_REQUIRE(s->argv.data[0] != '\0'); /* argv[0] names a program */
    FUZZ_REQUIRE(s->queue && job_queue_name_ok(s->queue));
    FUZZ_REQUIRE(s->cwd && s->cwd[0] == '/');
    FUZZ_REQUIRE(s->max_attempts >= 1 && s->max_attempts <= 100);
    FUZZ_REQUIRE(s->timeout >= 0);
    FUZZ_REQUIRE(!s->concurrency_key || s->concurrency_limit >= 1);
    FUZZ_REQUIRE(!s->group == !s->group_size);
    FUZZ_REQUIRE(s->env.len == 0 || s->env.data[s->env.len - 1] == '\0');
    FUZZ_REQUIRE(!(s->limits.set >> PROTO_LIMITS));
    FUZZ_REQUIRE(!s->idempotency_key ||
                 (s->idempotency_fingerprint && strlen(s->idempotency_fingerprint) == 64));
    const struct task_template *t = s->task ? tasks_find(&cfg.tasks, s->task) : NULL;
    for (int i = 0; i < PROTO_LIMITS; i++) { /* in range, never over the ceiling, defaulted */
        uint32_t bit = 1u << i;
        const struct proto_limits *ceiling = t && t->limits.set & bit ? &t->limits
                                             : cfg.limits.set & bit   ? &cfg.limits
                                                                      : NULL;
        FUZZ_REQUIRE(!ceiling || (s->limits.set & bit && s->limits.v[i] <= ceiling->v[i]));
        if (s->limits.set & bit)
            FUZZ_REQUIRE(s->limits.v[i] >= job_limit_min(i) && s->limits.v[i] <= job_limit_max(i));
    }
    char text[256];
    struct proto_limits back; /* as stored in SQLite and read back */
    job_limits_format(&s->limits, text, sizeof text);
    FUZZ_REQUIRE(job_limits_scan(text, &back) == 0 && !memcmp(&back, &s->limits, sizeof back));
    if (s->pipeline) { /* "argc,argc,..." covering the whole argv */
        size_t total = 0, stages = 0;
        for (const char *p = s->pipeline; *p; stages++) {
            char *end;
            long n = strtol(p, &end, 10);
            FUZZ_REQUIRE(end > p && n >= 1);
            total += (size_t)n;
            p = *end == ',' ? end + 1 : end;
            FUZZ_REQUIRE(*end == ',' || *end == '\0');
        }
        FUZZ_REQUIRE(stages >= 2 && stages <= 16 && total == strblob_count(&s->argv));
    }
    check_job_json(s, in);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static int ready;
    if (!ready) init(), ready = 1;
    const char *body = (const char *)data;
    struct api_error e;
    struct job_spec *specs;
    size_t n;
    bool many;
    if (api_parse_submit(body, size, &cfg, &caps, NULL, &specs, &n, &many, &e) == 0) {
        FUZZ_REQUIRE(n >= 1 && (many || n == 1) && n <= (size_t)cfg.max_batch);
        json_t *root = json_loadb(body, size, JSON_DECODE_ANY, NULL); /* what was submitted */
        FUZZ_REQUIRE(root);
        for (size_t i = 0; i < n; i++)
            check_spec(&specs[i], many ? json_array_get(root, i) : root);
        json_decref(root);
        api_specs_free(specs, n);
    } else {
        check_error(&e);
    }
    struct queue_patch q;
    if (api_parse_queue_patch(body, size, &q, &e) == 0) {
        FUZZ_REQUIRE(q.concurrency == -1 || (q.concurrency >= 1 && q.concurrency <= 1000000));
        FUZZ_REQUIRE(q.paused >= -1 && q.paused <= 1);
    } else {
        check_error(&e);
    }
    return 0;
}
