/* follow: a job's stdout and stderr live, each to its own descriptor, over two
 * output?follow=1 transfers driven by one curl multi loop (no threads). A dropped transfer
 * is started again from the byte it had reached, so a restart of the server or a proxy's
 * idle cut loses nothing and repeats nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"

/* Times a stream is reopened after a transfer failed before the client gives up (each
 * reconnect that delivers bytes or a clean end starts the count again). */
#define RETRIES 20

struct stream {
    struct cli *cli;
    const char *name; /* "stdout" or "stderr" */
    int fd;           /* where its bytes go */
    long long id;
    long long offset; /* bytes of the job's stream written so far */
    CURL *h;
    struct curl_slist *headers;
    char url[1280];
    long status;    /* of the current transfer, once its head came */
    bool done;      /* the job ended and every byte was written */
    int failures;   /* transfers in a row that ended badly */
    bool said_busy; /* "cannot stream now" was said */
    int write_errno;
    char errbuf[CURL_ERROR_SIZE];
    struct cli_resp err; /* an error answer's body (not output) */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userp)
{
    struct stream *s = userp;
    size_t n = size * nmemb;
    if (s->status == 0) curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status != 200) { /* keep an error's body for the message */
        return cli_resp_append(&s->err, data, n, 4096) ? n : 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(s->fd, data + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { /* (a non-blocking terminal or pipe: wait for room) */
                fd_set set;
                FD_ZERO(&set);
                FD_SET(s->fd, &set);
                select(s->fd + 1, NULL, &set, NULL, NULL);
                continue;
            }
            s->write_errno = errno; /* EPIPE: nobody reads us any more */
            return 0;
        }
        off += (size_t)w;
        s->offset += w;
        s->failures = 0;
    }
    return n;
}

static int start(CURLM *m, struct stream *s)
{
    if (s->h) {
        curl_multi_remove_handle(m, s->h);
        curl_easy_cleanup(s->h);
    }
    if (!(s->h = cli_curl_new(s->cli))) return -1;
    snprintf(s->url, sizeof s->url, "%s/v1/jobs/%lld/output?stream=%s&offset=%lld&follow=1",
             s->cli->server, s->id, s->name, s->offset);
    s->status = 0;
    s->errbuf[0] = '\0';
    cli_resp_free(&s->err);
    curl_easy_setopt(s->h, CURLOPT_URL, s->url);
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    /* a live job may print nothing for hours: no transfer timeout, but TCP keep-alive finds a
     * server that went away without a word */
    curl_easy_setopt(s->h, CURLOPT_TCP_KEEPALIVE, 1L);
    return curl_multi_add_handle(m, s->h) == CURLM_OK ? 0 : -1;
}

/* True if the server says s's job has ended (false too when it cannot be asked now). */
static bool job_ended(struct stream *s)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/jobs/%lld", s->id);
    struct cli_resp r;
    bool ended = cli_request(s->cli, "GET", path, NULL, &r) == CLI_OK && r.status == 200 &&
                 cli_job_ended(r.json);
    /* (a job deleted meanwhile has ended too: nothing more will come) */
    if (r.status == 404) ended = true;
    cli_resp_free(&r);
    return ended;
}

/* The job ended while s could not follow it: its output from s->offset, read at once. */
static int read_rest(struct stream *s)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%lld/output?stream=%s&offset=%lld", s->id, s->name,
             s->offset);
    struct cli_resp r;
    char what[64];
    snprintf(what, sizeof what, "job %lld's %s", s->id, s->name);
    int rc = cli_call(s->cli, "GET", path, NULL, &r, what);
    if (rc) return rc;
    for (size_t off = 0; off < r.len;) {
        ssize_t w = write(s->fd, r.body + off, r.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            rc = errno == EPIPE ? 128 + SIGPIPE : CLI_FAILED;
            break;
        }
        off += (size_t)w;
        s->offset += w;
    }
    cli_resp_free(&r);
    s->done = rc == CLI_OK;
    return rc;
}

