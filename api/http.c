/* http: the libmicrohttpd daemon (thread pool, epoll, suspend/resume), the access handler
 * that gathers a request body up to --max-body, and the response helpers. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api/api.h"
#include "api/internal.h"
#include "server/clock.h"
#include "server/log.h"

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 if it is not one. */
int api_utf8_length(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    int n;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c == 0xe0)
        n = 3, lo = 0xa0;
    else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
        n = 3;
    else if (c == 0xed)
        n = 3, hi = 0x9f;
    else if (c == 0xf0)
        n = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3)
        n = 4;
    else if (c == 0xf4)
        n = 4, hi = 0x8f;
    else
        return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return n;
}

void api_utf8_sanitize(char *s, bool controls)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = api_utf8_length(p);
        if (n == 0 || (controls && *p < 0x20)) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

int api_fail(struct api_error *e, unsigned status, const char *code, const char *field,
             const char *fmt, ...)
{
    e->status = status;
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    api_utf8_sanitize(e->message, true);
    api_utf8_sanitize(e->field, true);
    return -1;
}

static enum MHD_Result send_buffer(struct MHD_Connection *c, unsigned status, char *buf, size_t len,
                                   const char *type, const char *hname, const char *hvalue,
                                   bool close)
{
    /* a large JSON answer (a list page) shrinks about twentyfold: gzip it for a client that
     * takes it; the same answer then differs by Accept-Encoding, which a cache must know */
    bool compressible = len >= API_GZIP_MIN_BYTES && strncmp(type, "application/json", 16) == 0;
    bool gzipped = false;
    if (compressible &&
        api_gzip_accepted(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding"))) {
        char *packed;
        size_t packed_len;
        if (api_gzip(buf, len, &packed, &packed_len) == 0) { /* else: sent as it is */
            free(buf);
            buf = packed;
            len = packed_len;
            gzipped = true;
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf);
        return MHD_NO;
    }
    conns_count_bytes(c, len);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (compressible) MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (gzipped) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (hname) MHD_add_response_header(resp, hname, hvalue);
    if (close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = api_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_json_header(struct MHD_Connection *c, unsigned status, json_t *body,
                                        const char *hname, const char *hvalue, bool close)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) { /* a bug: never leave the client without an answer */
        static const char fallback[] = "{\"error\":{\"code\":\"internal\",\"message\":"
                                       "\"the response could not be encoded\"}}\n";
        text = strdup(fallback);
        status = 500;
        if (!text) return MHD_NO;
    }
    size_t len = strlen(text);
    char *withnl = realloc(text, len + 2);
    if (!withnl) {
        free(text);
        return MHD_NO;
    }
    withnl[len] = '\n'; /* so `curl` output ends its line */
    withnl[len + 1] = '\0';
    return send_buffer(c, status, withnl, len + 1, "application/json; charset=utf-8", hname, hvalue,
                       close);
}

enum MHD_Result api_send_json(struct MHD_Connection *c, unsigned status, json_t *body,
                              const char *location)
{
    return send_json_header(c, status, body, location ? MHD_HTTP_HEADER_LOCATION : NULL, location,
                            false);
}

enum MHD_Result api_send_text_json(struct MHD_Connection *c, unsigned status, struct text *t,
                                   const char *location)
{
    text_add(t, "\n", 1); /* so `curl` output ends its line */
    if (t->failed) {
        text_free(t);
        return send_json_header(c, 500, NULL, NULL, NULL, false);
    }
    enum MHD_Result rc = send_buffer(c, status, t->data, t->len, "application/json; charset=utf-8",
                                     location ? MHD_HTTP_HEADER_LOCATION : NULL, location, false);
    t->data = NULL; /* the response owns it now */
    text_free(t);
    return rc;
}

json_t *api_error_json(const struct api_error *e)
{
    json_t *err = json_pack("{s:s, s:s}", "code", e->code, "message", e->message);
    if (err && e->field[0]) json_object_set_new(err, "field", json_string(e->field));
    return json_pack("{s:o}", "error", err);
}

enum MHD_Result api_send_error(struct MHD_Connection *c, const struct api_error *e)
{
    if (e->status == 503) return api_send_retry_later(c, e); /* (unavailable for a moment) */
    return api_send_json(c, e->status, api_error_json(e), NULL);
}

enum MHD_Result api_send_text(struct MHD_Connection *c, unsigned status, const char *text,
                              size_t len, const char *content_type)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) return MHD_NO;
    memcpy(copy, text, len);
    return send_buffer(c, status, copy, len, content_type, NULL, NULL, false);
}

