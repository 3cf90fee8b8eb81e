/* guard: what a request's head must pass before it touches anything, checked on the
 * handler's first call (so a refused body is never read): unambiguous framing, a Host that
 * names this server (DNS rebinding), no page of a foreign origin (the browser on the same
 * machine is not a trusted client), the token, a JSON Content-Type on bodies (no
 * cross-site "simple request" carries one), and the body size. CORS for allowed origins. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "server/clock.h"
#include "server/log.h"

#define CORS_METHODS "GET, HEAD, POST, PATCH, DELETE"
#define CORS_HEADERS "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
#define API_CSP "sandbox; default-src 'none'; frame-ancestors 'none'"
#define CORS_EXPOSE "Location, Retry-After, WWW-Authenticate"

enum MHD_Result api_queue_response(struct MHD_Connection *c, unsigned status,
                                   struct MHD_Response *resp)
{
    if (conns_cors(c)) {
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        if (origin) {
            MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
            MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE);
        }
    }
    /* the answer depends on Origin: a cache must not hand one origin's answer to another */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    /* an API answer on the dashboard's origin (a job's output is anyone's bytes) is never
     * sniffed or run as a page there, where a script could read the page's token; the
     * dashboard's files carry their own policy (api/dashboard.c) */
    if (!MHD_get_response_header(resp, "Content-Security-Policy")) {
        MHD_add_response_header(resp, "Content-Security-Policy", API_CSP);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    }
    conns_note_answer(c, status); /* for the access log */
    return MHD_queue_response(c, status, resp);
}

/* Sends an error and closes the connection: what follows the head cannot be trusted (or is
 * a body we will not read). */
static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *code,
                              const char *field, const char *hname, const char *hvalue,
                              const char *message)
{
    struct api_error e;
    api_fail(&e, status, code, field, "%s", message);
    return api_send_error_and_close(c, &e, hname, hvalue);
}

/* Refuses a request the guard stops (counted by reason for /metrics) and logs it, at most
 * once per 10 s per reason: an operator whose own page is refused learns why and what to
 * set, and a flood of refusals is one line. message may hold client text: sanitized. */
static enum MHD_Result refuse_counted(struct api *a, struct MHD_Connection *c,
                                      enum guard_refusal reason, unsigned status, const char *code,
                                      const char *field, char *message)
{
    static atomic_int_fast64_t last_logged[4];
    api_utf8_sanitize(message, true);
    atomic_fetch_add(&a->refused[reason], 1);
    int64_t now = clock_mono_ms(), last = atomic_load(&last_logged[reason]);
    if ((!last || now - last >= 10000) &&
        atomic_compare_exchange_strong(&last_logged[reason], &last, now))
        log_warn("refused a request with %u: %s (one such line per 10 s at most; "
                 "spawnpool_http_refused_total counts them all)",
                 status, message);
    return refuse(c, status, code, field, NULL, NULL, message);
}

struct framing {
    int content_length, transfer_encoding;
    bool other_coding; /* a Transfer-Encoding that is not just "chunked" */
    bool spaced_name;  /* whitespace in a header name ("Content-Length : 5") */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) f->content_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        f->other_coding |= !value || strcasecmp(value, "chunked") != 0;
    }
    /* MHD keeps such a name as it came; a proxy in front may read it as the header */
    f->spaced_name |= key[strcspn(key, " \t")] != '\0';
    return MHD_YES;
}

/* "application/json", any case, with or without parameters ("; charset=utf-8"). */
static bool is_json(const char *type)
{
    if (!type) return false;
    while (*type == ' ' || *type == '\t')
        type++;
    size_t n = strlen("application/json");
    if (strncasecmp(type, "application/json", n) != 0) return false;
    type += n;
    while (*type == ' ' || *type == '\t')
        type++;
    return *type == '\0' || *type == ';';
}