/* A transfer of s ended with result: done, retried, or the exit status (said). */
static int ended(CURLM *m, struct stream *s, CURLcode result)
{
    if (result == CURLE_WRITE_ERROR && s->write_errno) {
        if (s->write_errno == EPIPE) return 128 + SIGPIPE; /* as a local writer would die */
        fprintf(stderr, "spawnpool: writing the job's %s: %s\n", s->name, strerror(s->write_errno));
        return CLI_FAILED;
    }
    if (result == CURLE_OK && s->status == 200) {
        /* the server ends a follow when the job ended, but also when it stops (a drain, a
         * restart): only the job's state tells them apart */
        if (job_ended(s)) {
            s->done = true;
            return CLI_OK;
        }
        if (++s->failures > RETRIES) {
            fprintf(stderr,
                    "spawnpool: following job %lld's %s: the server keeps ending the "
                    "stream while the job runs\n",
                    s->id, s->name);
            return CLI_SERVER_ERROR;
        }
        usleep(100000U * (unsigned)(s->failures < 10 ? s->failures : 10));
        return start(m, s) == 0 ? CLI_OK : CLI_UNREACHABLE;
    }
    if (result == CURLE_OK && (s->status == 503 || s->status == 429)) {
        /* the server has no long-poll slot now (--max-long-polls), or drains: said once;
         * tried again each second while the job runs; once it ended, the rest is read at
         * once */
        if (!s->said_busy) {
            fprintf(stderr,
                    "spawnpool: the server cannot stream job %lld's %s now (%ld); "
                    "trying again each second\n",
                    s->id, s->name, s->status);
            s->said_busy = true;
        }
        if (job_ended(s)) return read_rest(s);
        sleep(1);
        return start(m, s) == 0 ? CLI_OK : CLI_UNREACHABLE;
    }
    if (result == CURLE_OK) { /* an answer, not output: the API's error */
        s->err.status = s->status;
        s->err.json = s->err.body ? json_loadb(s->err.body, s->err.len, 0, NULL) : NULL;
        char what[64];
        snprintf(what, sizeof what, "job %lld's %s", s->id, s->name);
        return cli_check(s->cli, &s->err, what);
    }
    /* a connection that was answered and then dropped (a proxy's idle cut) starts the
     * count again: only failures in a row without any answer give up */
    if (s->status == 200) s->failures = 0;
    if (++s->failures > RETRIES) {
        fprintf(stderr,
                "spawnpool: following job %lld's %s: %s (is the server running? tried "
                "%s)\n",
                s->id, s->name, s->errbuf[0] ? s->errbuf : curl_easy_strerror(result),
                s->cli->server);
        return CLI_UNREACHABLE;
    }
    /* (a dropped connection: the server restarted, or a proxy cut an idle one) */
    usleep(100000U * (unsigned)(s->failures < 10 ? s->failures : 10));
    return start(m, s) == 0 ? CLI_OK : CLI_UNREACHABLE;
}

int cli_follow(struct cli *c, long long id, int out_fd, int err_fd, long long offset_out,
               long long offset_err, int wake_fd, int (*on_wake)(void *ctx), void *ctx)
{
    struct stream streams[2] = {
        {.cli = c,
         .name = "stdout",
         .fd = out_fd,
         .id = id,
         .offset = offset_out,
         .done = out_fd < 0},
        {.cli = c,
         .name = "stderr",
         .fd = err_fd,
         .id = id,
         .offset = offset_err,
         .done = err_fd < 0},
    };
    CURLM *m = curl_multi_init();
    if (!m) return CLI_RUN_ERROR;
    int rc = CLI_OK;
    for (int i = 0; i < 2 && rc == CLI_OK; i++) {
        streams[i].headers = cli_auth_header(c);
        if (!streams[i].done && start(m, &streams[i]) < 0) rc = CLI_RUN_ERROR;
    }
    while (rc == CLI_OK && !(streams[0].done && streams[1].done)) {
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while (rc == CLI_OK && (msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct stream *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            if (s->status == 0) curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
            rc = ended(m, s, msg->data.result);
        }
        if (rc != CLI_OK || (streams[0].done && streams[1].done)) break;
        struct curl_waitfd extra = {.fd = wake_fd, .events = CURL_WAIT_POLLIN};
        int ready = 0;
        curl_multi_poll(m, wake_fd >= 0 ? &extra : NULL, wake_fd >= 0 ? 1 : 0, 1000, &ready);
        if (wake_fd >= 0 && (extra.revents & CURL_WAIT_POLLIN) && on_wake) rc = on_wake(ctx);
    }
    for (int i = 0; i < 2; i++) {
        if (streams[i].h) {
            curl_multi_remove_handle(m, streams[i].h);
            curl_easy_cleanup(streams[i].h);
        }
        curl_slist_free_all(streams[i].headers);
        cli_resp_free(&streams[i].err);
    }
    curl_multi_cleanup(m);
    return rc;
}
