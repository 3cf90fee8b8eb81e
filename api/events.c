/* events: GET /v1/events, server-sent events, one per state change (a job_events row):
 * `id` is the row id, so a client resumes with Last-Event-ID. The stream holds no thread:
 * when it has caught up it suspends until a job ends or a short poll interval passes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "server/clock.h"

#define EVENTS_POLL_MS 250 /* caught up: look again this often (other transitions) */
#define EVENTS_BATCH 200

struct event_stream {
    struct api *api;
    struct MHD_Connection *conn;
    int64_t last_id; /* sent up to here */
    int64_t job_id;  /* filter, 0: none */
    char *queue;     /* filter, NULL: none */
    struct text buf; /* formatted, not yet sent */
    size_t sent;     /* bytes of buf already given to MHD */
    int64_t quiet_since;
    struct waiter wait;
};

static void format_event(void *ctx, const struct store_event *e)
{
    struct event_stream *es = ctx;
    char at[32];
    clock_format(e->at, at);
    text_addf(&es->buf, "id: %lld\nevent: state\ndata: {\"id\":%lld,\"state\":\"%s\",\"from\":",
              (long long)e->id, (long long)e->job_id, e->to);
    if (e->from)
        text_addf(&es->buf, "\"%s\"", e->from);
    else
        text_add(&es->buf, "null", 4);
    text_addf(&es->buf, ",\"at\":\"%s\",\"detail\":", at);
    if (e->detail)
        text_json_string(&es->buf, e->detail);
    else
        text_add(&es->buf, "null", 4);
    text_add(&es->buf, "}\n\n", 3);
    es->last_id = e->id;
}

static ssize_t events_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct event_stream *es = cls;
    struct waiters *ws = &es->api->waiters;
    /* read before the store read: see api/waiters.c */
    uint64_t gen = waiters_generation(ws);
    if (es->sent == es->buf.len) { /* all given out: fetch more */
        es->buf.len = es->sent = 0;
        int n = store_each_event(es->api->store, es->last_id, es->job_id, es->queue, EVENTS_BATCH,
                                 format_event, es);
        int64_t now = clock_mono_ms();
        if (n < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
        /* quiet for --stream-keepalive: a comment line, which keeps proxies and load
         * balancers from cutting an idle stream and finds a client that has gone */
        int64_t keepalive_ms = (int64_t)(es->api->cfg->stream_keepalive * 1000);
        if (n == 0 && keepalive_ms > 0 && now - es->quiet_since >= keepalive_ms)
            text_add(&es->buf, ": keep-alive\n\n", 14);
        if (n > 0 || es->buf.len) es->quiet_since = now;
    }
    if (es->buf.failed) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (es->sent < es->buf.len) {
        size_t n = es->buf.len - es->sent < max ? es->buf.len - es->sent : max;
        memcpy(out, es->buf.data + es->sent, n);
        es->sent += n;
        conns_count_bytes(es->conn, n);
        return (ssize_t)n;
    }
    /* caught up: wait for a job to end, or the poll interval (other transitions) */
    es->wait.job_id = WAITER_ANY_JOB;
    es->wait.deadline = clock_mono_ms() + EVENTS_POLL_MS;
    bool changed;
    if (!waiters_add(ws, &es->wait, gen, &changed)) return MHD_CONTENT_READER_END_OF_STREAM;
    if (changed)
        waiters_resume_now(ws, &es->wait); /* a job ended since the read: read again */
    else
        dispatch_wake(es->api->dispatch);
    return 0;
}

static void events_free(void *cls)
{
    struct event_stream *es = cls;
    waiters_forget(&es->api->waiters, &es->wait);
    api_long_poll_end(es->api);
    text_free(&es->buf);
    free(es->queue);
    free(es);
}

enum MHD_Result api_events(struct api *a, struct MHD_Connection *c)
{
    static const char *const allowed[] = {"job", "queue", "last_event_id", NULL};
    struct api_error e;
    int64_t job = 0, last = -1;
    if (api_query_check(c, allowed, &e) < 0 ||
        api_query_int(c, "job", 1, INT64_MAX, 0, &job, &e) < 0 ||
        api_query_int(c, "last_event_id", 0, INT64_MAX, -1, &last, &e) < 0)
        return api_send_error(c, &e);
    const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (header && last < 0) {
        char *end;
        errno = 0;
        long long v = strtoll(header, &end, 10);
        if (!*header || *end || v < 0 || errno == ERANGE) {
            api_fail(&e, 400, "invalid_argument", "Last-Event-ID",
                     "Last-Event-ID must be an event id (a non-negative integer)");
            return api_send_error(c, &e);
        }
        last = v;
    }
    /* from now on; or, resuming, a first read now: a database that cannot be read answers
     * 503 here rather than cut a stream already begun */
    int64_t newest = store_last_event(a->store);
    if (last < 0) last = newest;
    if (newest < 0) {
        return api_send_internal(c, "reading the events");
    }
    if (!api_long_poll_begin(a, &e)) return api_send_retry_later(c, &e);
    struct event_stream *es = calloc(1, sizeof *es);
    if (!es) {
        api_long_poll_end(a);
        return MHD_NO;
    }
    es->api = a;
    es->conn = c;
    es->last_id = last;
    es->job_id = job;
    es->quiet_since = clock_mono_ms();
    es->wait.conn = c;
    const char *queue = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "queue");
    if (queue && !(es->queue = strdup(queue))) {
        events_free(es);
        return MHD_NO;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                                  events_read, es, events_free);
    if (!resp) {
        events_free(es);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result rc = api_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}
