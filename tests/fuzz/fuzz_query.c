/* fuzz_query: query strings and path ids. The input is a request target "PATH?QUERY"; it
 * is taken apart the way MHD hands it to us (path and each key and value percent-decoded by
 * api_unescape) and goes through the server's parsers: the job id or queue name in the path,
 * the known/repeated key check and every parameter's value parser.
 * Invariants: decoding never grows a string or puts a NUL in it; an accepted id prints back
 * as the same digits; accepted values are in their ranges; every error is a 400 that renders
 * as JSON. */
#include <inttypes.h>
#include <string.h>

#include "api/internal.h"
#include "server/clock.h"
#include "server/job.h"
#include "tests/fuzz/fuzz_common.h"

static const char *const all_keys[] = {
    "state",         "queue",    "name",          "limit",          "before",         "timeout",
    "ids",           "mode",     "offset",        "follow",         "stream",         "job",
    "last_event_id", "rerun_of", "created_after", "created_before", "finished_after", NULL};

static void check_error(const struct api_error *e)
{
    FUZZ_REQUIRE(e->status == 400 && strcmp(e->code, "invalid_argument") == 0);
    json_t *body = api_error_json(e);
    FUZZ_REQUIRE(body);
    json_decref(body);
}

static void decode(char *s, size_t before)
{
    bool escaped = strchr(s, '%') != NULL;
    char *copy = escaped ? NULL : strdup(s);
    size_t n = api_unescape(s);
    FUZZ_REQUIRE(n == strlen(s) && n <= before);
    if (copy) FUZZ_REQUIRE(strcmp(copy, s) == 0); /* nothing to decode: unchanged */
    free(copy);
}

static void check_id(const char *text, size_t len)
{
    struct api_error e;
    int64_t id;
    if (api_parse_id(text, len, &id, &e) < 0) return check_error(&e);
    char back[32];
    int n = snprintf(back, sizeof back, "%" PRId64, id);
    FUZZ_REQUIRE(id > 0 && (size_t)n == len && memcmp(back, text, len) == 0);
}

static void check_path(char *path)
{
    decode(path, strlen(path));
    if (strncmp(path, "/v1/jobs/", 9) == 0 && strcmp(path, "/v1/jobs/wait") != 0) {
        const char *rest = path + 9, *slash = strchr(rest, '/');
        check_id(rest, slash ? (size_t)(slash - rest) : strlen(rest));
    } else if (strncmp(path, "/v1/queues/", 11) == 0) {
        const char *name = path + 11;
        if (job_queue_name_ok(name))
            FUZZ_REQUIRE(strlen(name) >= 1 && strlen(name) <= 64 && !strchr(name, '/'));
    }
}

static void check_value(const char *key, const char *v)
{
    struct api_error e;
    int64_t i;
    double d;
    int rc = 0;
    if (strcmp(key, "limit") == 0) {
        if ((rc = api_parse_int(key, v, 1, 1000, &i, &e)) == 0) FUZZ_REQUIRE(i >= 1 && i <= 1000);
    } else if (strcmp(key, "follow") == 0) {
        if ((rc = api_parse_int(key, v, 0, 1, &i, &e)) == 0) FUZZ_REQUIRE(i == 0 || i == 1);
    } else if (strcmp(key, "before") == 0 || strcmp(key, "job") == 0 ||
               strcmp(key, "rerun_of") == 0) {
        if ((rc = api_parse_int(key, v, 1, INT64_MAX, &i, &e)) == 0) FUZZ_REQUIRE(i >= 1);
    } else if (strcmp(key, "offset") == 0 || strcmp(key, "last_event_id") == 0) {
        if ((rc = api_parse_int(key, v, 0, INT64_MAX, &i, &e)) == 0) FUZZ_REQUIRE(i >= 0);
    } else if (strcmp(key, "timeout") == 0) {
        if ((rc = api_parse_seconds(key, v, 0, 300, &d, &e)) == 0) FUZZ_REQUIRE(d >= 0 && d <= 300);
    } else if (strcmp(key, "ids") == 0) {
        int64_t ids[100];
        size_t n;
        if ((rc = api_parse_id_list(v, ids, 100, &n, &e)) == 0) {
            FUZZ_REQUIRE(n >= 1 && n <= 100);
            for (size_t k = 0; k < n; k++)
                FUZZ_REQUIRE(ids[k] > 0);
        }
    } else if (strcmp(key, "state") == 0) {
        enum job_state states[JOB_STATE_COUNT];
        int n;
        if ((rc = api_parse_states(v, states, &n, &e)) == 0) {
            FUZZ_REQUIRE(n >= 1 && n <= JOB_STATE_COUNT);
            for (int k = 0; k < n; k++) {
                FUZZ_REQUIRE(states[k] < JOB_STATE_COUNT && strstr(v, job_state_name(states[k])));
                for (int m = 0; m < k; m++)
                    FUZZ_REQUIRE(states[m] != states[k]);
            }
        }
    } else if (strcmp(key, "name") == 0) {
        bool prefix;
        if ((rc = api_parse_name_filter(v, &prefix, &e)) == 0)
            FUZZ_REQUIRE(prefix ? strchr(v, '*') == v + strlen(v) - 1 : !strchr(v, '*'));
    } else if (strncmp(key, "created_", 8) == 0 || strcmp(key, "finished_after") == 0) {
        bool up = strcmp(key, "created_before") == 0;
        if ((rc = api_parse_time(key, v, up, &i, &e)) == 0) { /* years 0000-9999, +-24 h */
            FUZZ_REQUIRE(i >= -62167219200000LL - 86400000 && i <= 253402300800000LL + 86400000);
            char back[32]; /* the API's own spelling reads back as written */
            if (strlen(v) == 24 && v[10] == 'T' && v[19] == '.' && v[23] == 'Z')
                FUZZ_REQUIRE(clock_format(i, back) == 24 && strcmp(back, v) == 0);
        }
    } else if (strcmp(key, "queue") == 0) {
        (void)job_queue_name_ok(v);
    }
    if (rc < 0) check_error(&e);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *target = malloc(size + 1);
    if (!target) return 0;
    memcpy(target, data, size);
    target[size] = '\0'; /* MHD hands over C strings: the target ends at a NUL */
    char *query = strchr(target, '?');
    if (query) *query++ = '\0';
    check_path(target);

    struct query_keys keys = {.allowed = all_keys};
    struct api_error e;
    for (char *p = query, *next; p && *p; p = next) {
        next = strchr(p, '&');
        if (next) *next++ = '\0';
        char *value = strchr(p, '=');
        if (value) *value++ = '\0';
        decode(p, strlen(p));
        if (value) decode(value, strlen(value));
        if (api_query_key(&keys, p, &e) < 0) {
            check_error(&e);
            continue;
        }
        check_value(p, value ? value : "");
    }
    free(target);
    return 0;
}
