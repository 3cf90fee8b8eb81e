/* api/internal.h: what the files of api/ share (not for use outside api/). */
#ifndef SPAWNPOOL_API_INTERNAL_H
#define SPAWNPOOL_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/config.h"
#include "server/dispatch.h"
#include "server/serve.h"
#include "server/store.h"

/* job_id of a waiter woken by the end of any job (event streams). */
#define WAITER_ANY_JOB (-1)

/* A suspended connection waiting for a job to end or a deadline (wait, output follow). */
struct waiter {
    struct MHD_Connection *conn;
    int64_t job_id;     /* resumed when this job ends */
    const int64_t *ids; /* ... or any of these (n_ids of them) */
    size_t n_ids;
    int64_t deadline; /* monotonic ms: resumed then at the latest */
    bool listed;      /* in the waiters list */
    bool resumed;     /* woken (job ended, deadline, shutdown) */
    struct waiter *prev, *next;
};

struct waiters {
    pthread_mutex_t lock;
    struct waiter *head;
    int count;
    bool stopping;
    atomic_uint_fast64_t ended; /* job ends seen by the finish hook (changed under lock) */
};

/* Where a connection is in receiving its current request (api/conns.c). */
enum conn_phase {
    CONN_NONE,   /* being answered (or a long-poll): no deadline of ours */
    CONN_HEAD,   /* waiting for a request's head: --head-timeout */
    CONN_BODY,   /* receiving a body: --body-timeout */
    CONN_EXPIRED /* cut off: it is closing */
};
struct conn;
struct conn_list {
    struct conn *first, *last;
};
/* Every open connection, and the thread that cuts off those past their deadline. */
struct conns {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    struct conn_list head, body;
    int64_t head_ms, body_ms;
    int open;        /* connections MHD has told us about */
    int closing;     /* of those, cut off and not yet closed */
    int evict_above; /* live connections over this: the oldest head-waiter is closed */
    int peak_open;   /* most open since memory was last trimmed (after a burst) */
    bool stop;
    atomic_uint_fast64_t expired_head, expired_body, evicted; /* for /metrics */
};

struct access_policy;

struct api {
    pthread_t notify_thread; /* api/notify.c: delivers notify_url callbacks */
    pthread_mutex_t notify_lock;
    pthread_cond_t notify_wake;
    bool notify_stop;
    struct MHD_Daemon *daemon;
    char *tls_cert, *tls_key; /* PEM text MHD serves HTTPS with (kept while it runs) */
    const struct config *cfg;
    const struct serve_caps *caps; /* what this server can do (kill mechanism, limits) */
    struct dispatch *dispatch;
    struct store *store;
    struct waiters waiters;
    atomic_int_fast64_t long_polls;  /* waits, follows and event streams open (api/waiters.c) */
    struct conns conns;              /* deadlines of every connection (api/conns.c) */
    pthread_rwlock_t access_lock;    /* readers: every request; writer: SIGHUP */
    struct access_policy *access;    /* tokens, hosts, origins (api/access.c) */
    atomic_uint_fast64_t refused[4]; /* api/guard.c: by enum guard_refusal, for /metrics */
    atomic_bool stopping;            /* the front end stops: new connections are refused */
};

/* api/access.c: who may call the API (tokens, Host names, browser origins). */
/* Builds the policy from cfg (api.access). 0, or -1 when out of memory. */
int api_access_init(struct api *a, const struct config *cfg);
/* Frees the policy. */
void api_access_free(struct api *a);
/* Swaps in the policy of a freshly loaded config (SIGHUP) and logs what changed. */
int api_access_reload(struct api *a, const struct config *fresh);
/* True if the request may reach url: no token is needed there, or authorization (the
 * Authorization header, may be NULL) holds one of the tokens. */
bool api_access_authorized(struct api *a, const char *url, const char *authorization);
/* True if host (the Host header; NULL when absent) names this server. */
bool api_access_host_ok(struct api *a, const char *host);
/* True if a page of origin (the Origin header) may call the API: the server's own origin
 * (scheme and the Host this request was sent to) or an --allow-origin. */
