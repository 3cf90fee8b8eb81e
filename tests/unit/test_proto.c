/* Unit tests for pool/proto: payload round trips, framing over a socketpair (byte by byte,
 * several frames per read, frames larger than the one-write path), and rejection of corrupt
 * frames and malformed payloads. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pool/proto.h"

static void make_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("socketpair");
        exit(2);
    }
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            perror("write");
            exit(2);
        }
        c += w;
        n -= (size_t)w;
    }
}

/* A RUN with every field set, binary stdin included. */
static const char argv_blob[] = "/bin/echo\0hello world\0\0x"; /* "", then "x" */
static const char env_blob[] = "A=1\0B=two words\0EMPTY=";
static const char stdin_bytes[] = {'i', 'n', '\0', 'p', 'u', 't', '\n'};

static struct proto_run sample_run(void)
{
    struct proto_run r = {
        .timeout_ms = 1500,
        .kill_grace_ms = 250,
        .max_output = (uint64_t)1 << 40,
        .cwd = "/tmp",
        .stdout_path = "/var/tmp/job-1.out",
        .stderr_path = "/var/tmp/job-1.err",
        .argv_blob = argv_blob,
        .argv_len = sizeof argv_blob, /* includes the final NUL */
        .env_blob = env_blob,
        .env_len = sizeof env_blob,
        .stdin_data = stdin_bytes,
        .stdin_len = sizeof stdin_bytes,
        .stdin_path = "/data/output/7.stdout",
    };
    return r;
}

static void test_run_round_trip(void)
{
    struct proto_run in = sample_run(), out;
    struct proto_buf b = {0};
    proto_encode_run(&b, &in);
    CHECK(!b.failed);
    CHECK(proto_decode_run(&b, &out) == 0);
    CHECK_EQ_INT(out.timeout_ms, 1500);
    CHECK_EQ_INT(out.kill_grace_ms, 250);
    CHECK(out.max_output == (uint64_t)1 << 40);
    CHECK(out.cwd && strcmp(out.cwd, "/tmp") == 0);
    CHECK(out.stdout_path && strcmp(out.stdout_path, "/var/tmp/job-1.out") == 0);
    CHECK(out.stderr_path && strcmp(out.stderr_path, "/var/tmp/job-1.err") == 0);
    CHECK_EQ_INT(out.argv_len, sizeof argv_blob);
    CHECK(out.argv_blob && memcmp(out.argv_blob, argv_blob, sizeof argv_blob) == 0);
    CHECK_EQ_INT(proto_blob_count(out.argv_blob, out.argv_len), 4);
    CHECK_EQ_INT(out.env_len, sizeof env_blob);
    CHECK(out.env_blob && memcmp(out.env_blob, env_blob, sizeof env_blob) == 0);
    CHECK_EQ_INT(out.stdin_len, sizeof stdin_bytes);
    CHECK(out.stdin_data && memcmp(out.stdin_data, stdin_bytes, sizeof stdin_bytes) == 0);
    CHECK(out.stdin_path && strcmp(out.stdin_path, "/data/output/7.stdout") == 0);
    /* strings point into the buffer */
    CHECK((const unsigned char *)out.cwd > b.data &&
          (const unsigned char *)out.cwd < b.data + b.len);
    proto_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

    CHECK_EQ_INT(out.limits.set, 0); /* none given: none */

    /* limits travel with their set bits; a zero value (core 0) is a limit, not "none" */
    in.limits = (struct proto_limits){.set = 0x55, /* nofile, core, memory and cpu, in order */
                                      .v = {64, 0, 0, 0, 1 << 26, 0, 500}};
    proto_encode_run(&b, &in);
    CHECK(proto_decode_run(&b, &out) == 0);
    CHECK_EQ_INT(out.limits.set, in.limits.set);
    CHECK_EQ_INT(out.limits.v[PROTO_LIMIT_NOFILE], 64);
    CHECK_EQ_INT(out.limits.v[PROTO_LIMIT_CORE], 0);
    CHECK(out.limits.v[PROTO_LIMIT_MEMORY] == (int64_t)1 << 26);
    CHECK_EQ_INT(out.limits.v[PROTO_LIMIT_CPU], 500); /* half a CPU, in thousandths */
    proto_buf_free(&b);
    in.limits = (struct proto_limits){0};

    /* No env, no stdin, no timeout: empty strings come back empty. */
    in.env_blob = NULL;
    in.env_len = 0;
    in.stdin_data = NULL;
    in.stdin_len = 0;
    in.timeout_ms = 0;
    proto_encode_run(&b, &in);
    CHECK(proto_decode_run(&b, &out) == 0);
    CHECK_EQ_INT(out.env_len, 0);
    CHECK_EQ_INT(out.stdin_len, 0);
    CHECK_EQ_INT(out.timeout_ms, 0);
    proto_buf_free(&b);
}