/* 204 to a CORS preflight of an allowed origin (or to a plain OPTIONS: the methods). */
static enum MHD_Result answer_options(struct MHD_Connection *c, bool from_browser)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    if (from_browser) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", CORS_METHODS);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", CORS_HEADERS);
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
        /* Chrome's Private Network Access: a public page asking for a local server */
        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                        "Access-Control-Request-Private-Network"))
            MHD_add_response_header(resp, "Access-Control-Allow-Private-Network", "true");
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, CORS_METHODS ", OPTIONS");
    enum MHD_Result rc = api_queue_response(c, 204, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result api_guard_head(struct api *a, struct MHD_Connection *c, const char *url,
                               const char *method, bool *answered, bool *has_body)
{
    *answered = true;
    *has_body = false;
    char msg[400];
    struct framing f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1 || (f.content_length && f.transfer_encoding) || f.spaced_name) {
        snprintf(msg, sizeof msg, "%s",
                 f.spaced_name ? "whitespace in a header name: the header is ambiguous (RFC "
                                 "9112 section 5.1)"
                 : f.content_length > 1
                     ? "more than one Content-Length header: the body's length is ambiguous "
                       "(RFC 9112 section 6.3)"
                     : "Content-Length together with Transfer-Encoding: the body's length is "
                       "ambiguous (RFC 9112 section 6.3)");
        return refuse_counted(a, c, GUARD_FRAMING, 400, "invalid_request", NULL, msg);
    }
    if (f.other_coding || f.transfer_encoding > 1) {
        snprintf(msg, sizeof msg, "%s",
                 "this server takes request bodies only as Content-Length or a single "
                 "Transfer-Encoding: chunked");
        return refuse_counted(a, c, GUARD_FRAMING, 501, "not_implemented", NULL, msg);
    }
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!api_access_host_ok(a, host)) {
        snprintf(msg, sizeof msg,
                 "Host '%.200s' is not a name of this server (a guard against DNS rebinding); "
                 "if clients reach it by that name, start it with --allow-host NAME",
                 host);
        return refuse_counted(a, c, GUARD_HOST, 421, "misdirected_request", NULL, msg);
    }
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (origin && !api_access_origin_ok(a, origin, host)) {
        snprintf(msg, sizeof msg,
                 "pages of origin '%.200s' may not call this API (allow one with --allow-origin "
                 "ORIGIN)",
                 origin);
        return refuse_counted(a, c, GUARD_ORIGIN, 403, "forbidden", NULL, msg);
    }
    if (!origin && site &&
        (strcasecmp(site, "cross-site") == 0 || strcasecmp(site, "same-site") == 0)) {
        snprintf(msg, sizeof msg,
                 "a request made by another site's page (Sec-Fetch-Site: %.20s without Origin: a "
                 "link, an image, a form) is refused",
                 site);
        return refuse_counted(a, c, GUARD_ORIGIN, 403, "forbidden", NULL, msg);
    }
    conns_set_cors(c, origin != NULL);
    if (strcmp(method, "OPTIONS") == 0) return answer_options(c, origin != NULL);
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!api_access_authorized(a, url, auth))
        return refuse(c, 401, "unauthorized", NULL, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer",
                      "this server needs Authorization: Bearer <token> (see --token-file)");
    const char *length =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uintmax_t declared = length ? strtoumax(length, NULL, 10) : 0;
    if (declared > 0 || f.transfer_encoding) {
        const char *type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!is_json(type)) {
            snprintf(msg, sizeof msg,
                     "a request body must be sent with Content-Type: application/json (curl: "
                     "--json BODY, or -H 'Content-Type: application/json'); got '%.100s'",
                     type ? type : "none");
            return refuse_counted(a, c, GUARD_MEDIA_TYPE, 415, "unsupported_media_type",
                                  "Content-Type", msg);
        }
    }
    /* with Expect: 100-continue the client waits for a word before it sends the body: 413
     * now, and it never sends it. Without, it is sending already; answered now, its upload
     * would meet a reset that can take the answer with it: the body is read and dropped
     * (bounded by --body-timeout) and 413 comes after it (api/http.c) */
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (declared > (uintmax_t)a->cfg->max_body && expect &&
        strcasecmp(expect, "100-continue") == 0) {
        snprintf(msg, sizeof msg,
                 "the request body is over the limit of %" PRId64 " bytes (--max-body)",
                 a->cfg->max_body);
        return refuse(c, 413, "payload_too_large", NULL, NULL, NULL, msg);
    }
    *answered = false;
    *has_body = declared > 0 || f.transfer_encoding;
    return MHD_YES;
}
