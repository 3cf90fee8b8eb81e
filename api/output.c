/* output: GET /v1/jobs/{id}/output. Without follow the capture file is sent from offset
 * (sendfile); with follow=1 the response streams new bytes until the job has ended,
 * suspending the connection (no thread held) whenever it has caught up, and goes on with
 * the next attempt's file when a retry replaced the one it read. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/internal.h"
#include "server/clock.h"

/* How often a follower caught up with a running job looks for new bytes. */
#define FOLLOW_POLL_MS 200

struct output_follow {
    struct api *api;
    int64_t job_id;
    char path[PATH_MAX + 32];
    int fd; /* -1 until the file exists */
    uint64_t offset;
    bool job_ended; /* seen terminal: one last read, then the end */
    struct waiter wait;
};

static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct output_follow *f = cls;
    for (;;) {
        if (f->fd < 0) f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (f->fd >= 0) {
            ssize_t n = pread(f->fd, buf, max, (off_t)f->offset);
            if (n > 0) {
                f->offset += (uint64_t)n;
                conns_count_bytes(f->wait.conn, (uint64_t)n);
                return n;
            }
            /* caught up with a file a retry removed: the next attempt writes a new one,
             * followed from its first byte (the stream shows each attempt in turn) */
            struct stat st;
            if (fstat(f->fd, &st) == 0 && st.st_nlink == 0) {
                close(f->fd);
                f->fd = -1;
                f->offset = 0;
                continue;
            }
        }
        if (f->job_ended) return MHD_CONTENT_READER_END_OF_STREAM;
        /* no lock across the read: see api/waiters.c for why no end is missed */
        struct waiters *ws = &f->api->waiters;
        uint64_t gen = waiters_generation(ws);
        bool changed;
        if (api_job_ended(f->api, f->job_id)) {
            f->job_ended = true; /* read once more: bytes written before it ended */
            continue;
        }
        f->wait.job_id = f->job_id;
        f->wait.deadline = clock_mono_ms() + FOLLOW_POLL_MS;
        if (!waiters_add(ws, &f->wait, gen, &changed)) { /* the server stops: the end */
            f->job_ended = true;
            continue;
        }
        if (changed && api_job_ended(f->api, f->job_id))
            waiters_resume_now(ws, &f->wait); /* it ended meanwhile: called again at once */
        else
            dispatch_wake(f->api->dispatch);
        return 0;
    }
}

static void follow_free(void *cls)
{
    struct output_follow *f = cls;
    waiters_forget(&f->api->waiters, &f->wait);
    api_long_poll_end(f->api);
    if (f->fd >= 0) close(f->fd);
    free(f);
}

enum MHD_Result api_jobs_output(struct api *a, struct request *r, struct MHD_Connection *c,
                                int64_t id)
{
    (void)r;
    static const char *const allowed[] = {"stream", "offset", "follow", NULL};
    struct api_error e;
    int64_t offset, follow;
    if (api_query_check(c, allowed, &e) < 0 ||
        api_query_int(c, "offset", 0, INT64_MAX, 0, &offset, &e) < 0 ||
        api_query_int(c, "follow", 0, 1, 0, &follow, &e) < 0)
        return api_send_error(c, &e);
    const char *stream = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "stream");
    if (!stream) stream = "stdout";
    if (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0) {
        api_fail(&e, 400, "invalid_argument", "stream",
                 "stream must be stdout or stderr, got '%.50s'", stream);
        return api_send_error(c, &e);
    }
    struct job j;
    int rc = store_get_job(a->store, id, &j, false);
    if (rc == 1) {
        api_fail(&e, 404, "not_found", "id", "no job %lld", (long long)id);
        return api_send_error(c, &e);
    }
    if (rc < 0) {
        api_fail(&e, 500, "internal", NULL, "reading the job failed (see the server log)");
        return api_send_error(c, &e);
    }
    job_free(&j);
    char path[PATH_MAX + 32];
    dispatch_output_path(a->dispatch, id, stream, path, sizeof path);
    struct MHD_Response *resp;
    if (follow) {
        if (!api_long_poll_begin(a, &e)) return api_send_retry_later(c, &e);
        struct output_follow *f = calloc(1, sizeof *f);
        if (!f) {
            api_long_poll_end(a);
            return MHD_NO;
        }
        f->api = a;
        f->job_id = id;
        f->fd = -1;
        f->offset = (uint64_t)offset;
        f->wait.conn = c;
        memcpy(f->path, path, sizeof f->path);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, follow_read, f,
                                                 follow_free);
        if (!resp) {
            follow_free(f);
            return MHD_NO;
        }
    } else {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT) { /* no file is no output yet; anything else is ours */
            api_fail(&e, 500, "internal", NULL, "opening the output of job %lld failed: %s",
                     (long long)id, strerror(errno));
            return api_send_error(c, &e);
        }
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)offset >= (uint64_t)st.st_size) {
            if (fd >= 0) close(fd);
            resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        } else {
            resp = MHD_create_response_from_fd_at_offset64((uint64_t)st.st_size - (uint64_t)offset,
                                                           fd, (uint64_t)offset);
            if (!resp)
                close(fd);
            else
                conns_count_bytes(c, (uint64_t)st.st_size - (uint64_t)offset);
        }
        if (!resp) return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    enum MHD_Result result = api_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return result;
}