enum MHD_Result api_send_error_and_close(struct MHD_Connection *c, const struct api_error *e,
                                         const char *hname, const char *hvalue)
{
    return send_json_header(c, e->status, api_error_json(e), hname, hvalue, true);
}

enum MHD_Result api_send_retry_later(struct MHD_Connection *c, const struct api_error *e)
{
    return send_json_header(c, e->status, api_error_json(e), MHD_HTTP_HEADER_RETRY_AFTER, "1",
                            false);
}

enum MHD_Result api_send_not_allowed(struct MHD_Connection *c, const char *allow)
{
    struct api_error e;
    api_fail(&e, 405, "method_not_allowed", NULL, "this route allows only %s", allow);
    return send_json_header(c, 405, api_error_json(&e), MHD_HTTP_HEADER_ALLOW, allow, false);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Keeps what the access log line needs of a request's head. The path is MHD's, without
 * the query string: no query value (a filter, an idempotency key) reaches the log, and the
 * token travels only in the Authorization header, which is never logged. */
/* The path for the access line: at most 512 bytes of url, control bytes and bad UTF-8
 * replaced, and a space or '"' written back as %20 / %22: in the text log a field ends at a
 * space, and a client's "/x%20status=200" must not read as a second status field. */
static char *access_path(const char *url)
{
    char *raw = strndup(url, 512);
    if (!raw) return NULL;
    api_utf8_sanitize(raw, true);
    size_t extra = 0;
    for (const char *p = raw; *p; p++)
        extra += *p == ' ' || *p == '"' ? 2 : 0;
    char *out = malloc(strlen(raw) + extra + 1);
    if (out) {
        char *o = out;
        for (const char *p = raw; *p; p++) {
            if (*p == ' ' || *p == '"') {
                o += sprintf(o, "%%%02X", (unsigned char)*p);
            } else {
                *o++ = *p;
            }
        }
        *o = '\0';
    }
    free(raw);
    return out;
}

static void access_log_begin(struct request *r, const char *method, const char *url)
{
    r->access_start_us = now_us();
    snprintf(r->access_method, sizeof r->access_method, "%s", method);
    api_utf8_sanitize(r->access_method, true);
    r->access_path = access_path(url);
}

/* Logs the access line of a request that completed (or whose client left). */
static void access_log_line(struct MHD_Connection *c, const struct request *r,
                            enum MHD_RequestTerminationCode toe)
{
    unsigned status;
    uint64_t bytes;
    conns_answer(c, &status, &bytes);
    if (strcmp(r->access_method, "HEAD") == 0) bytes = 0; /* MHD sends the head only */
    struct log_field fields[] = {
        {"method", r->access_method, 0},
        {"path", r->access_path, 0},
        {"status", NULL, status},
        {"bytes", NULL, (int64_t)bytes},
        {"us", NULL, now_us() - r->access_start_us},
        {"end",
         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok"
         : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT || toe == MHD_REQUEST_TERMINATED_READ_ERROR
             ? "client_left"
         : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown"
         : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                                                         : "error",
         0},
    };
    log_fields(LOG_LEVEL_INFO, "access", fields, (int)(sizeof fields / sizeof fields[0]));
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    struct api *a = cls;
    struct request *r = *con_cls;
    if (!r) { /* first call: the head only */
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *con_cls = r;
        if (a->cfg->access_log) access_log_begin(r, method, url);
        bool answered, has_body;
        enum MHD_Result rc = api_guard_head(a, c, url, method, &answered, &has_body);
        if (!answered) {
            /* the head is in: a body gets --body-timeout, a request without one is routed */
            conns_set_phase(&a->conns, c, has_body ? CONN_BODY : CONN_NONE);
            r->routed = !has_body;
        }
        return rc;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large || r->body_len + n > (size_t)a->cfg->max_body) {
            r->too_large = true;
            free(r->body);
            r->body = NULL;
            r->body_len = 0;
            return MHD_YES;
        }
        char *grown = realloc(r->body, r->body_len + n + 1);
        if (!grown) return MHD_NO;
        memcpy(grown + r->body_len, upload_data, n);
        r->body = grown;
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }
    if (!r->routed) { /* the body is in: our deadlines end, the answer's begin */
        r->routed = true;
        conns_set_phase(&a->conns, c, CONN_NONE);
    }
    if (r->too_large) { /* a chunked body, whose length was not declared */
        struct api_error e;
        api_fail(&e, 413, "payload_too_large", NULL,
                 "the request body is over the limit of %lld bytes (--max-body)",
                 (long long)a->cfg->max_body);
        return api_send_error(c, &e);
    }
    return api_route(a, r, c, method, url);
}