bool api_access_origin_ok(struct api *a, const char *origin, const char *host);

/* api/conns.c: connection deadlines (see enum conn_phase). */
/* Starts the thread that enforces them (and evicts near max_connections). 0 or -1 (logged). */
int conns_start(struct conns *cs, double head_timeout, double body_timeout, int max_connections);
/* Stops it; call after the daemon has stopped. */
void conns_stop(struct conns *cs);
/* MHD's connection notification callback (cls: the struct conns). */
void conns_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                  enum MHD_ConnectionNotificationCode code);
/* The connection's request moved to phase (its deadline restarts). */
void conns_set_phase(struct conns *cs, struct MHD_Connection *mc, enum conn_phase phase);
/* Marks the connection's current request as coming from an allowed browser origin. */
void conns_set_cors(struct MHD_Connection *mc, bool cors);
/* True if its current request came from an allowed browser origin. */
bool conns_cors(struct MHD_Connection *mc);
/* Notes the status of the answer queued on mc (for the access log). */
void conns_note_answer(struct MHD_Connection *mc, unsigned status);
/* Adds n to the body bytes given out on mc for the current request. */
void conns_count_bytes(struct MHD_Connection *mc, uint64_t n);
/* The current request's status (0: none queued) and body bytes so far. */
void conns_answer(struct MHD_Connection *mc, unsigned *status, uint64_t *bytes);

/* api/guard.c: what is refused before a request touches anything. */
enum guard_refusal { GUARD_FRAMING, GUARD_HOST, GUARD_ORIGIN, GUARD_MEDIA_TYPE };
/* Checks a request's head on the handler's first call: framing, Host, browser origin,
 * token, Content-Type and Content-Length against --max-body, in that order; answers
 * CORS preflights. Returns MHD_YES with *answered false when the request may go on (and
 * *has_body true if a body follows); otherwise the response is queued (*answered true)
 * and the result is MHD's. */
enum MHD_Result api_guard_head(struct api *a, struct MHD_Connection *c, const char *url,
                               const char *method, bool *answered, bool *has_body);
/* Queues resp with status, adding the CORS headers when the request's origin is allowed. */
enum MHD_Result api_queue_response(struct MHD_Connection *c, unsigned status,
                                   struct MHD_Response *resp);

/* Per-request state, made on the handler's first call, freed when the request completes. */
struct request {
    char *body;
    size_t body_len;
    bool too_large;
    bool routed;                   /* the head passed api_guard_head and the body is in */
    struct waiter wait;            /* for GET .../wait */
    struct pending_submit *submit; /* a POST /v1/jobs waiting for its commit */
    struct pending_cmd *cmd;       /* a change handed to the main loop (api/commands.c) */
    int64_t *wait_ids;             /* GET /v1/jobs/wait: the jobs waited for */
    struct api_filter *filter;     /* DELETE /v1/jobs?filter: read by the main loop meanwhile */
    size_t n_wait_ids;
    bool long_poll;          /* counted in api.long_polls until the request completes */
    char *access_path;       /* --access-log: the path (no query), NULL when not logged */
    char access_method[16];  /* and the method */
    int64_t access_start_us; /* monotonic, when the head arrived */
};

/* api/gzip.c: Content-Encoding: gzip for JSON answers over API_GZIP_MIN_BYTES. */
#define API_GZIP_MIN_BYTES 4096
/* True if an Accept-Encoding header value (NULL: none) takes gzip (q above 0, or a `*`
 * above 0 where gzip is not named). */
bool api_gzip_accepted(const char *accept_encoding);
/* Compresses len bytes of in into a new gzip member *out (*out_len bytes, the caller
 * frees). 0, or -1 when out of memory. */
int api_gzip(const char *in, size_t len, char **out, size_t *out_len);

/* api/commands.c: hands cmd to the main loop for request r and suspends c until it is
 * carried out and committed (the handler is called again: see api_command_answer). Returns
 * DISPATCH_OK, or the refusal to answer now (SHUTTING_DOWN, ERROR: out of memory). */
