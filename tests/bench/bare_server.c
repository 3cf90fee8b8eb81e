/* bare_server: the ceiling the benchmark compares spawnpool's request path with. A bare
 * libmicrohttpd server set up like spawnpool's front end (internal polling thread + epoll,
 * a thread pool, answering on the handler's second call) doing only the essential work:
 *
 *   GET  /v1/jobs/{id}   200, a static job JSON of about 600 bytes
 *   POST /v1/jobs        the body parsed with jansson (an object with a non-empty "argv"
 *                        array of strings), one INSERT through a prepared statement on one
 *                        SQLite connection behind a mutex (WAL, synchronous=NORMAL or FULL),
 *                        201 {"id": N, "state": "queued"}
 *
 * Usage: bare_server [--listen HOST:PORT] [--db FILE] [--sync normal|full] [--threads N]
 * Prints "bare_server: listening on http://HOST:PORT" as its first stdout line; SIGTERM or
 * SIGINT stops it (exit 0). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char JOB_JSON[] =
    "{\"id\":1,\"name\":\"nightly-build\",\"queue\":\"default\",\"priority\":0,"
    "\"argv\":[\"/usr/bin/make\",\"-C\",\"/srv/build/project\",\"-j2\",\"all\"],"
    "\"cwd\":\"/srv/build\",\"env\":{\"LANG\":\"C.UTF-8\",\"BUILD_ID\":\"20261127-1\"},"
    "\"timeout\":3600,\"state\":\"succeeded\",\"exit_code\":0,\"signal\":null,"
    "\"error\":null,\"pid\":16767,\"worker\":1,\"attempt\":1,\"max_attempts\":1,"
    "\"created_at\":\"2026-11-27T13:56:27.596Z\",\"started_at\":\"2026-11-27T13:56:27.599Z\","
    "\"finished_at\":\"2026-11-27T13:56:27.601Z\",\"output\":{\"stdout_bytes\":1048,"
    "\"stderr_bytes\":0,\"truncated\":false},\"user_us\":1200,\"system_us\":800,"
    "\"maxrss_kb\":1536,\"note\":\"a static body of about the size of a real job\"}\n";

static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *db;
static sqlite3_stmt *insert_stmt;

struct request {
    char *body;
    size_t len;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)text, mode);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result reply_const(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply(c, status, text, strlen(text), MHD_RESPMEM_PERSISTENT);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result submit(struct MHD_Connection *c, const struct request *r)
{
    json_error_t err;
    json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &err);
    if (!j) return reply_const(c, 400, "{\"error\":{\"code\":\"invalid_json\"}}\n");
    json_t *argv = json_object_get(j, "argv");
    size_t n = json_array_size(argv);
    if (!json_is_object(j) || n == 0) {
        json_decref(j);
        return reply_const(c, 400,
                           "{\"error\":{\"code\":\"invalid_argument\",\"field\":\"argv\"}}\n");
    }
    /* argv as NUL-separated strings back to back, as spawnpool stores it */
    char blob[4096];
    size_t blen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(argv, i));
        size_t sl = s ? strlen(s) + 1 : 0;
        if (!s || blen + sl > sizeof blob) {
            json_decref(j);
            return reply_const(c, 400,
                               "{\"error\":{\"code\":\"invalid_argument\",\"field\":\"argv\"}}\n");
        }
        memcpy(blob + blen, s, sl);
        blen += sl;
    }
    json_decref(j);

    pthread_mutex_lock(&db_lock);
    sqlite3_bind_blob(insert_stmt, 1, blob, (int)blen, SQLITE_TRANSIENT);
    sqlite3_bind_int64(insert_stmt, 2, now_ms());
    int rc = sqlite3_step(insert_stmt);
    sqlite3_int64 id = sqlite3_last_insert_rowid(db);
    sqlite3_reset(insert_stmt);
    pthread_mutex_unlock(&db_lock);
    if (rc != SQLITE_DONE) return reply_const(c, 500, "{\"error\":{\"code\":\"internal\"}}\n");

    char *out = malloc(64);
    if (!out) return MHD_NO;
    int len = snprintf(out, 64, "{\"id\":%lld,\"state\":\"queued\"}\n", (long long)id);
    return reply(c, 201, out, (size_t)len, MHD_RESPMEM_MUST_FREE);
}

static bool is_job_path(const char *url)
{
    const char *p = "/v1/jobs/";
    if (strncmp(url, p, strlen(p)) != 0) return false;
    url += strlen(p);
    if (!*url) return false;
    for (; *url; url++)
        if (*url < '0' || *url > '9') return false;
    return true;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct request *r = *con_cls;
    if (!r) { /* first call: headers only (answering here is slower in MHD, as in spawnpool) */
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->len + n > (1u << 20)) return MHD_NO;
        char *grown = realloc(r->body, r->len + n + 1);
        if (!grown) return MHD_NO;
        memcpy(grown + r->len, upload_data, n);
        r->body = grown;
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (!strcmp(method, "GET") && is_job_path(url))
        return reply(c, 200, JOB_JSON, sizeof JOB_JSON - 1, MHD_RESPMEM_PERSISTENT);
    if (!strcmp(method, "POST") && !strcmp(url, "/v1/jobs")) return submit(c, r);
    return reply_const(c, 404, "{\"error\":{\"code\":\"not_found\"}}\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct request *r = *con_cls;
    if (!r) return;
    free(r->body);
    free(r);
    *con_cls = NULL;
}

static void open_db(const char *path, const char *sync)
{
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "bare_server: %s: %s\n", path, sqlite3_errmsg(db));
        exit(1);
    }
    char sql[1024];
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA busy_timeout = 5000;"
             "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
             " argv BLOB NOT NULL, cwd TEXT NOT NULL DEFAULT '/', state TEXT NOT NULL,"
             " created_at INTEGER NOT NULL);"
             "CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, id);",
             !strcmp(sync, "full") ? "FULL" : "NORMAL");
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bare_server: schema: %s\n", msg);
        exit(1);
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO jobs (argv, state, created_at) VALUES (?1, 'queued', ?2)",
                           -1, &insert_stmt, NULL) != SQLITE_OK) {
        fprintf(stderr, "bare_server: prepare: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:0", *dbpath = "bare.db", *sync = "normal";
    unsigned threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--listen"))
            listen_at = argv[i + 1];
        else if (!strcmp(argv[i], "--db"))
            dbpath = argv[i + 1];
        else if (!strcmp(argv[i], "--sync"))
            sync = argv[i + 1];
        else if (!strcmp(argv[i], "--threads"))
            threads = (unsigned)atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bare_server [--listen HOST:PORT] [--db FILE] "
                            "[--sync normal|full] [--threads N]\n");
            return 2;
        }
    }
    if (argc % 2 == 0) {
        fprintf(stderr, "bare_server: missing value for %s\n", argv[argc - 1]);
        return 2;
    }
    open_db(dbpath, sync);

    char host[64];
    const char *colon = strrchr(listen_at, ':');
    snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - listen_at) : 0, listen_at);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(colon ? colon + 1 : "0"))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "bare_server: --listen takes IPv4:PORT\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
        perror("bare_server: listen");
        return 1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);

    /* the MHD threads inherit this mask; the main thread takes the signals with sigwait */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler,
        NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bare_server: MHD_start_daemon failed\n");
        return 1;
    }
    printf("bare_server: listening on http://%s:%d\n", host, ntohs(sa.sin_port));
    fflush(stdout);

    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    close(fd);
    sqlite3_finalize(insert_stmt);
    sqlite3_close(db);
    return 0;
}
