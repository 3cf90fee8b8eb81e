/* notify: delivers notify_url callbacks. A thread of its own POSTs the final job (JSON) to
 * each due callback with libcurl (http and https only, no redirects, 10 s timeout), signed
 * with HMAC-SHA256 under --notify-secret-file, and retries a failure with backoff (1 s
 * doubling, at most 5 min, 10 attempts). Pending callbacks live in SQLite (`notifications`),
 * so a restart resumes them; every outcome is a job_events row. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "server/clock.h"
#include "server/log.h"
#include "server/sha256.h"

#define NOTIFY_POLL_MS 200
#define NOTIFY_ATTEMPTS 10

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* The signature headers of one delivery, as GitHub and Stripe sign theirs: the time it was
 * sent (unix seconds, so a receiver can refuse replays of old ones) and
 * "v1=" hex(HMAC-SHA256(secret, timestamp "." body)). */
static struct curl_slist *sign(const char *secret, const char *body, size_t len)
{
    char ts[32], line[128];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    struct hmac_sha256 h;
    uint8_t mac[SHA256_SIZE];
    char hex[2 * SHA256_SIZE + 1];
    hmac_sha256_init(&h, secret, strlen(secret));
    hmac_sha256_update(&h, ts, strlen(ts));
    hmac_sha256_update(&h, ".", 1);
    hmac_sha256_update(&h, body, len);
    hmac_sha256_final(&h, mac);
    sha256_hex(mac, hex);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(line, sizeof line, "Spawnpool-Timestamp: %s", ts);
    struct curl_slist *more = headers ? curl_slist_append(headers, line) : NULL;
    snprintf(line, sizeof line, "Spawnpool-Signature: v1=%s", hex);
    if (more) more = curl_slist_append(more, line);
    if (!more) curl_slist_free_all(headers);
    return more;
}

/* POSTs body to url, signed under secret; returns the HTTP status, or 0 with err set. */
static long post(const char *url, const char *secret, const char *body, size_t len, char *err,
                 size_t errlen)
{
    struct curl_slist *headers = sign(secret, body, len);
    CURL *curl = headers ? curl_easy_init() : NULL;
    if (!curl) {
        snprintf(err, errlen, "%s failed", headers ? "curl_easy_init" : "curl_slist_append");
        curl_slist_free_all(headers);
        return 0;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "spawnpool/" SPAWNPOOL_VERSION);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return status;
}

/* Records a delivery through the main loop (the only writer). If it cannot be recorded
 * (the store cannot commit, or the server stops), the callback stays due: it is delivered
 * again later (at least once). */
static void record(struct api *a, int64_t job_id, bool done, int64_t next_at, const char *detail)
{
    struct dispatch_cmd cmd = {.kind = DISPATCH_CMD_NOTIFY_RESULT,
                               .job_id = job_id,
                               .notify_done = done,
                               .notify_next_at = next_at,
                               .notify_detail = detail};
    dispatch_call(a->dispatch, &cmd);
}

static void deliver(struct api *a, const struct store_notification *n)
{
    struct job j;
    int64_t now = clock_wall_ms();
    if (store_get_job(a->store, n->job_id, &j, false) != 0) { /* gone: nothing to send */
        record(a, n->job_id, true, 0, "notify_url: the job is gone");
        return;
    }
    struct text t = {0};
    api_job_text(&t, &j);
    job_free(&j);
    char err[CURL_ERROR_SIZE + 64] = "", detail[400];
    long status =
        t.failed ? 0 : post(n->url, a->cfg->notify_secret, t.data, t.len, err, sizeof err);
    text_free(&t);
    int attempt = n->attempts + 1;
    if (status >= 200 && status < 300) {
        snprintf(detail, sizeof detail, "notify_url answered %ld (attempt %d)", status, attempt);
        record(a, n->job_id, true, 0, detail);
        return;
    }
    if (status) snprintf(err, sizeof err, "HTTP %ld", status);
    bool give_up = attempt >= NOTIFY_ATTEMPTS;
    int64_t delay = 1000;
    for (int i = 1; i < attempt && delay < 300000; i++)
        delay *= 2;
    if (delay > 300000) delay = 300000;
    snprintf(detail, sizeof detail, "notify_url failed (attempt %d of %d): %.200s%s", attempt,
             NOTIFY_ATTEMPTS, err, give_up ? "; giving up" : "");
    record(a, n->job_id, give_up, now + delay, detail);
}

static void *notify_main(void *arg)
{
    struct api *a = arg;
    pthread_mutex_lock(&a->notify_lock);
    while (!a->notify_stop) {
        pthread_mutex_unlock(&a->notify_lock);
        struct store_notification due[8];
        int n = store_notifications_due(a->store, clock_wall_ms(), due, 8);
        for (int i = 0; i < n; i++)
            deliver(a, &due[i]);
        pthread_mutex_lock(&a->notify_lock);
        if (n == 8) continue; /* more may be due */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += NOTIFY_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        if (!a->notify_stop) pthread_cond_timedwait(&a->notify_wake, &a->notify_lock, &until);
    }
    pthread_mutex_unlock(&a->notify_lock);
    return NULL;
}

int api_notify_start(struct api *a)
{
    pthread_mutex_init(&a->notify_lock, NULL);
    pthread_cond_init(&a->notify_wake, NULL);
    a->notify_stop = false;
    if (pthread_create(&a->notify_thread, NULL, notify_main, a) != 0) {
        log_error("pthread_create() failed while starting the notify_url sender");
        return -1;
    }
    return 0;
}

void api_notify_stop(struct api *a)
{
    pthread_mutex_lock(&a->notify_lock);
    a->notify_stop = true;
    pthread_cond_signal(&a->notify_wake);
    pthread_mutex_unlock(&a->notify_lock);
    pthread_join(a->notify_thread, NULL);
    pthread_cond_destroy(&a->notify_wake);
    pthread_mutex_destroy(&a->notify_lock);
    curl_global_cleanup();
}