static void test_done_round_trip(void)
{
    struct proto_done in = {
        .end = PROTO_END_SIGNALED,
        .cause = PROTO_CAUSE_TIMEOUT,
        .code = 9,
        .stdout_bytes = (uint64_t)5 << 33,
        .stderr_bytes = 77,
        .truncated = 3,
        .user_us = 123456,
        .system_us = 789,
        .maxrss_kb = 4096,
    };
    struct proto_done out;
    struct proto_buf b = {0};
    proto_encode_done(&b, &in);
    CHECK(!b.failed);
    CHECK(proto_decode_done(&b, &out) == 0);
    CHECK_EQ_INT(out.end, PROTO_END_SIGNALED);
    CHECK_EQ_INT(out.cause, PROTO_CAUSE_TIMEOUT);
    CHECK_EQ_INT(out.code, 9);
    CHECK(out.stdout_bytes == (uint64_t)5 << 33);
    CHECK_EQ_INT(out.stderr_bytes, 77);
    CHECK_EQ_INT(out.truncated, 3);
    CHECK_EQ_INT(out.user_us, 123456);
    CHECK_EQ_INT(out.system_us, 789);
    CHECK_EQ_INT(out.maxrss_kb, 4096);
    CHECK(out.error[0] == '\0');
    proto_buf_free(&b);

    /* A spawn error: negative code survives, the text comes back. */
    struct proto_done err = {.end = PROTO_END_SPAWN_ERROR, .code = -2};
    snprintf(err.error, sizeof err.error, "cannot execute /nope: No such file or directory");
    proto_encode_done(&b, &err);
    CHECK(proto_decode_done(&b, &out) == 0);
    CHECK_EQ_INT(out.end, PROTO_END_SPAWN_ERROR);
    CHECK_EQ_INT(out.cause, PROTO_CAUSE_NONE);
    CHECK_EQ_INT(out.code, -2);
    CHECK(strcmp(out.error, "cannot execute /nope: No such file or directory") == 0);
    proto_buf_free(&b);

    /* An error text filling the whole array (no NUL) is sent as 255 chars, NUL-terminated. */
    memset(err.error, 'e', sizeof err.error);
    proto_encode_done(&b, &err);
    CHECK(proto_decode_done(&b, &out) == 0);
    CHECK_EQ_INT(strlen(out.error), sizeof out.error - 1);
    proto_buf_free(&b);
}