enum dispatch_result api_command(struct api *a, struct request *r, struct MHD_Connection *c,
                                 const struct dispatch_cmd *cmd);
/* The answered command of r, or NULL while there is none. */
const struct dispatch_cmd *api_command_answer(const struct request *r);
/* The queue as a QUEUE_SET command of r left it. */
const struct dispatch_queue_info *api_command_queue(const struct request *r);
/* Frees a request's command (request completion). */
void api_command_free(struct pending_cmd *p);
/* 503 store_unavailable with Retry-After: the store cannot commit now. */
enum MHD_Result api_send_unavailable(struct api *a, struct MHD_Connection *c);
/* An empty answer (204 after a delete). */
enum MHD_Result api_send_empty(struct MHD_Connection *c, unsigned status);
/* A command refused for now: UNAVAILABLE as above, SHUTTING_DOWN as 503 shutting_down. */
enum MHD_Result api_send_not_now(struct api *a, struct MHD_Connection *c,
                                 enum dispatch_result result);
/* 404 not_found: no job id. */
enum MHD_Result api_no_such_job(struct MHD_Connection *c, int64_t id);
/* The answer to a job command the main loop did not carry out, other than a conflict: no
 * such job (404), no changes taken now (503), or a failure (500, what names the change). */
enum MHD_Result api_command_refused(struct api *a, struct MHD_Connection *c, int64_t id,
                                    enum dispatch_result result, const char *what);

/* An error for the client: status, code of API.md, field at fault, human message. */
struct api_error {
    unsigned status;
    const char *code;
    char field[64];
    char message[400];
};