static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct api *a = cls;
    struct request *r = *con_cls;
    if (r && r->access_path) access_log_line(c, r, toe);
    conns_set_phase(&a->conns, c, CONN_HEAD); /* a keep-alive connection awaits its next head */
    if (!r) return;
    free(r->access_path);
    waiters_forget(&a->waiters, &r->wait);
    if (r->long_poll) api_long_poll_end(a);
    api_pending_submit_free(r->submit);
    api_command_free(r->cmd);
    free(r->wait_ids);
    if (r->filter) api_filter_free(r->filter);
    free(r->filter);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

/* MHD's unescape callback: ours keeps %00 (see api_unescape). */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return api_unescape(s);
}

/* MHD's error log callback: its format strings are MHD's own. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* a client that closes its event stream or output follow is how such a stream ends,
     * not a fault: MHD reports it as a failed send, which only debugging wants to see */
    if (strstr(msg, "Failed to send the chunked response body") ||
        strstr(msg, "Failed to send the response body")) {
        log_debug("http: %s", msg);
        return;
    }
    /* a client refused a thousand times must not write a thousand lines: the same message
     * again within 10 s is counted, and the count logged with the next one that differs */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char last[512];
    static int64_t last_at;
    static unsigned repeats;
    pthread_mutex_lock(&lock);
    int64_t now = clock_mono_ms();
    if (strcmp(msg, last) == 0 && now - last_at < 10000) {
        repeats++;
        pthread_mutex_unlock(&lock);
        return;
    }
    unsigned repeated = repeats;
    repeats = 0;
    memcpy(last, msg, sizeof last);
    last_at = now;
    pthread_mutex_unlock(&lock);
    if (repeated) log_warn("http: (the message before was repeated %u more times)", repeated);
    log_warn("http: %s", msg);
}