static void test_buf_primitives(void)
{
    struct proto_buf b = {0};
    proto_put_u32(&b, 0xdeadbeef);
    proto_put_i64(&b, -5);
    proto_put_str(&b, "hey", 3);
    CHECK_EQ_INT(b.len, 4 + 8 + 4 + 3 + 1);
    CHECK(proto_get_u32(&b) == 0xdeadbeef);
    CHECK_EQ_INT(proto_get_i64(&b), -5);
    uint32_t n = 99;
    const char *s = proto_get_str(&b, &n);
    CHECK(s && n == 3 && strcmp(s, "hey") == 0);
    CHECK(!b.failed);
    CHECK_EQ_INT(b.pos, b.len);
    /* reading past the end: zero / NULL and failed */
    CHECK(proto_get_u32(&b) == 0);
    CHECK(b.failed);
    proto_buf_free(&b);

    /* A string whose length prefix runs past the buffer */
    proto_put_u32(&b, 1000);
    proto_put_bytes(&b, "abc", 4);
    n = 99;
    CHECK(proto_get_str(&b, &n) == NULL);
    CHECK(b.failed && n == 0);
    proto_buf_free(&b);

    /* A string not followed by its NUL */
    proto_put_u32(&b, 3);
    proto_put_bytes(&b, "abcd", 4);
    CHECK(proto_get_str(&b, &n) == NULL);
    CHECK(b.failed);
    proto_buf_free(&b);

    CHECK_EQ_INT(proto_blob_count("a\0bc\0", 5), 2);
    CHECK_EQ_INT(proto_blob_count("a\0bc", 4), -1);
    CHECK_EQ_INT(proto_blob_count("", 0), 0);
    CHECK_EQ_INT(proto_blob_count("\0\0", 2), 2);
}

/* Encodes r, lets edit change the buffer, and decodes it. */
static int decode_run_edited(const struct proto_run *r, int trim, const char *extra)
{
    struct proto_buf b = {0};
    proto_encode_run(&b, r);
    if (trim) b.len -= (size_t)trim;
    if (extra) proto_put_bytes(&b, extra, strlen(extra));
    struct proto_run out;
    int rc = proto_decode_run(&b, &out);
    proto_buf_free(&b);
    return rc;
}

static void test_run_rejected(void)
{
    struct proto_run r = sample_run();
    CHECK(decode_run_edited(&r, 0, NULL) == 0); /* the control */

    /* truncated payload: any amount missing */
    CHECK(decode_run_edited(&r, 1, NULL) == -1);
    CHECK(decode_run_edited(&r, 9, NULL) == -1);
    struct proto_buf b = {0};
    proto_encode_run(&b, &r);
    size_t full = b.len;
    int accepted = 0;
    for (size_t cut = 0; cut < full; cut++) {
        b.len = cut;
        b.pos = 0;
        b.failed = false;
        struct proto_run out;
        if (proto_decode_run(&b, &out) == 0) accepted++;
    }
    CHECK_EQ_INT(accepted, 0);
    proto_buf_free(&b);

    /* trailing bytes */
    CHECK(decode_run_edited(&r, 0, "x") == -1);
    {
        struct proto_buf t = {0};
        proto_encode_run(&t, &r);
        proto_put_bytes(&t, "\0", 1);
        struct proto_run out;
        CHECK(proto_decode_run(&t, &out) == -1);
        proto_buf_free(&t);
    }

    /* limits: an unknown bit, a negative value, a value without its bit */
    {
        struct proto_run l = r;
        l.limits.set = 1u << PROTO_LIMITS;
        CHECK(decode_run_edited(&l, 0, NULL) == -1);
        l.limits = (struct proto_limits){.set = 1u << PROTO_LIMIT_NOFILE, .v = {-5}};
        CHECK(decode_run_edited(&l, 0, NULL) == -1);
        l.limits = (struct proto_limits){.set = 0, .v = {[PROTO_LIMIT_PIDS] = 3}};
        CHECK(decode_run_edited(&l, 0, NULL) == -1);
        l.limits =
            (struct proto_limits){.set = 1u << PROTO_LIMIT_PIDS, .v = {[PROTO_LIMIT_PIDS] = 3}};
        CHECK(decode_run_edited(&l, 0, NULL) == 0); /* the control */
    }

    /* argv blob not NUL-terminated: "a\0b" */
    struct proto_run bad = r;
    bad.argv_blob = "a\0b";
    bad.argv_len = 3;
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    /* empty argv */
    bad = r;
    bad.argv_blob = "";
    bad.argv_len = 0;
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    /* argv[0] is the empty string */
    bad = r;
    bad.argv_blob = "\0x";
    bad.argv_len = 3;
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    /* env blob not NUL-terminated */
    bad = r;
    bad.env_blob = "A=1\0B=2";
    bad.env_len = 7;
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    /* relative or empty cwd */
    bad = r;
    bad.cwd = "tmp";
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    bad.cwd = "";
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    /* empty output paths */
    bad = r;
    bad.stdout_path = "";
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    bad = r;
    bad.stderr_path = "";
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    /* negative times */
    bad = r;
    bad.timeout_ms = -1;
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
    bad = r;
    bad.kill_grace_ms = -1;
    CHECK(decode_run_edited(&bad, 0, NULL) == -1);
}

