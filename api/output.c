/* output: GET /v1/jobs/{id}/output. Without follow the capture file is sent from offset
 * (sendfile); with follow=1 the response streams new bytes until the job has ended,
 * suspending the connection (no thread held) whenever it has caught up, and goes on with
 * the next attempt's file when a retry replaced the one it read. On PostgreSQL a job this
 * node has no file of (another node runs or ran it) is read from the database's chunks
 * instead (api/output_chunks.c), with the same answers; a follower that finds no file here
 * looks there too, and follows the chunks once another node has the job. */
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
/* A follower of the chunks of an attempt that has ended without its end mark (its node died,
 * or has not shipped the rest yet) stops waiting after this long without a new byte. */
#define CHUNKS_QUIET_MS 3000

struct output_follow {
    struct api *api;
    int64_t job_id;
    char path[PATH_MAX + 32];
    int fd; /* -1 until the file exists */
    bool had_file;
    uint64_t offset;
    bool job_ended; /* seen terminal: one last read, then the end */
    bool chunks;    /* reading the database's chunks (cc), not the file */
    struct chunk_cursor cc;
    int64_t quiet_at; /* monotonic ms: the attempt read has ended, nothing came since; 0: not */
    struct waiter wait;
};

/* Suspends the follower until the job ends or FOLLOW_POLL_MS pass; false if the server stops
 * (the end). */
static bool follow_wait(struct output_follow *f)
{
    /* no lock across the read: see api/waiters.c for why no end is missed */
    struct waiters *ws = &f->api->waiters;
    uint64_t gen = waiters_generation(ws);
    bool changed;
    f->wait.job_id = f->job_id;
    f->wait.deadline = clock_mono_ms() + FOLLOW_POLL_MS;
    if (!waiters_add(ws, &f->wait, gen, &changed)) return false;
    if (changed && api_job_ended(f->api, f->job_id))
        waiters_resume_now(ws, &f->wait); /* it ended meanwhile: called again at once */
    else
        dispatch_wake(f->api->dispatch);
    return true;
}

/* True once the attempt read has shown nothing new for CHUNKS_QUIET_MS since it ended. */
static bool chunks_quiet(struct output_follow *f)
{
    int64_t now = clock_mono_ms();
    if (!f->quiet_at) f->quiet_at = now;
    return now - f->quiet_at >= CHUNKS_QUIET_MS;
}

/* What the follower of the chunks does next, from the job's row: 1 read again (an attempt
 * to read was chosen), 0 wait, -1 the end. */
static int chunks_next(struct output_follow *f, const struct job *j)
{
    struct chunk_cursor *c = &f->cc;
    int started = output_started_attempt(j);
    if (c->attempt == 0) {
        if (started > 0) {
            c->attempt = started;
            return 1;
        }
        return job_state_terminal(j->state) ? -1 : 0; /* (ended without running) */
    }
    if (started > c->attempt) { /* a retry runs: after this attempt's last byte, the next */
        if (!c->complete && !chunks_quiet(f)) return 0;
        chunk_cursor_free(c);
        *c = (struct chunk_cursor){
            .job_id = f->job_id, .stream = c->stream, .attempt = started, .offset = 0};
        f->quiet_at = 0;
        return 1;
    }
    if (!job_state_terminal(j->state)) return 0;
    /* it has ended: every byte up to its recorded size, and its end mark (which a dead
     * node never stores, nor the sizes of a job it lost) */
    int64_t recorded = strcmp(c->stream, "stdout") == 0 ? j->stdout_bytes : j->stderr_bytes;
    if (c->complete || (recorded > 0 && c->offset >= (uint64_t)recorded)) return -1;
    return chunks_quiet(f) ? -1 : 0;
}

static ssize_t chunks_read(struct output_follow *f, char *buf, size_t max)
{
    for (;;) {
        if (f->cc.attempt > 0) {
            ssize_t n = chunk_cursor_read(f->api, &f->cc, buf, max);
            if (n > 0) {
                f->quiet_at = 0;
                conns_count_bytes(f->wait.conn, (uint64_t)n);
                return n;
            }
            /* (a database error reads as nothing new: looked at again at the next poll) */
        }
        struct job j;
        int rc = store_get_job(f->api->store, f->job_id, &j, false);
        if (rc == 1) return MHD_CONTENT_READER_END_OF_STREAM; /* deleted */
        if (rc == 0) {
            int next = chunks_next(f, &j);
            job_free(&j);
            if (next < 0) return MHD_CONTENT_READER_END_OF_STREAM;
            if (next > 0) continue;
        }
        if (!follow_wait(f)) return MHD_CONTENT_READER_END_OF_STREAM; /* the server stops */
        return 0;
    }
}

