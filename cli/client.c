/* client: the client's HTTP, through libcurl: one keep-alive handle for request/answer
 * calls, the error shape of the API turned into a message and an exit status. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"

#define USER_AGENT "spawnpool-cli/" SPAWNPOOL_VERSION

/* Reads a token file as the server reads its own: the first line that is not blank or a
 * # comment, spaces around it cut. */
static char *read_token(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "spawnpool: cannot read the token file %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char line[1024];
    char *token = NULL;
    while (!token && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strcspn(p, "\r\n");
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *end = '\0';
        if (*p && *p != '#') token = strdup(p);
    }
    bool failed = ferror(f);
    fclose(f);
    if (!token)
        fprintf(stderr, "spawnpool: the token file %s %s\n", path,
                failed ? "cannot be read (is it a directory?)" : "holds no token");
    return token;
}

int cli_setup(struct cli *c, const char *server, const char *token_file, const char *cacert)
{
    if (server && !*server) {
        fprintf(stderr, "spawnpool: --server is empty\n");
        return CLI_USAGE;
    }
    if (!server) server = getenv("SPAWNPOOL_URL");
    if (!server || !*server) server = CLI_DEFAULT_URL;
    if (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0) {
        fprintf(stderr, "spawnpool: --server must be an http:// or https:// URL, got '%s'\n",
                server);
        return CLI_USAGE;
    }
    if (strlen(server) >= sizeof c->server) {
        fprintf(stderr, "spawnpool: --server is too long\n");
        return CLI_USAGE;
    }
    snprintf(c->server, sizeof c->server, "%s", server);
    for (size_t n = strlen(c->server); n > 0 && c->server[n - 1] == '/'; n--)
        c->server[n - 1] = '\0';
    c->cacert = cacert && *cacert ? cacert : NULL;
    const char *env_token = getenv("SPAWNPOOL_TOKEN");
    if (!token_file && (!env_token || !*env_token)) token_file = getenv("SPAWNPOOL_TOKEN_FILE");
    if (token_file && *token_file) {
        if (!(c->token = read_token(token_file))) return CLI_USAGE;
    } else if (env_token && *env_token) {
        c->token = strdup(env_token);
    }
    return CLI_OK;
}

void cli_close(struct cli *c)
{
    if (c->curl) curl_easy_cleanup(c->curl);
    c->curl = NULL;
    free(c->token);
    c->token = NULL;
}

struct curl_slist *cli_auth_header(const struct cli *c)
{
    if (!c->token) return NULL;
    size_t n = strlen(c->token) + 32;
    char *h = malloc(n);
    if (!h) return NULL;
    snprintf(h, n, "Authorization: Bearer %s", c->token);
    struct curl_slist *l = curl_slist_append(NULL, h);
    free(h);
    return l;
}

void *cli_curl_new(const struct cli *c)
{
    CURL *h = curl_easy_init();
    if (!h) return NULL;
    curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    /* large JSON answers (a list page) come gzipped: about twenty times fewer bytes */
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (c->cacert) curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    /* a proxy from the environment would see every job; the API is reached directly */
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    return h;
}

bool cli_resp_append(struct cli_resp *r, const char *data, size_t n, size_t cap)
{
    if (r->len >= cap) return true; /* (enough of it kept) */
    char *grown = realloc(r->body, r->len + n + 1);
    if (!grown) return false;
    r->body = grown;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return true;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
    return cli_resp_append(userp, data, size * nmemb, SIZE_MAX) ? size * nmemb : 0;
}

/* Seconds a request may take in all: a long-poll's own timeout (its query says) and 30 s
 * more, else 60 s. A server that accepts and never answers cannot hang the client. */
static long request_timeout(const char *path)
{
    const char *q = strchr(path, '?');
    const char *t = q ? strstr(q, "timeout=") : NULL;
    double poll = t ? strtod(t + 8, NULL) : 0;
    return poll > 0 && poll < 86400 ? (long)poll + 30 : 60;
}

struct interrupt_watch {
    volatile sig_atomic_t *counter; /* the signal count of c->interrupt, or NULL */
    sig_atomic_t at_start;
};

/* libcurl's progress callback: a signal since the request began aborts it. */
static int interrupted(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const struct interrupt_watch *w = p;
    return w->counter && *w->counter != w->at_start;
}

