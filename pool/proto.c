/* proto: framing and typed payload encoding for master <-> worker messages.
 * Readers check every length before allocating or copying. */
#include "pool/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static bool buf_reserve(struct proto_buf *b, size_t extra)
{
    if (b->failed) return false;
    if (b->len + extra <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    unsigned char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void proto_put_bytes(struct proto_buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

void proto_put_u32(struct proto_buf *b, uint32_t v)
{
    proto_put_bytes(b, &v, sizeof v);
}

void proto_put_i64(struct proto_buf *b, int64_t v)
{
    proto_put_bytes(b, &v, sizeof v);
}

void proto_put_str(struct proto_buf *b, const char *s, size_t n)
{
    if (n > PROTO_MAX_PAYLOAD) {
        b->failed = true;
        return;
    }
    proto_put_u32(b, (uint32_t)n);
    proto_put_bytes(b, s ? s : "", n);
    proto_put_bytes(b, "", 1);
}

static const void *buf_take(struct proto_buf *b, size_t n)
{
    if (b->failed || b->len - b->pos < n) {
        b->failed = true;
        return NULL;
    }
    const void *p = b->data + b->pos;
    b->pos += n;
    return p;
}

uint32_t proto_get_u32(struct proto_buf *b)
{
    uint32_t v = 0;
    const void *p = buf_take(b, sizeof v);
    if (p) memcpy(&v, p, sizeof v);
    return v;
}

int64_t proto_get_i64(struct proto_buf *b)
{
    int64_t v = 0;
    const void *p = buf_take(b, sizeof v);
    if (p) memcpy(&v, p, sizeof v);
    return v;
}

const char *proto_get_str(struct proto_buf *b, uint32_t *n)
{
    uint32_t len = proto_get_u32(b);
    if (b->failed || len > b->len - b->pos || b->len - b->pos - len < 1) {
        b->failed = true;
        *n = 0;
        return NULL;
    }
    const char *s = buf_take(b, (size_t)len + 1);
    if (s[len] != '\0') {
        b->failed = true;
        *n = 0;
        return NULL;
    }
    *n = len;
    return s;
}

void proto_buf_free(struct proto_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

long proto_blob_count(const char *blob, uint32_t len)
{
    if (len == 0) return 0;
    if (blob[len - 1] != '\0') return -1;
    long count = 0;
    for (uint32_t i = 0; i < len; i++)
        if (blob[i] == '\0') count++;
    return count;
}

const char *proto_limit_name(int limit)
{
    static const char *const names[PROTO_LIMITS] = {"nofile", "nproc", "core", "as",
                                                    "memory", "pids",  "cpu"};
    return limit >= 0 && limit < PROTO_LIMITS ? names[limit] : "unknown";
}

void proto_encode_run(struct proto_buf *b, const struct proto_run *r)
{
    proto_put_i64(b, r->timeout_ms);
    proto_put_i64(b, r->kill_grace_ms);
    proto_put_i64(b, (int64_t)r->max_output);
    proto_put_str(b, r->cwd, strlen(r->cwd));
    proto_put_str(b, r->stdout_path, strlen(r->stdout_path));
    proto_put_str(b, r->stderr_path, strlen(r->stderr_path));
    proto_put_str(b, r->argv_blob, r->argv_len);
    proto_put_str(b, r->env_blob, r->env_len);
    proto_put_str(b, r->stdin_data, r->stdin_len);
    proto_put_str(b, r->stdin_path ? r->stdin_path : "", r->stdin_path ? strlen(r->stdin_path) : 0);
    proto_put_str(b, r->stages, r->stages_len);
    proto_put_u32(b, r->limits.set);
    for (int i = 0; i < PROTO_LIMITS; i++)
        proto_put_i64(b, r->limits.v[i]);
}

int proto_run_stages(const struct proto_run *r, int argc[PROTO_MAX_STAGES])
{
    long total = proto_blob_count(r->argv_blob, r->argv_len);
    if (r->stages_len == 0) {
        argc[0] = (int)total;
        return 1;
    }
    if (proto_blob_count(r->stages, r->stages_len) < 2) return -1;
    int n = 0;
    long sum = 0;
    for (const char *p = r->stages; p < r->stages + r->stages_len; p += strlen(p) + 1) {
        char *end;
        long v = strtol(p, &end, 10);
        if (n == PROTO_MAX_STAGES || *end || v < 1 || v > total) return -1;
        argc[n++] = (int)v;
        sum += v;
    }
    return sum == total ? n : -1;
}

int proto_decode_run(struct proto_buf *b, struct proto_run *r)
{
    uint32_t n;
    memset(r, 0, sizeof *r);
    r->timeout_ms = proto_get_i64(b);
    r->kill_grace_ms = proto_get_i64(b);
    r->max_output = (uint64_t)proto_get_i64(b);
    r->cwd = proto_get_str(b, &n);
    r->stdout_path = proto_get_str(b, &n);
    r->stderr_path = proto_get_str(b, &n);
    r->argv_blob = proto_get_str(b, &r->argv_len);
    r->env_blob = proto_get_str(b, &r->env_len);
    r->stdin_data = proto_get_str(b, &r->stdin_len);
    r->stdin_path = proto_get_str(b, &n);
    r->stages = proto_get_str(b, &r->stages_len);
    r->limits.set = proto_get_u32(b);
    for (int i = 0; i < PROTO_LIMITS; i++)
        r->limits.v[i] = proto_get_i64(b);
    if (b->failed || b->pos != b->len) return -1;
    if (r->limits.set >> PROTO_LIMITS) return -1;
    for (int i = 0; i < PROTO_LIMITS; i++)
        if (r->limits.set & (1u << i) ? r->limits.v[i] < 0 : r->limits.v[i] != 0) return -1;
    if (r->timeout_ms < 0 || r->kill_grace_ms < 0) return -1;
    if (r->cwd[0] != '/' || !r->stdout_path[0] || !r->stderr_path[0]) return -1;
    if (proto_blob_count(r->argv_blob, r->argv_len) < 1) return -1;
    if (r->argv_blob[0] == '\0') return -1;
    if (proto_blob_count(r->env_blob, r->env_len) < 0) return -1;
    int argc[PROTO_MAX_STAGES], stages = proto_run_stages(r, argc);
    if (stages < 0) return -1;
    for (int i = 0, k = 0; i < stages; k += argc[i++]) {
        const char *a = r->argv_blob; /* every stage's program is non-empty */
        for (int skip = 0; skip < k; skip++)
            a += strlen(a) + 1;
        if (!*a) return -1;
    }
    return 0;
}

void proto_encode_started(struct proto_buf *b, const struct proto_started *s)
{
    proto_put_u32(b, (uint32_t)s->pid);
    proto_put_u32(b, (uint32_t)s->reserved);
    proto_put_i64(b, s->start_us);
}

int proto_decode_started(struct proto_buf *b, struct proto_started *s)
{
    s->pid = (int32_t)proto_get_u32(b);
    s->reserved = (int32_t)proto_get_u32(b);
    s->start_us = proto_get_i64(b);
    /* (a pid of 1 or less would make the master's kill(-pid) hit far more than the job) */
    return b->failed || b->pos != b->len || s->pid <= 1 || s->reserved != 0 ? -1 : 0;
}

void proto_encode_kill(struct proto_buf *b, const struct proto_kill *k)
{
    proto_put_u32(b, k->sig);
    proto_put_i64(b, k->grace_ms);
}

void proto_encode_lease(struct proto_buf *b, int64_t ms)
{
    proto_put_i64(b, ms);
}

int proto_decode_lease(struct proto_buf *b, int64_t *ms)
{
    *ms = proto_get_i64(b);
    return b->failed || b->pos != b->len || *ms < 0 ? -1 : 0;
}

int proto_decode_kill(struct proto_buf *b, struct proto_kill *k)
{
    k->sig = proto_get_u32(b);
    k->grace_ms = proto_get_i64(b);
    return b->failed || b->pos != b->len || k->sig >= (uint32_t)NSIG || k->grace_ms < 0 ? -1 : 0;
}

void proto_encode_done(struct proto_buf *b, const struct proto_done *d)
{
    proto_put_u32(b, d->end | (uint32_t)d->cause << 8 | (uint32_t)d->truncated << 16 |
                         (uint32_t)d->usage_from << 24);
    proto_put_u32(b, (uint32_t)d->code);
    proto_put_i64(b, (int64_t)d->stdout_bytes);
    proto_put_i64(b, (int64_t)d->stderr_bytes);
    proto_put_i64(b, d->user_us);
    proto_put_i64(b, d->system_us);
    proto_put_i64(b, d->maxrss_kb);
    proto_put_u32(b, (uint32_t)d->pid);
    proto_put_i64(b, d->start_us);
    proto_put_str(b, d->error, strnlen(d->error, sizeof d->error - 1));
}

int proto_decode_done(struct proto_buf *b, struct proto_done *d)
{
    memset(d, 0, sizeof *d);
    uint32_t bits = proto_get_u32(b);
    d->end = bits & 0xff;
    d->cause = (bits >> 8) & 0xff;
    d->truncated = (bits >> 16) & 0xff;
    d->usage_from = (bits >> 24) & 0xff;
    d->code = (int32_t)proto_get_u32(b);
    d->stdout_bytes = (uint64_t)proto_get_i64(b);
    d->stderr_bytes = (uint64_t)proto_get_i64(b);
    d->user_us = proto_get_i64(b);
    d->system_us = proto_get_i64(b);
    d->maxrss_kb = proto_get_i64(b);
    d->pid = (int32_t)proto_get_u32(b);
    d->start_us = proto_get_i64(b);
    uint32_t n;
    const char *err = proto_get_str(b, &n);
    if (b->failed || b->pos != b->len) return -1;
    if (d->end < PROTO_END_EXITED || d->end > PROTO_END_NOT_STARTED) return -1;
    if (d->cause > PROTO_CAUSE_FENCED || d->truncated > 3 ||
        d->usage_from > (PROTO_USAGE_CPU_CGROUP | PROTO_USAGE_MEMORY_CGROUP))
        return -1;
    if (n >= sizeof d->error) n = sizeof d->error - 1;
    memcpy(d->error, err, n);
    d->error[n] = '\0';
    return 0;
}

int proto_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int proto_send(int fd, enum proto_type type, int64_t job_id, const void *payload, size_t len)
{
    if (len > PROTO_MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    struct proto_header h = {PROTO_VERSION, (uint8_t)type, 0, (uint32_t)len, job_id};
    if (len + sizeof h <= 4096) { /* one write: the peer sees the frame at once */
        unsigned char frame[4096];
        memcpy(frame, &h, sizeof h);
        if (len) memcpy(frame + sizeof h, payload, len);
        return proto_write_all(fd, frame, sizeof h + len);
    }
    if (proto_write_all(fd, &h, sizeof h) < 0) return -1;
    return proto_write_all(fd, payload, len);
}

void proto_put_frame(struct proto_buf *out, enum proto_type type, int64_t job_id,
                     const void *payload, size_t len)
{
    if (len > PROTO_MAX_PAYLOAD) {
        out->failed = true;
        return;
    }
    struct proto_header h = {PROTO_VERSION, (uint8_t)type, 0, (uint32_t)len, job_id};
    proto_put_bytes(out, &h, sizeof h);
    proto_put_bytes(out, payload, len);
}

long proto_reader_fill(struct proto_reader *r, int fd)
{
    if (r->cap - r->len < 4096) {
        size_t cap = r->cap ? r->cap * 2 : 8192;
        unsigned char *p = realloc(r->data, cap);
        if (!p) {
            errno = ENOMEM;
            return -1;
        }
        r->data = p;
        r->cap = cap;
    }
    for (;;) {
        ssize_t n = read(fd, r->data + r->len, r->cap - r->len);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) r->len += (size_t)n;
        return (long)n;
    }
}

int proto_reader_next(struct proto_reader *r, struct proto_header *h, struct proto_buf *payload)
{
    if (r->len < sizeof *h) return 0;
    memcpy(h, r->data, sizeof *h);
    if (h->version != PROTO_VERSION || h->type < PROTO_READY || h->type >= PROTO_TYPE_MAX ||
        h->reserved != 0 || h->length > PROTO_MAX_PAYLOAD)
        return -1;
    size_t total = sizeof *h + h->length;
    if (r->len < total) return 0;
    payload->len = payload->pos = 0;
    payload->failed = false;
    proto_put_bytes(payload, r->data + sizeof *h, h->length);
    if (payload->failed) return -1;
    memmove(r->data, r->data + total, r->len - total);
    r->len -= total;
    return 1;
}

void proto_reader_free(struct proto_reader *r)
{
    free(r->data);
    memset(r, 0, sizeof *r);
}