/* MHD's accept policy: once the front end stops, a new connection is closed at once. This
 * stands in for MHD_quiesce_daemon, which races the pool threads in libmicrohttpd 0.9.75 to
 * 0.9.77: it takes the listen socket out of each pool thread's epoll set from the caller's
 * thread, while a busy pool thread may take it out first, and MHD_PANICs (abort) on the
 * ENOENT ("Failed to remove listen FD from epoll set"; see tests/bench/mhd_quiesce_race.c). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)addr;
    (void)len;
    struct api *a = cls;
    return atomic_load(&a->stopping) ? MHD_NO : MHD_YES;
}

/* Reads a whole (small) file as a NUL-terminated string; NULL with errno on failure. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    char *data = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&data, &len);
    char buf[4096];
    size_t n;
    while (mem && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, mem);
    if (mem) fclose(mem);
    fclose(f);
    return data;
}

/* Binds the listening socket ourselves, so errors are clear and port 0 can be read back. */
static int bind_listener(const struct config *cfg, int *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", cfg->listen_port);
    int gai = getaddrinfo(cfg->listen_host, service, &hints, &res);
    if (gai != 0) {
        log_error("cannot resolve listen address %s: %s", cfg->listen_host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        log_error("bind() failed while listening on %s:%d: %s%s", cfg->listen_host,
                  cfg->listen_port, strerror(errno),
                  errno == EADDRINUSE ? " (another server has that port: give another with "
                                        "--listen HOST:PORT, or port 0 for any free one)"
                                      : "");
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void *frontend_start(const struct config *cfg, const struct serve_caps *caps,
                            struct dispatch *d, struct store *s, int *port)
{
    /* not thread-safe: before the first thread of the process (MHD's, the sender's) */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("curl_global_init() failed while starting the notify_url sender");
        return NULL;
    }
    struct api *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = cfg;
    a->caps = caps;
    a->dispatch = d;
    dispatch_set_job_parser(d, api_schedule_job_parser, a); /* (a schedule's runs) */
    a->store = s;
    waiters_init(&a->waiters);
    /* a read connection for each thread that reads: MHD's and the notify_url sender */
    if (store_read_ahead(s, (cfg->http_threads > 1 ? cfg->http_threads : 1) + 1) < 0) {
        free(a);
        return NULL;
    }
    if (api_access_init(a, cfg) < 0) {
        log_error("out of memory while starting the HTTP server");
        api_access_free(a);
        free(a);
        return NULL;
    }
    int fd = bind_listener(cfg, port);
    if (fd < 0 ||
        conns_start(&a->conns, cfg->head_timeout, cfg->body_timeout, cfg->max_connections) < 0) {
        if (fd >= 0) close(fd);
        api_access_free(a);
        free(a);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (cfg->tls_cert[0]) {
        a->tls_cert = read_file(cfg->tls_cert);
        a->tls_key = read_file(cfg->tls_key);
        if (!a->tls_cert || !a->tls_key) {
            log_error("cannot read --tls-cert %s / --tls-key %s: %s", cfg->tls_cert, cfg->tls_key,
                      strerror(errno));
            free(a->tls_cert);
            free(a->tls_key);
            close(fd);
            conns_stop(&a->conns);
            api_access_free(a);
            free(a);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls_options[] = {
        /* only with TLS: MHD warns about them otherwise */
        {a->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, a->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls_key},
        {MHD_OPTION_END, 0, NULL}};
    struct MHD_OptionItem pool_options[] = {
        /* one thread is MHD's own polling thread: a pool of size 0 or 1 only draws a warning */
        {cfg->http_threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
         (intptr_t)cfg->http_threads, NULL},
        {MHD_OPTION_END, 0, NULL}};
    a->daemon = MHD_start_daemon(
        flags, 0, accept_policy, a, access_handler, a, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_ARRAY, pool_options, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_NOTIFY_COMPLETED, request_completed, a,
        MHD_OPTION_NOTIFY_CONNECTION, conns_notify, &a->conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->max_conns_per_address, MHD_OPTION_UNESCAPE_CALLBACK, unescape_keep_nul, NULL,
        MHD_OPTION_ARRAY, tls_options, MHD_OPTION_END);
    if (!a->daemon) {
        log_error("starting the HTTP server failed%s",
                  a->tls_cert ? " (is the TLS certificate and key a valid PEM pair?)" : "");
        free(a->tls_cert);
        free(a->tls_key);
        close(fd);
        conns_stop(&a->conns);
        api_access_free(a);
        free(a);
        return NULL;
    }
    dispatch_on_finish(d, waiters_job_finished, &a->waiters);
    if (api_notify_start(a) < 0) {
        dispatch_on_finish(d, NULL, NULL);
        MHD_stop_daemon(a->daemon);
        conns_stop(&a->conns);
        api_access_free(a);
        free(a);
        return NULL;
    }
    return a;
}

static int64_t frontend_next_deadline(void *handle)
{
    struct api *a = handle;
    return waiters_expire(&a->waiters);
}

static void frontend_expire(void *handle)
{
    struct api *a = handle;
    waiters_expire(&a->waiters);
}

static void frontend_stop(void *handle)
{
    struct api *a = handle;
    dispatch_on_finish(a->dispatch, NULL, NULL);
    atomic_store(&a->stopping, true); /* no new connections (not MHD_quiesce_daemon: above) */
    waiters_stop(&a->waiters);
    /* give resumed long-polls a moment to get their answer out */
    int64_t until = clock_mono_ms() + 2000;
    while (clock_mono_ms() < until) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0) break;
        usleep(10000);
    }
    MHD_stop_daemon(a->daemon); /* (closes the listen socket too) */
    conns_stop(&a->conns);      /* after the daemon: closing connections still notify it */
    api_access_free(a);
    api_notify_stop(a); /* undelivered callbacks stay in SQLite for the next start */
    pthread_mutex_destroy(&a->waiters.lock);
    free(a->tls_cert);
    free(a->tls_key);
    free(a);
}

static void frontend_reload(void *handle, const struct config *fresh)
{
    struct api *a = handle;
    api_access_reload(a, fresh);
}

const struct serve_frontend api_frontend = {
    .start = frontend_start,
    .reload = frontend_reload,
    .next_deadline = frontend_next_deadline,
    .expire = frontend_expire,
    .stop = frontend_stop,
};