/* A growable text buffer (api/text.c); `failed` once an allocation failed. */
struct text {
    char *data;
    size_t len, cap;
    bool failed;
};
/* Appends n bytes / formatted text. */
void text_add(struct text *t, const char *s, size_t n);
void text_addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends an integer in decimal. */
void text_add_int(struct text *t, int64_t v);
/* Appends a finite double as a JSON number that reads back as the same double. */
void text_add_number(struct text *t, double d);
/* Appends s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
void text_json_string(struct text *t, const char *s);
/* The same for the n bytes at s (which may hold no NUL). */
void text_json_stringn(struct text *t, const char *s, size_t n);
/* Frees the buffer. */
void text_free(struct text *t);
/* Length of the valid UTF-8 sequence at p (no overlongs or surrogates), 0 if invalid. */
int api_utf8_length(const unsigned char *p);
/* Replaces what is not valid UTF-8 (and, if controls, bytes below 0x20) with '?'. */
void api_utf8_sanitize(char *s, bool controls);
/* Fills e; returns -1 so callers can `return api_fail(...)`. */
int api_fail(struct api_error *e, unsigned status, const char *code, const char *field,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sends body (reference stolen) as JSON with status; location may be NULL. */
enum MHD_Result api_send_json(struct MHD_Connection *c, unsigned status, json_t *body,
                              const char *location);
/* API.md's error body {"error": {"code", "message", "field"?}}; NULL only when out of memory. */
json_t *api_error_json(const struct api_error *e);
/* Sends API.md's error object (a 503 with Retry-After: 1). */
enum MHD_Result api_send_error(struct MHD_Connection *c, const struct api_error *e);
/* Sends the error (with one more header if hname) and closes the connection after it. */
enum MHD_Result api_send_error_and_close(struct MHD_Connection *c, const struct api_error *e,
                                         const char *hname, const char *hvalue);
/* Sends the error with `Retry-After: 1` (429s and 503s: the client should come back shortly;
 * api_send_error adds it to every 503). */
enum MHD_Result api_send_retry_later(struct MHD_Connection *c, const struct api_error *e);
/* Sends a plain text body (copied) with a content type. */
enum MHD_Result api_send_text(struct MHD_Connection *c, unsigned status, const char *text,
                              size_t len, const char *content_type);
/* Sends 405 method_not_allowed with an Allow header. */
enum MHD_Result api_send_not_allowed(struct MHD_Connection *c, const char *allow);

/* Routes one complete request (body read). */
enum MHD_Result api_route(struct api *a, struct request *r, struct MHD_Connection *c,
                          const char *method, const char *url);

/* Handlers (api/jobs_api.c): id is the parsed job id. */
enum MHD_Result api_jobs_submit(struct api *a, struct request *r, struct MHD_Connection *c);
/* PATCH /v1/jobs/{id}: a queued job's priority and/or queue; 200 the job, 409 otherwise. */
enum MHD_Result api_jobs_patch(struct api *a, struct request *r, struct MHD_Connection *c,
                               int64_t id);
/* POST /v1/jobs/{id}/rerun: a new job with the same spec, saying rerun_of; 201 like a submit. */
enum MHD_Result api_jobs_rerun(struct api *a, struct request *r, struct MHD_Connection *c,
                               int64_t id);
/* GET /v1/jobs (api/jobs_list.c): the jobs its filters select, newest first, a page. */
enum MHD_Result api_jobs_list(struct api *a, struct MHD_Connection *c);
enum MHD_Result api_jobs_get(struct api *a, struct MHD_Connection *c, int64_t id);
enum MHD_Result api_jobs_wait(struct api *a, struct request *r, struct MHD_Connection *c,
                              int64_t id);
enum MHD_Result api_jobs_wait_many(struct api *a, struct request *r, struct MHD_Connection *c);
enum MHD_Result api_jobs_terminate(struct api *a, struct request *r, struct MHD_Connection *c,
                                   int64_t id);
/* api/jobs_delete.c: DELETE /v1/jobs/{id}: 204, 409 while the job has not finished. */
enum MHD_Result api_jobs_delete(struct api *a, struct request *r, struct MHD_Connection *c,
                                int64_t id);
/* DELETE /v1/jobs?filter: the finished jobs it matches that are no longer needed, in slices
 * on the main loop; 200 {"deleted": n, "kept": k}. */
enum MHD_Result api_jobs_delete_finished(struct api *a, struct request *r,
                                         struct MHD_Connection *c);
enum MHD_Result api_workers(struct api *a, struct MHD_Connection *c);
enum MHD_Result api_tasks(struct api *a, struct MHD_Connection *c);
/* api/nodes_api.c: GET /v1/nodes, the nodes sharing the store (one on SQLite), their leases
 * judged by --node-timeout, "this" for the node that answers. */
enum MHD_Result api_nodes(struct api *a, struct MHD_Connection *c);
/* api/events.c: GET /v1/events, server-sent events of every state change. */
enum MHD_Result api_events(struct api *a, struct MHD_Connection *c);
/* api/notify.c: starts / stops the thread that delivers notify_url callbacks. */
int api_notify_start(struct api *a);
void api_notify_stop(struct api *a);
/* api/queues_api.c */
/* A PATCH /v1/queues/{name} body: what to change. */
struct queue_patch {
    int concurrency; /* -1: no limit */
    bool set_concurrency;
    int paused; /* 0 or 1, -1: unchanged */
};
/* Validates a PATCH /v1/queues body into q. 0 or -1 with e. */
int api_parse_queue_patch(const char *body, size_t len, struct queue_patch *q, struct api_error *e);
enum MHD_Result api_queues_list(struct api *a, struct MHD_Connection *c);
/* api/schedules_api.c: /v1/schedules. */
/* dispatch_job_parser: a schedule's job (a submit body) into a spec; ctx is the api. */
int api_schedule_job_parser(void *ctx, const char *json, struct job_spec *out, char *err,
                            size_t errlen);
/* GET /v1/schedules: every schedule with its next run times. */
enum MHD_Result api_schedules_list(struct api *a, struct MHD_Connection *c);
/* POST /v1/schedules: creates one (201; 409 if the name is taken). */
enum MHD_Result api_schedules_create(struct api *a, struct request *r, struct MHD_Connection *c);
/* GET, PATCH, DELETE /v1/schedules/{name}. */
enum MHD_Result api_schedule_one(struct api *a, struct request *r, struct MHD_Connection *c,
                                 const char *method, const char *name);
enum MHD_Result api_queues_patch(struct api *a, struct request *r, struct MHD_Connection *c,
                                 const char *name);
enum MHD_Result api_healthz(struct api *a, struct MHD_Connection *c);
/* GET /readyz: 200 {"status":"ready"} when a load balancer may send work here; 503 while
 * draining, with no started worker, or with a store that cannot commit. */
enum MHD_Result api_readyz(struct api *a, struct MHD_Connection *c);
/* api/openapi_api.c: the embedded OpenAPI document (api/openapi.json), no token needed. */
enum MHD_Result api_openapi(struct MHD_Connection *c);
/* api/metrics.c: Prometheus text exposition. */
enum MHD_Result api_metrics(struct api *a, struct MHD_Connection *c);
/* api/dashboard.c: GET / (the page) and GET /ui/<file>, from web/, with CSP and ETag. */
enum MHD_Result api_dashboard(struct api *a, struct MHD_Connection *c, const char *method,
                              const char *url);
/* api/output.c: captured output, optionally followed until the job ends. */
enum MHD_Result api_jobs_output(struct api *a, struct request *r, struct MHD_Connection *c,
                                int64_t id);
/* api/output_chunks.c: output read from the database's chunks (PostgreSQL), for a job this
 * node has no files of. */
/* True if job j's output is read from the chunks: on PostgreSQL, when another node claimed
 * it, or when its file at path is not here. */
bool output_is_remote(struct api *a, const struct job *j, const char *path);
/* The attempt whose output j shows: its last one, once started; 0 while none is (a retry
 * waits: its next attempt starts afresh). */
int output_started_attempt(const struct job *j);
/* Where a reader of one attempt's stream is. */
struct chunk_cursor {
    int64_t job_id;
    const char *stream; /* "stdout" or "stderr" (static) */
    int attempt;        /* 0: none chosen yet */
    uint64_t offset;
    bool complete;          /* its end mark was reached: nothing more comes */
    struct store_chunk cur; /* the last chunk read */
};
/* Copies up to max bytes at c->offset into buf and moves on. Returns how many (0: nothing
 * stored there yet, or c->complete), -1 on a database error (logged). */
ssize_t chunk_cursor_read(struct api *a, struct chunk_cursor *c, char *buf, size_t max);
/* Frees what the cursor holds. */
void chunk_cursor_free(struct chunk_cursor *c);
/* The response to a read without follow of j's stream from offset: *out (NULL: out of
 * memory). 0, or -1 with e filled. */
int output_chunks_response(struct api *a, struct MHD_Connection *c, const struct job *j,
                           const char *stream, uint64_t offset, struct MHD_Response **out,
                           struct api_error *e);
/* Frees a submit's state (request completed). */
void api_pending_submit_free(struct pending_submit *p);
/* True if job id has ended, is gone, or cannot be read (api/jobs_api.c). */
bool api_job_ended(struct api *a, int64_t id);

/* api/submit_knobs.c: sets spec's limits from what it asked for, its template's and the
 * server's (--limit-*), each at most its ceiling. Returns 0, or -1 with e filled. */
int api_apply_limits(const struct config *cfg, const struct serve_caps *caps, const char *prefix,
                     struct job_spec *spec, struct api_error *e);
/* Sets spec's max_output and retry_backoff from the job object obj, its template and the
 * server's settings, each at most the server's ceiling. Returns 0, or -1 with e filled. */
int api_apply_knobs(json_t *obj, const struct config *cfg, const char *prefix,
                    struct job_spec *spec, struct api_error *e);
/* api/submit.c: validates one job object into spec (field names prefixed with prefix, e.g.
 * "[3]."). Returns 0, or -1 with e filled and spec freed. */
int api_parse_job(json_t *obj, const struct config *cfg, const struct serve_caps *caps,
                  const char *prefix, struct job_spec *spec, struct api_error *e);
/* api/submit.c: validates a POST /v1/jobs body, one job object or an array of 1 to
 * --max-batch of them (an idempotency_key at most once), with the Idempotency-Key header
 * (NULL: none; a single job only). A job with a key gets its request's fingerprint. Returns
 * 0 with *n specs in *specs (free with api_specs_free) and *many for the array form, or -1
 * with e. */
int api_parse_submit(const char *body, size_t len, const struct config *cfg,
                     const struct serve_caps *caps, const char *idempotency_header,
                     struct job_spec **specs, size_t *n, bool *many, struct api_error *e);
/* Frees n specs and the array. */
void api_specs_free(struct job_spec *specs, size_t n);
/* Parses a request body as strict JSON (duplicates rejected). NULL with e on error. */
json_t *api_parse_body(const char *body, size_t len, struct api_error *e);

/* api/job_json.c: appends a limits object ({"nofile": 256, ...}: the set ones). */
void api_limits_text(struct text *t, const struct proto_limits *l);
/* Appends an env blob ("K=V" strings) as a JSON object of strings. */
void api_env_text(struct text *t, const struct strblob *env);
/* A running job's pid and its output's sizes so far, which its row gets only at its end
 * (api/jobs_api.c). */
void api_job_live(struct api *a, struct job *j);
/* Fills e for a failed store read (what: "reading the job"): 503 "store_unavailable" when the
 * database could not be reached (store_read_unreachable), else 500 "internal". -1. */
int api_fail_read(struct api_error *e, const char *what);
/* Sends api_fail_read's error: 503 (with Retry-After) or 500 "internal" (see the log). */
enum MHD_Result api_send_internal(struct MHD_Connection *c, const char *what);
/* Appends the job object of API.md as JSON text. */
void api_job_text(struct text *t, const struct job *j);
/* Appends ,"key":"<RFC 3339 time>" (null when ms <= 0). */
void api_text_time(struct text *t, const char *key, int64_t ms);
/* Sends t (taken over, freed) as a JSON response with status; location may be NULL. */
enum MHD_Result api_send_text_json(struct MHD_Connection *c, unsigned status, struct text *t,
                                   const char *location);

/* api/query.c: query strings and path ids. */
/* Percent-decodes s in place like MHD, but keeps "%00" as text (a NUL would cut the path
 * short: "/v1/jobs/1%00junk" must not mean job 1). Returns the new length. */
size_t api_unescape(char *s);
/* The keys of one query string seen so far, checked against the allowed ones. */
#define QUERY_MAX_KEYS 16
struct query_keys {
    const char *const *allowed; /* NULL-terminated */
    const char *seen[QUERY_MAX_KEYS];
    int nseen;
};
/* Accepts key if allowed and not seen before; else -1 with e (400 naming the key). */
int api_query_key(struct query_keys *k, const char *key, struct api_error *e);
/* Rejects query parameters of the connection not in allowed (NULL-terminated) and repeats. */
int api_query_check(struct MHD_Connection *c, const char *const *allowed, struct api_error *e);
/* Parses the value v of parameter name as an integer in [min, max]. 0 or -1 with e. */
int api_parse_int(const char *name, const char *v, int64_t min, int64_t max, int64_t *out,
                  struct api_error *e);
/* Parses v as a number of seconds in [min, max]. 0 or -1 with e. */
int api_parse_seconds(const char *name, const char *v, double min, double max, double *out,
                      struct api_error *e);
/* Reads an integer parameter in [min, max]; absent gives def. Returns 0 or -1 with e. */
int api_query_int(struct MHD_Connection *c, const char *name, int64_t min, int64_t max, int64_t def,
                  int64_t *out, struct api_error *e);
/* Reads a number of seconds in [min, max]; absent gives def. Returns 0 or -1 with e. */
int api_query_seconds(struct MHD_Connection *c, const char *name, double min, double max,
                      double def, double *out, struct api_error *e);
/* Parses a path id: a positive decimal integer below 2^63. Returns 0 or -1 with e. */
int api_parse_id(const char *text, size_t len, int64_t *out, struct api_error *e);
/* Parses "1,2,3" (1 to max ids) into ids[0..*n). 0 or -1 with e (field "ids"). */
int api_parse_id_list(const char *v, int64_t *ids, size_t max, size_t *n, struct api_error *e);
/* Parses "failed,timed_out" (states by name, each taken once) into states[0..*n). 0, or -1
 * with e (field "state": an unknown state, an empty item). */
int api_parse_states(const char *v, enum job_state states[JOB_STATE_COUNT], int *n,
                     struct api_error *e);
/* Checks a name filter: a name, or with a '*' at its end the start of names ("build-*":
 * *prefix true; the name is the text before the '*'). 0, or -1 with e (a '*' elsewhere). */
int api_parse_name_filter(const char *v, bool *prefix, struct api_error *e);
/* Parses the value v of parameter name as an RFC 3339 time (clock_parse) into wall ms; a
 * fraction below the millisecond rounds down, or up with round_up. 0 or -1 with e. */
int api_parse_time(const char *name, const char *v, bool round_up, int64_t *out,
                   struct api_error *e);
/* The query parameters of a job filter (GET /v1/jobs, DELETE /v1/jobs), for allowed lists. */
#define API_FILTER_PARAMS                                                                          \
    "state", "queue", "name", "before", "rerun_of", "created_after", "created_before",             \
        "finished_after", "schedule"
/* A job filter read from a query, with what f's pointers point at besides c's values (so it
 * is never copied: f is, while this lives). */
struct api_filter {
    struct store_filter f;
    int64_t created_after, created_before, finished_after; /* f's time bounds point here */
    char *name_copy; /* f.name when it is a prefix: the text before its '*' (malloc'd) */
};
/* Reads the job filter of c's query into af (f.limit 0; its strings are c's, valid while c
 * is): 0, or -1 with e (400 naming the parameter). Free with api_filter_free either way. */
int api_query_filter(struct MHD_Connection *c, struct api_filter *af, struct api_error *e);
/* Frees what api_query_filter allocated in af (not af). */
void api_filter_free(struct api_filter *af);

/* api/waiters.c: suspended connections and their wake-ups. A handler registers a waiter
 * without holding any lock across its store read (see waiters.c for why none is lost):
 *   gen = waiters_generation(ws); read the job: ended? answer;
 *   waiters_add(ws, w, gen, &changed) (false: stopping, answer); if (changed) read again,
 *   and if it ended meanwhile, waiters_resume_now(ws, w). */
void waiters_init(struct waiters *w);
/* How many job ends the finish hook has seen: read before the store read that decides to wait. */
uint64_t waiters_generation(struct waiters *ws);
/* Lists w and suspends its connection, from its handler; false (nothing done) when the server
 * stops. *changed: a job ended since generation gen (w's may have: read its state again). */
bool waiters_add(struct waiters *ws, struct waiter *w, uint64_t gen, bool *changed);
/* Resumes w at once if it is still listed: what it waits for has happened already. */
void waiters_resume_now(struct waiters *ws, struct waiter *w);
/* Counts one more open long-poll or event stream; false (counted nothing, e filled with
 * 429 too_many_long_polls) when --max-long-polls are open already. */
bool api_long_poll_begin(struct api *a, struct api_error *e);
/* Counts one long-poll or event stream fewer. */
void api_long_poll_end(struct api *a);
/* Removes w if still listed (request completed early). */
void waiters_forget(struct waiters *ws, struct waiter *w);
/* Resumes every waiter of job_id (dispatch's finish hook). */
void waiters_job_finished(void *ctx, int64_t job_id);
/* Resumes waiters whose deadline passed; returns ms to the next deadline or -1. */
int64_t waiters_expire(struct waiters *ws);
/* Resumes everyone and refuses new waits (shutdown). */
void waiters_stop(struct waiters *ws);

#endif
