/* dashboard: the web page at / and its files at /ui/<name>, embedded from web/ at build
 * time (api/web_assets.h). Static and the same for everyone, so no token is needed to load
 * it; the page's own API calls carry the token. Every answer has a strict
 * Content-Security-Policy (no inline script or style, nothing from elsewhere), nosniff, and
 * an ETag: a matching If-None-Match gets 304. */
#include <string.h>

#include "api/internal.h"
#include "api/web_assets.h"

#define DASHBOARD_CSP                                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct web_asset *find_asset(const char *name)
{
    for (size_t i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].name, name) == 0) return &web_assets[i];
    return NULL;
}

/* True if an If-None-Match list ("a", W/"b", *) names etag. */
static bool etag_matches(const char *header, const char *etag)
{
    if (!header) return false;
    if (strcmp(header, "*") == 0) return true;
    size_t n = strlen(etag);
    for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag))
        if ((p[n] == '\0' || p[n] == ',' || p[n] == ' ') &&
            (p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/'))
            return true;
    return false;
}

/* The headers of w's answer; a 304 (no body) says no Content-Type. */
static void add_headers(struct MHD_Response *resp, const struct web_asset *w, bool body)
{
    if (body) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, w->type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, w->etag);
    /* revalidated on each load (the ETag makes that a 304): a new binary shows at once */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy", DASHBOARD_CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

enum MHD_Result api_dashboard(struct api *a, struct MHD_Connection *c, const char *method,
                              const char *url)
{
    (void)a;
    const char *name = strcmp(url, "/") == 0 ? "index.html" : url + strlen("/ui/");
    const struct web_asset *w = find_asset(name);
    if (!w || (strcmp(url, "/") != 0 && strcmp(name, "index.html") == 0)) {
        struct api_error e;
        api_fail(&e, 404, "not_found", NULL, "no dashboard file %.200s", url);
        return api_send_error(c, &e);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return api_send_not_allowed(c, "GET, HEAD");
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool fresh = etag_matches(inm, w->etag);
    struct MHD_Response *resp =
        fresh ? MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT)
              : MHD_create_response_from_buffer(w->len, (void *)w->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    add_headers(resp, w, !fresh);
    enum MHD_Result rc = api_queue_response(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}
