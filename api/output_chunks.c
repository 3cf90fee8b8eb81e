/* output_chunks: a job's output read from the database's chunks (PostgreSQL: job_output,
 * which the node that runs the job fills about every 500 ms, server/output_ship.c) when this
 * node does not have its files: another node runs or ran it. A cursor reads one attempt's
 * stream in order, keeping the last chunk it read (up to 256 KiB) so a response sent in
 * blocks of 64 KiB reads each chunk from the database once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "api/internal.h"

bool output_is_remote(struct api *a, const struct job *j, const char *path)
{
    if (!store_output_shared(a->store)) return false;
    if (j->node && strcmp(j->node, a->cfg->node) != 0) return true;
    /* no file here: the chunks say what there is (maybe none); a file that is here but
     * cannot be read stays this node's error */
    struct stat st;
    return stat(path, &st) < 0 && errno == ENOENT;
}

int output_started_attempt(const struct job *j)
{
    if (j->state == JOB_QUEUED || j->state == JOB_SCHEDULED) return 0; /* (a retry waits) */
    return j->attempt;
}

ssize_t chunk_cursor_read(struct api *a, struct chunk_cursor *c, char *buf, size_t max)
{
    struct store_chunk *ch = &c->cur;
    int64_t off = (int64_t)c->offset;
    if (!ch->data || off < ch->pos || off >= ch->pos + (int64_t)ch->len) {
        store_chunk_free(ch);
        int rc = store_output_chunk(a->store, c->job_id, c->attempt, c->stream, off, ch);
        if (rc < 0) return -1;
        if (rc == 2) c->complete = true; /* the end mark */
        if (rc != 1) return 0;
    }
    size_t n = (size_t)(ch->pos + (int64_t)ch->len - off);
    if (n > max) n = max;
    memcpy(buf, ch->data + (off - ch->pos), n);
    c->offset += n;
    return (ssize_t)n;
}

void chunk_cursor_free(struct chunk_cursor *c)
{
    store_chunk_free(&c->cur);
}

/* A response of bytes [offset, end) of the chunks (without follow). */
struct chunk_response {
    struct api *api;
    struct MHD_Connection *conn;
    struct chunk_cursor cur;
};

static ssize_t response_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos; /* (MHD asks in order: pos is where the cursor is) */
    struct chunk_response *r = cls;
    ssize_t n = chunk_cursor_read(r->api, &r->cur, buf, max);
    if (n <= 0) return MHD_CONTENT_READER_END_WITH_ERROR; /* (stored once: a gap is an error) */
    conns_count_bytes(r->conn, (uint64_t)n);
    return n;
}

static void response_free(void *cls)
{
    struct chunk_response *r = cls;
    chunk_cursor_free(&r->cur);
    free(r);
}

int output_chunks_response(struct api *a, struct MHD_Connection *c, const struct job *j,
                           const char *stream, uint64_t offset, struct MHD_Response **out,
                           struct api_error *e)
{
    *out = NULL;
    int attempt = output_started_attempt(j);
    int64_t end = 0;
    bool complete;
    /* a job that just ended on its node: its last bytes reach the store with that node's
     * next shipping round (every 500 ms); wait for them a moment rather than answer short */
    int64_t recorded = strcmp(stream, "stderr") == 0 ? j->stderr_bytes : j->stdout_bytes;
    bool ended = j->state != JOB_QUEUED && j->state != JOB_RUNNING && j->state != JOB_SCHEDULED;
    for (int tries = 0;; tries++) {
        if (attempt > 0 &&
            store_output_end(a->store, j->id, attempt, stream, &end, &complete) < 0) {
            char what[96];
            snprintf(what, sizeof what, "reading the output of job %lld", (long long)j->id);
            return api_fail_read(e, what);
        }
        if (attempt <= 0 || !ended || complete || end >= recorded || tries == 40) break;
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (offset >= (uint64_t)end) {
        *out = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        return 0;
    }
    struct chunk_response *r = calloc(1, sizeof *r);
    if (!r) return 0;
    r->api = a;
    r->conn = c;
    r->cur = (struct chunk_cursor){
        .job_id = j->id, .stream = stream, .attempt = attempt, .offset = offset};
    *out = MHD_create_response_from_callback((uint64_t)end - offset, 64 * 1024, response_read, r,
                                             response_free);
    if (!*out) response_free(r);
    return 0;
}