int cli_request(struct cli *c, const char *method, const char *path, json_t *body,
                struct cli_resp *r)
{
    memset(r, 0, sizeof *r);
    if (!c->curl && !(c->curl = cli_curl_new(c))) {
        snprintf(r->error, sizeof r->error, "cannot make a libcurl handle");
        return CLI_UNREACHABLE;
    }
    CURL *h = c->curl;
    size_t ulen = strlen(c->server) + strlen(path) + 1;
    char *url = malloc(ulen);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!url || (body && !payload)) {
        free(url);
        free(payload);
        snprintf(r->error, sizeof r->error, "out of memory");
        return CLI_UNREACHABLE;
    }
    snprintf(url, ulen, "%s%s", c->server, path);
    struct curl_slist *headers = cli_auth_header(c);
    if (payload) headers = curl_slist_append(headers, "Content-Type: application/json");
    /* no 100-continue round trip for a small body; a large one waits for it, so a 413 comes
     * before the upload */
    if (!payload || strlen(payload) < 1024 * 1024) headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        /* back to a request without a body whatever the method: a POST before on this
         * handle leaves it in POST mode, and a DELETE then went out with a form
         * Content-Type (refused 415). HTTPGET clears NOBODY, so that is set again after. */
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, request_timeout(path));
    struct interrupt_watch watch = {c->interrupt, c->interrupt ? *c->interrupt : 0};
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, interrupted);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &watch);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, c->interrupt ? 0L : 1L);
    if (c->verbose) fprintf(stderr, "> %s %s\n", method, url);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    free(payload);
    if (rc != CURLE_OK) {
        snprintf(r->error, sizeof r->error, "%s",
                 rc == CURLE_ABORTED_BY_CALLBACK ? "interrupted"
                 : errbuf[0]                     ? errbuf
                                                 : curl_easy_strerror(rc));
        free(url);
        return CLI_UNREACHABLE;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (c->verbose) fprintf(stderr, "< %ld (%zu bytes)\n", r->status, r->len);
    free(url);
    if (r->body) r->json = json_loadb(r->body, r->len, 0, NULL);
    return CLI_OK;
}

int cli_check(const struct cli *c, const struct cli_resp *r, const char *what)
{
    if (r->status >= 200 && r->status < 300) return CLI_OK;
    if (r->status == 0) {
        fprintf(stderr, "spawnpool: %s: %s (is the server running? tried %s)\n", what, r->error,
                c->server);
        return CLI_UNREACHABLE;
    }
    json_t *e = json_object_get(r->json, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *field = json_string_value(json_object_get(e, "field"));
    const char *code = json_string_value(json_object_get(e, "code"));
    if (msg)
        fprintf(stderr, "spawnpool: %s: %s%s%s%s [%ld %s]\n", what, msg, field ? " (field: " : "",
                field ? field : "", field ? ")" : "", r->status, code ? code : "");
    else
        fprintf(stderr, "spawnpool: %s: the server answered %ld%s%.200s\n", what, r->status,
                r->len ? ": " : "", r->len ? r->body : "");
    if (r->status == 401 && !c->token)
        fprintf(stderr, "spawnpool: the server wants a token: --token-file FILE, or "
                        "SPAWNPOOL_TOKEN / SPAWNPOOL_TOKEN_FILE\n");
    if (r->status == 404) return CLI_NOT_FOUND;
    if (r->status == 401 || r->status == 403) return CLI_AUTH;
    return CLI_SERVER_ERROR;
}

int cli_call(struct cli *c, const char *method, const char *path, json_t *body, struct cli_resp *r,
             const char *what)
{
    cli_request(c, method, path, body, r);
    int rc = cli_check(c, r, what);
    if (rc != CLI_OK) cli_resp_free(r);
    return rc;
}

void cli_resp_free(struct cli_resp *r)
{
    free(r->body);
    json_decref(r->json);
    r->body = NULL;
    r->json = NULL;
    r->len = 0;
}

void cli_print_body(const struct cli_resp *r)
{
    if (!r->len) return;
    fwrite(r->body, 1, r->len, stdout);
    if (r->body[r->len - 1] != '\n') putchar('\n');
}

char *cli_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out) return NULL;
    char *p = out;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
            *q == '-' || *q == '_' || *q == '.' || *q == '~') {
            *p++ = (char)*q;
        } else {
            *p++ = '%';
            *p++ = hex[*q >> 4];
            *p++ = hex[*q & 15];
        }
    }
    *p = '\0';
    return out;
}