static int decode_done_of(const struct proto_done *d)
{
    struct proto_buf b = {0};
    proto_encode_done(&b, d);
    struct proto_done out;
    int rc = proto_decode_done(&b, &out);
    proto_buf_free(&b);
    return rc;
}

static void test_done_rejected(void)
{
    struct proto_done d = {.end = PROTO_END_EXITED, .code = 0};
    CHECK(decode_done_of(&d) == 0); /* the control */
    d.end = 0;
    CHECK(decode_done_of(&d) == -1);
    d.end = PROTO_END_NOT_STARTED + 1;
    CHECK(decode_done_of(&d) == -1);
    d.end = 255;
    CHECK(decode_done_of(&d) == -1);
    d.end = PROTO_END_EXITED;
    d.cause = PROTO_CAUSE_FENCED + 1;
    CHECK(decode_done_of(&d) == -1);
    d.cause = PROTO_CAUSE_FENCED;
    CHECK(decode_done_of(&d) == 0);
    d.cause = PROTO_CAUSE_KILLED;
    CHECK(decode_done_of(&d) == 0);
    d.truncated = 4;
    CHECK(decode_done_of(&d) == -1);
    d.truncated = 0;

    /* truncated and trailing */
    struct proto_buf b = {0};
    proto_encode_done(&b, &d);
    b.len--;
    struct proto_done out;
    CHECK(proto_decode_done(&b, &out) == -1);
    proto_buf_free(&b);
    proto_encode_done(&b, &d);
    proto_put_bytes(&b, "z", 1);
    CHECK(proto_decode_done(&b, &out) == -1);
    proto_buf_free(&b);
    /* an empty payload */
    CHECK(proto_decode_done(&b, &out) == -1);
    proto_buf_free(&b);
    /* the top byte of the flags word: where the usage came from, two bits and no more */
    d.usage_from = PROTO_USAGE_CPU_CGROUP | PROTO_USAGE_MEMORY_CGROUP;
    proto_encode_done(&b, &d);
    CHECK(proto_decode_done(&b, &out) == 0 && out.usage_from == 3);
    b.data[3] = 4;
    CHECK(proto_decode_done(&b, &out) == -1);
    proto_buf_free(&b);
}

