/* frame_seeds: writes the seed corpus of fuzz_frames (real frames of the current protocol
 * version) into a directory: `frame_seeds DIR`. tests/fuzz/run.sh runs it before fuzzing
 * fuzz_frames, so the seeds follow PROTO_VERSION. Each file starts with the byte that picks
 * the write size (see fuzz_frames.c), then the frames. */
#include <stdio.h>
#include <string.h>

#include "pool/proto.h"

static void run_payload(struct proto_buf *b, const char *argv, uint32_t argv_len, const char *env,
                        uint32_t env_len, const char *stages, uint32_t stages_len)
{
    struct proto_run r = {.timeout_ms = 5000,
                          .kill_grace_ms = 100,
                          .max_output = 1 << 20,
                          .cwd = "/tmp",
                          .stdout_path = "/data/out/1.stdout",
                          .stderr_path = "/data/out/1.stderr",
                          .argv_blob = argv,
                          .argv_len = argv_len,
                          .env_blob = env,
                          .env_len = env_len,
                          .stdin_data = "input\n",
                          .stdin_len = 6,
                          .stages = stages,
                          .stages_len = stages_len};
    proto_encode_run(b, &r);
}

static int save(const char *dir, const char *name, unsigned char chunk, const struct proto_buf *f)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *out = fopen(path, "wb");
    if (!out) return -1;
    fputc(chunk, out);
    fwrite(f->data, 1, f->len, out);
    return fclose(out);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: frame_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int rc = 0;
    struct proto_buf p = {0}, f = {0};

    proto_put_frame(&f, PROTO_READY, 0, NULL, 0);
    rc |= save(dir, "ready", 255, &f);

    static const char echo[] = "/bin/echo\0hello\0";
    run_payload(&p, echo, sizeof echo - 1, "", 0, "", 0);
    f.len = 0;
    proto_put_frame(&f, PROTO_RUN, 1, p.data, p.len);
    rc |= save(dir, "run", 255, &f);

    static const char pipe[] = "seq\0"
                               "10\0"
                               "awk\0{print $1}\0tail\0-n\0"
                               "3\0";
    static const char env[] = "A=1\0B=two\0";
    static const char stages[] = "2\0"
                                 "2\0"
                                 "3\0";
    p.len = 0;
    run_payload(&p, pipe, sizeof pipe - 1, env, sizeof env - 1, stages, sizeof stages - 1);
    f.len = 0;
    proto_put_frame(&f, PROTO_RUN, 2, p.data, p.len);
    rc |= save(dir, "run_pipeline", 7, &f);

    struct proto_run limited = {.cwd = "/",
                                .stdout_path = "o",
                                .stderr_path = "e",
                                .argv_blob = echo,
                                .argv_len = sizeof echo - 1,
                                .limits = {.set = 0x3f, .v = {64, 100, 0, 1 << 30, 1 << 26, 10}}};
    p.len = f.len = 0;
    proto_encode_run(&p, &limited);
    proto_put_frame(&f, PROTO_RUN, 3, p.data, p.len);
    rc |= save(dir, "run_limits", 255, &f);

    struct proto_started st = {.pid = 4242, .start_us = 123456789};
    struct proto_done done = {.pid = 4242,
                              .start_us = 123456789,
                              .end = PROTO_END_EXITED,
                              .code = 3,
                              .stdout_bytes = 12,
                              .stderr_bytes = 1 << 21,
                              .truncated = 2,
                              .user_us = 1000,
                              .system_us = 2000,
                              .maxrss_kb = 3000};
    f.len = p.len = 0;
    proto_encode_started(&p, &st);
    proto_put_frame(&f, PROTO_STARTED, 1, p.data, p.len);
    p.len = 0;
    proto_encode_done(&p, &done);
    proto_put_frame(&f, PROTO_DONE, 1, p.data, p.len);
    rc |= save(dir, "started_done", 13, &f);

    struct proto_done failed = {.end = PROTO_END_SPAWN_ERROR, .code = 2};
    snprintf(failed.error, sizeof failed.error, "execvp /nope: No such file or directory");
    p.len = f.len = 0;
    proto_encode_done(&p, &failed);
    proto_put_frame(&f, PROTO_DONE, 9, p.data, p.len);
    rc |= save(dir, "done_spawn_error", 255, &f);

    p.len = f.len = 0;
    proto_encode_kill(&p, &(struct proto_kill){.sig = 15, .grace_ms = 10000});
    proto_put_frame(&f, PROTO_KILL, 1, p.data, p.len);
    struct proto_done killed = {
        .pid = 77, .end = PROTO_END_SIGNALED, .cause = PROTO_CAUSE_KILLED, .code = 15};
    p.len = 0;
    proto_encode_done(&p, &killed);
    proto_put_frame(&f, PROTO_DONE, 1, p.data, p.len);
    rc |= save(dir, "kill_then_done", 1, &f);

    p.len = f.len = 0; /* a lease, then a job its worker fenced */
    proto_encode_lease(&p, 7500);
    proto_put_frame(&f, PROTO_LEASE, 0, p.data, p.len);
    struct proto_done fenced = {
        .pid = 78, .end = PROTO_END_SIGNALED, .cause = PROTO_CAUSE_FENCED, .code = 9};
    p.len = 0;
    proto_encode_done(&p, &fenced);
    proto_put_frame(&f, PROTO_DONE, 2, p.data, p.len);
    rc |= save(dir, "lease_then_fenced", 1, &f);

    proto_buf_free(&p);
    proto_buf_free(&f);
    if (rc) perror("frame_seeds");
    return rc ? 1 : 0;
}
