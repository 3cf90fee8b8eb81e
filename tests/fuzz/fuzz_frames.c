/* fuzz_frames: the worker message frames. The input is the byte stream one end of a
 * master<->worker channel reads: its first byte picks the size of the writes it arrives in
 * (frames split anywhere), the rest is written into a pipe and taken out by the real
 * proto_reader_fill / proto_reader_next, and each frame's payload goes through the decoder
 * of its type (RUN, DONE, STARTED, KILL, as pool/worker.c and server/dispatch_loop.c do).
 * Invariants: a frame is never longer than PROTO_MAX_PAYLOAD and its payload has the length
 * of its header; a corrupt stream stays corrupt (the reader is dropped); a decoded RUN or
 * DONE encodes back to a payload that decodes to the same message. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pool/proto.h"
#include "tests/fuzz/fuzz_common.h"

static void same_str(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    FUZZ_REQUIRE(an == bn && memcmp(a, b, an) == 0);
}

static void check_run(struct proto_buf *payload)
{
    struct proto_run r, back;
    if (proto_decode_run(payload, &r) < 0) return;
    int argc[PROTO_MAX_STAGES], stages = proto_run_stages(&r, argc);
    FUZZ_REQUIRE(stages >= 1 && stages <= PROTO_MAX_STAGES);
    long words = 0;
    for (int i = 0; i < stages; i++)
        words += argc[i];
    FUZZ_REQUIRE(words == proto_blob_count(r.argv_blob, r.argv_len));
    struct proto_buf b = {0};
    proto_encode_run(&b, &r);
    FUZZ_REQUIRE(!b.failed && proto_decode_run(&b, &back) == 0);
    FUZZ_REQUIRE(back.timeout_ms == r.timeout_ms && back.kill_grace_ms == r.kill_grace_ms &&
                 back.max_output == r.max_output);
    FUZZ_REQUIRE(!strcmp(back.cwd, r.cwd) && !strcmp(back.stdout_path, r.stdout_path) &&
                 !strcmp(back.stderr_path, r.stderr_path));
    same_str(back.argv_blob, back.argv_len, r.argv_blob, r.argv_len);
    same_str(back.env_blob, back.env_len, r.env_blob, r.env_len);
    same_str(back.stdin_data, back.stdin_len, r.stdin_data, r.stdin_len);
    same_str(back.stages, back.stages_len, r.stages, r.stages_len);
    FUZZ_REQUIRE(memcmp(&back.limits, &r.limits, sizeof r.limits) == 0);
    FUZZ_REQUIRE(!(r.limits.set >> PROTO_LIMITS));
    for (int i = 0; i < PROTO_LIMITS; i++)
        FUZZ_REQUIRE(r.limits.set & (1u << i) ? r.limits.v[i] >= 0 : r.limits.v[i] == 0);
    proto_buf_free(&b);
}

static void check_done(struct proto_buf *payload)
{
    struct proto_done d, back;
    if (proto_decode_done(payload, &d) < 0) return;
    FUZZ_REQUIRE(d.end >= PROTO_END_EXITED && d.end <= PROTO_END_NOT_STARTED);
    FUZZ_REQUIRE(d.cause <= PROTO_CAUSE_FENCED && d.truncated <= 3);
    FUZZ_REQUIRE(memchr(d.error, '\0', sizeof d.error) != NULL);
    struct proto_buf b = {0};
    proto_encode_done(&b, &d);
    FUZZ_REQUIRE(!b.failed && proto_decode_done(&b, &back) == 0);
    FUZZ_REQUIRE(back.pid == d.pid && back.start_us == d.start_us && back.end == d.end &&
                 back.cause == d.cause && back.code == d.code &&
                 back.stdout_bytes == d.stdout_bytes && back.stderr_bytes == d.stderr_bytes &&
                 back.truncated == d.truncated && back.user_us == d.user_us &&
                 back.system_us == d.system_us && back.maxrss_kb == d.maxrss_kb &&
                 strcmp(back.error, d.error) == 0);
    proto_buf_free(&b);
}

static void check_frame(const struct proto_header *h, struct proto_buf *payload)
{
    FUZZ_REQUIRE(h->length <= PROTO_MAX_PAYLOAD && payload->len == h->length);
    FUZZ_REQUIRE(h->type >= PROTO_READY && h->type < PROTO_TYPE_MAX);
    switch (h->type) {
    case PROTO_RUN:
        check_run(payload);
        break;
    case PROTO_DONE:
        check_done(payload);
        break;
    case PROTO_STARTED: { /* decoded, it encodes back to the same bytes */
        struct proto_started st;
        if (proto_decode_started(payload, &st) == 0) {
            struct proto_buf again = {0};
            proto_encode_started(&again, &st);
            FUZZ_REQUIRE(again.len == payload->len &&
                         memcmp(again.data, payload->data, again.len) == 0);
            proto_buf_free(&again);
        }
        break;
    }
    case PROTO_KILL: { /* the same, and only an exact 12 bytes can decode */
        struct proto_kill k;
        if (proto_decode_kill(payload, &k) == 0) {
            FUZZ_REQUIRE(payload->len == 12 && k.grace_ms >= 0);
            struct proto_buf again = {0};
            proto_encode_kill(&again, &k);
            FUZZ_REQUIRE(again.len == payload->len &&
                         memcmp(again.data, payload->data, again.len) == 0);
            proto_buf_free(&again);
        }
        break;
    }
    case PROTO_LEASE: { /* the same, and only an exact 8 bytes can decode */
        int64_t ms;
        if (proto_decode_lease(payload, &ms) == 0) {
            FUZZ_REQUIRE(payload->len == 8 && ms >= 0);
            struct proto_buf again = {0};
            proto_encode_lease(&again, ms);
            FUZZ_REQUIRE(again.len == payload->len &&
                         memcmp(again.data, payload->data, again.len) == 0);
            proto_buf_free(&again);
        }
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static int fds[2] = {-1, -1};
    if (fds[0] < 0) {
        FUZZ_REQUIRE(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    }
    if (size < 1) return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    if (data[0] >= 192) chunk = 4096; /* whole frames at once, as usually */
    data++, size--;

    struct proto_reader reader = {0};
    struct proto_buf payload = {0};
    struct proto_header h;
    bool corrupt = false;
    for (size_t off = 0; off < size && !corrupt;) {
        size_t n = size - off < chunk ? size - off : chunk;
        FUZZ_REQUIRE(write(fds[1], data + off, n) == (ssize_t)n);
        off += n;
        long got = proto_reader_fill(&reader, fds[0]);
        FUZZ_REQUIRE(got == (long)n);
        int rc;
        while ((rc = proto_reader_next(&reader, &h, &payload)) == 1)
            check_frame(&h, &payload);
        if (rc < 0) {
            corrupt = true; /* the reader stays stuck on the bad header */
            FUZZ_REQUIRE(proto_reader_next(&reader, &h, &payload) == -1);
        }
    }
    proto_reader_free(&reader);
    proto_buf_free(&payload);
    return 0;
}