/* STARTED and KILL have typed codecs with exact-end checks, like RUN and DONE. */
static void test_started_and_kill(void)
{
    struct proto_buf b = {0};
    proto_encode_started(&b, &(struct proto_started){.pid = 4242, .start_us = 123456789});
    CHECK_EQ_INT(b.len, 16);
    struct proto_started st;
    b.pos = 0;
    CHECK(proto_decode_started(&b, &st) == 0);
    CHECK_EQ_INT(st.pid, 4242);
    CHECK_EQ_INT(st.start_us, 123456789);
    proto_put_u32(&b, 1); /* a byte too many is malformed */
    b.pos = 0;
    CHECK(proto_decode_started(&b, &st) < 0);
    b.len = b.pos = 0;
    b.failed = false;
    proto_encode_started(&b, &(struct proto_started){.pid = 0});
    CHECK(proto_decode_started(&b, &st) < 0); /* no process */
    b.len = b.pos = 0;
    b.failed = false;
    proto_encode_started(&b, &(struct proto_started){.pid = 1, .reserved = 7});
    CHECK(proto_decode_started(&b, &st) < 0);

    b.len = b.pos = 0;
    b.failed = false;
    proto_encode_kill(&b, &(struct proto_kill){.sig = 15, .grace_ms = 10000});
    CHECK_EQ_INT(b.len, 12);
    struct proto_kill k;
    CHECK(proto_decode_kill(&b, &k) == 0);
    CHECK_EQ_INT(k.sig, 15);
    CHECK_EQ_INT(k.grace_ms, 10000);
    b.len = b.pos = 0;
    b.failed = false;
    proto_encode_kill(&b, &(struct proto_kill){.sig = 0, .grace_ms = 0});
    CHECK(proto_decode_kill(&b, &k) == 0); /* 0: withdraw */
    static const struct proto_kill bad[] = {{.sig = 65, .grace_ms = 0}, {.sig = 9, .grace_ms = -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b.len = b.pos = 0;
        b.failed = false;
        proto_encode_kill(&b, &bad[i]);
        CHECK(proto_decode_kill(&b, &k) < 0);
    }
    b.len = 8; /* short */
    b.pos = 0;
    b.failed = false;
    CHECK(proto_decode_kill(&b, &k) < 0);
    proto_buf_free(&b);
}

static void test_send_and_read(void)
{
    int sv[2];
    make_pair(sv);
    struct proto_buf run = {0};
    struct proto_run r = sample_run();
    proto_encode_run(&run, &r);

    CHECK(proto_send(sv[0], PROTO_RUN, 42, run.data, run.len) == 0);
    struct proto_reader rd = {0};
    struct proto_header h;
    struct proto_buf payload = {0};
    CHECK(proto_reader_next(&rd, &h, &payload) == 0); /* nothing yet */
    long got = proto_reader_fill(&rd, sv[1]);
    CHECK_EQ_INT(got, (long)(sizeof h + run.len));
    CHECK(proto_reader_next(&rd, &h, &payload) == 1);
    CHECK_EQ_INT(h.version, PROTO_VERSION);
    CHECK_EQ_INT(h.type, PROTO_RUN);
    CHECK_EQ_INT(h.reserved, 0);
    CHECK_EQ_INT(h.length, run.len);
    CHECK_EQ_INT(h.job_id, 42);
    CHECK_EQ_INT(payload.len, run.len);
    CHECK_EQ_INT(payload.pos, 0);
    CHECK(payload.len == run.len && memcmp(payload.data, run.data, run.len) == 0);
    struct proto_run back;
    CHECK(proto_decode_run(&payload, &back) == 0);
    CHECK(back.cwd && strcmp(back.cwd, "/tmp") == 0);
    CHECK(proto_reader_next(&rd, &h, &payload) == 0);
    CHECK_EQ_INT(rd.len, 0);

    /* A frame with no payload; the payload buffer is reset (pos and failed too). */
    payload.pos = 3;
    payload.failed = true;
    CHECK(proto_send(sv[0], PROTO_READY, 0, NULL, 0) == 0);
    CHECK(proto_reader_fill(&rd, sv[1]) == (long)sizeof h);
    CHECK(proto_reader_next(&rd, &h, &payload) == 1);
    CHECK_EQ_INT(h.type, PROTO_READY);
    CHECK_EQ_INT(h.job_id, 0);
    CHECK_EQ_INT(h.length, 0);
    CHECK_EQ_INT(payload.len, 0);
    CHECK_EQ_INT(payload.pos, 0);
    CHECK(!payload.failed);

    /* Two frames in one read: both come out, in order. */
    struct proto_buf done = {0};
    struct proto_done d = {.end = PROTO_END_EXITED, .code = 3, .stdout_bytes = 10};
    proto_encode_done(&done, &d);
    int64_t pid = 4321;
    CHECK(proto_send(sv[0], PROTO_STARTED, 7, &pid, sizeof pid) == 0);
    CHECK(proto_send(sv[0], PROTO_DONE, 7, done.data, done.len) == 0);
    got = proto_reader_fill(&rd, sv[1]);
    CHECK_EQ_INT(got, (long)(2 * sizeof h + sizeof pid + done.len));
    CHECK(proto_reader_next(&rd, &h, &payload) == 1);
    CHECK_EQ_INT(h.type, PROTO_STARTED);
    CHECK_EQ_INT(h.job_id, 7);
    int64_t pid_back = 0;
    CHECK(payload.len == sizeof pid_back);
    if (payload.len == sizeof pid_back) memcpy(&pid_back, payload.data, sizeof pid_back);
    CHECK_EQ_INT(pid_back, 4321);
    CHECK(proto_reader_next(&rd, &h, &payload) == 1);
    CHECK_EQ_INT(h.type, PROTO_DONE);
    struct proto_done dback;
    CHECK(proto_decode_done(&payload, &dback) == 0);
    CHECK_EQ_INT(dback.code, 3);
    CHECK_EQ_INT(dback.stdout_bytes, 10);
    CHECK(proto_reader_next(&rd, &h, &payload) == 0);

    /* One frame fed one byte at a time: nothing until the last byte, then exactly it. */
    unsigned char frame[4096];
    CHECK(proto_send(sv[0], PROTO_KILL, 99, "abc", 3) == 0);
    ssize_t flen = read(sv[1], frame, sizeof frame);
    CHECK_EQ_INT(flen, (long)sizeof h + 3);
    int early = 0;
    for (ssize_t i = 0; i < flen; i++) {
        write_all(sv[0], frame + i, 1);
        CHECK_EQ_INT(proto_reader_fill(&rd, sv[1]), 1);
        int rc = proto_reader_next(&rd, &h, &payload);
        if (i < flen - 1) {
            if (rc != 0) early++;
        } else {
            CHECK(rc == 1);
            CHECK_EQ_INT(h.type, PROTO_KILL);
            CHECK_EQ_INT(h.job_id, 99);
            CHECK(payload.len == 3 && memcmp(payload.data, "abc", 3) == 0);
        }
    }
    CHECK_EQ_INT(early, 0);
    CHECK_EQ_INT(rd.len, 0);

    /* Nothing ready on a non-blocking fd: -1 EAGAIN. EOF: 0. */
    int fl = fcntl(sv[1], F_GETFL);
    CHECK(fcntl(sv[1], F_SETFL, fl | O_NONBLOCK) == 0);
    errno = 0;
    CHECK_EQ_INT(proto_reader_fill(&rd, sv[1]), -1);
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    close(sv[0]);
    CHECK_EQ_INT(proto_reader_fill(&rd, sv[1]), 0);
    close(sv[1]);

    proto_reader_free(&rd);
    CHECK(rd.data == NULL && rd.len == 0 && rd.cap == 0);
    proto_buf_free(&payload);
    proto_buf_free(&run);
    proto_buf_free(&done);
}

/* A payload far larger than the socket buffer: the sender blocks until the reader reads,
 * so it sends from a child process. */
static void test_large_frame(void)
{
    enum { BIG = 3 * 1024 * 1024 + 17 };
    unsigned char *big = malloc(BIG);
    CHECK(big != NULL);
    if (!big) return;
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    int sv[2];
    make_pair(sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[1]);
        int rc = proto_send(sv[0], PROTO_DONE, 5, big, BIG);
        rc |= proto_send(sv[0], PROTO_READY, 6, NULL, 0);
        _exit(rc == 0 ? 0 : 1);
    }
    CHECK(pid > 0);
    close(sv[0]);
    struct proto_reader rd = {0};
    struct proto_header h;
    struct proto_buf payload = {0};
    int frames = 0, rc = 0;
    bool big_ok = false, ready_ok = false;
    for (;;) {
        while ((rc = proto_reader_next(&rd, &h, &payload)) == 1) {
            frames++;
            if (h.type == PROTO_DONE && h.job_id == 5)
                big_ok = payload.len == BIG && memcmp(payload.data, big, BIG) == 0;
            if (h.type == PROTO_READY && h.job_id == 6) ready_ok = payload.len == 0;
        }
        if (rc < 0) break;
        long n = proto_reader_fill(&rd, sv[1]);
        if (n <= 0) break;
    }
    CHECK(rc == 0);
    CHECK_EQ_INT(frames, 2);
    CHECK(big_ok);
    CHECK(ready_ok);
    CHECK_EQ_INT(rd.len, 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(sv[1]);
    proto_reader_free(&rd);
    proto_buf_free(&payload);
    free(big);

    /* Too large to send: refused up front, nothing written. */
    make_pair(sv);
    errno = 0;
    unsigned char one = 0;
    CHECK(proto_send(sv[0], PROTO_RUN, 1, &one, (size_t)PROTO_MAX_PAYLOAD + 1) == -1);
    CHECK(errno == EMSGSIZE);
    CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
    CHECK(read(sv[1], &one, 1) == -1 && errno == EAGAIN);
    close(sv[0]);
    close(sv[1]);
}

/* Feeds raw bytes (a hand-made header, maybe some payload) and returns reader_next. */
static int next_after_raw(const struct proto_header *h, const void *payload, size_t plen)
{
    int sv[2];
    make_pair(sv);
    write_all(sv[0], h, sizeof *h);
    if (plen) write_all(sv[0], payload, plen);
    struct proto_reader rd = {0};
    struct proto_header out;
    struct proto_buf buf = {0};
    long n = proto_reader_fill(&rd, sv[1]);
    int rc = n == (long)(sizeof *h + plen) ? proto_reader_next(&rd, &out, &buf) : -99;
    proto_reader_free(&rd);
    proto_buf_free(&buf);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static void test_corrupt_frames(void)
{
    struct proto_header ok = {PROTO_VERSION, PROTO_READY, 0, 0, 1};
    CHECK(next_after_raw(&ok, NULL, 0) == 1); /* the control */

    struct proto_header h = ok;
    h.version = PROTO_VERSION + 1;
    CHECK(next_after_raw(&h, NULL, 0) == -1);
    h.version = 0;
    CHECK(next_after_raw(&h, NULL, 0) == -1);

    h = ok;
    h.type = 0;
    CHECK(next_after_raw(&h, NULL, 0) == -1);
    h.type = PROTO_TYPE_MAX;
    CHECK(next_after_raw(&h, NULL, 0) == -1);
    h.type = 200;
    CHECK(next_after_raw(&h, NULL, 0) == -1);

    h = ok;
    h.reserved = 1;
    CHECK(next_after_raw(&h, NULL, 0) == -1);

    /* A length over the limit is refused from the header alone: -1, not "need more". */
    h = ok;
    h.length = PROTO_MAX_PAYLOAD + 1;
    CHECK(next_after_raw(&h, NULL, 0) == -1);
    h.length = UINT32_MAX;
    CHECK(next_after_raw(&h, NULL, 0) == -1);
    /* Exactly the limit is allowed: with no payload yet, it waits for more. */
    h.length = PROTO_MAX_PAYLOAD;
    CHECK(next_after_raw(&h, NULL, 0) == 0);

    /* A header that says more than has arrived: waits (0). */
    h = ok;
    h.length = 10;
    CHECK(next_after_raw(&h, "12345", 5) == 0);
    CHECK(next_after_raw(&h, "1234567890", 10) == 1);
}

/* LEASE: one ms >= 0, exactly 8 bytes. */
static void test_lease(void)
{
    struct proto_buf b = {0};
    int64_t ms = -1;
    proto_encode_lease(&b, 7500);
    CHECK(proto_decode_lease(&b, &ms) == 0 && ms == 7500);
    proto_buf_free(&b);
    proto_encode_lease(&b, -1); /* (negative: rejected) */
    CHECK(proto_decode_lease(&b, &ms) == -1);
    proto_buf_free(&b);
    proto_put_u32(&b, 5); /* (short) */
    CHECK(proto_decode_lease(&b, &ms) == -1);
    proto_buf_free(&b);
    proto_encode_lease(&b, 1);
    proto_put_u32(&b, 5); /* (bytes left over) */
    CHECK(proto_decode_lease(&b, &ms) == -1);
    proto_buf_free(&b);
}

int main(void)
{
    test_buf_primitives();
    test_run_round_trip();
    test_done_round_trip();
    test_run_rejected();
    test_done_rejected();
    test_started_and_kill();
    test_lease();
    test_send_and_read();
    test_large_frame();
    test_corrupt_frames();
    return check_report();
}