/* A follower that found no file here: on PostgreSQL, reads the chunks from now on if another
 * node has the job, or has stored output of it (a job with no node yet). */
static void maybe_chunks(struct output_follow *f)
{
    struct api *a = f->api;
    if (!store_output_shared(a->store)) return;
    struct job j;
    if (store_get_job(a->store, f->job_id, &j, false) != 0) return;
    int started = output_started_attempt(&j);
    bool remote = j.node && strcmp(j.node, a->cfg->node) != 0;
    if (!j.node && !f->had_file && started > 0) { /* (this node's own job: its file) */
        int64_t end = 0;
        bool complete = false;
        store_output_end(a->store, j.id, started, f->cc.stream, &end, &complete);
        remote = end > 0 || complete;
    }
    if (remote) {
        f->chunks = true;
        f->cc.job_id = f->job_id;
        f->cc.offset = f->had_file ? 0 : f->offset; /* (the offset asked is the first file's) */
        f->cc.attempt = f->had_file ? 0 : started;
    }
    job_free(&j);
}

static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct output_follow *f = cls;
    if (f->chunks) return chunks_read(f, buf, max);
    for (;;) {
        if (f->fd < 0) f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (f->fd >= 0) {
            f->had_file = true;
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
        if (f->fd < 0) { /* no file here: maybe another node has the job */
            maybe_chunks(f);
            if (f->chunks) return chunks_read(f, buf, max);
        }
        if (api_job_ended(f->api, f->job_id)) {
            f->job_ended = true; /* read once more: bytes written before it ended */
            continue;
        }
        if (!follow_wait(f)) { /* the server stops: the end */
            f->job_ended = true;
            continue;
        }
        return 0;
    }
}

static void follow_free(void *cls)
{
    struct output_follow *f = cls;
    waiters_forget(&f->api->waiters, &f->wait);
    api_long_poll_end(f->api);
    if (f->fd >= 0) close(f->fd);
    chunk_cursor_free(&f->cc);
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
    const char *asked = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "stream");
    const char *stream = !asked || strcmp(asked, "stdout") == 0 ? "stdout"
                         : strcmp(asked, "stderr") == 0         ? "stderr"
                                                                : NULL;
    if (!stream) {
        api_fail(&e, 400, "invalid_argument", "stream",
                 "stream must be stdout or stderr, got '%.50s'", asked);
        return api_send_error(c, &e);
    }
    struct job j;
    int rc = store_get_job(a->store, id, &j, false);
    if (rc == 1) {
        api_fail(&e, 404, "not_found", "id", "no job %lld", (long long)id);
        return api_send_error(c, &e);
    }
    if (rc < 0) {
        return api_send_internal(c, "reading the job");
    }
    char path[PATH_MAX + 32];
    dispatch_output_path(a->dispatch, id, stream, path, sizeof path);
    bool remote = output_is_remote(a, &j, path);
    struct MHD_Response *resp;
    if (remote && !follow) {
        rc = output_chunks_response(a, c, &j, stream, (uint64_t)offset, &resp, &e);
        job_free(&j);
        if (rc < 0) return api_send_error(c, &e);
        if (!resp) return MHD_NO;
    } else if (follow) {
        if (!api_long_poll_begin(a, &e)) {
            job_free(&j);
            return api_send_retry_later(c, &e);
        }
        struct output_follow *f = calloc(1, sizeof *f);
        if (!f) {
            job_free(&j);
            api_long_poll_end(a);
            return MHD_NO;
        }
        f->api = a;
        f->job_id = id;
        f->fd = -1;
        f->offset = (uint64_t)offset;
        f->wait.conn = c;
        memcpy(f->path, path, sizeof f->path);
        f->cc = (struct chunk_cursor){.job_id = id, .stream = stream};
        if (remote && j.node && strcmp(j.node, a->cfg->node) != 0) { /* another node's */
            f->chunks = true;
            f->cc.attempt = output_started_attempt(&j);
            f->cc.offset = (uint64_t)offset;
        }
        job_free(&j);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, follow_read, f,
                                                 follow_free);
        if (!resp) {
            follow_free(f);
            return MHD_NO;
        }
    } else {
        job_free(&j);
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
