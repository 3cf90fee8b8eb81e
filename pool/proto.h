/* proto: the framed, versioned messages between the master and its workers.
 * A frame is a fixed header {version, type, length, job id} and a typed payload. */
#ifndef SPAWNPOOL_PROTO_H
#define SPAWNPOOL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bump when a message type or payload layout changes. */
#define PROTO_VERSION 7
/* Payloads longer than this are rejected before anything is allocated. */
#define PROTO_MAX_PAYLOAD (16u * 1024u * 1024u)

enum proto_type {
    PROTO_READY = 1, /* worker -> master: started and idle (once) */
    PROTO_RUN,       /* master -> worker: run this job next (payload: struct proto_run); a
                      * worker holds a few RUNs besides the job it runs, started in order */
    PROTO_STARTED,   /* worker -> master: the job's process exists (struct proto_started);
                      * sent only once it has run for a moment: a job that ends sooner
                      * reports it in its DONE (one message instead of two) */
    PROTO_DONE,      /* worker -> master: the job ended (payload: struct proto_done) */
    PROTO_KILL,      /* master -> worker: signal the job's tree, SIGKILL after grace; a job
                      * not started yet is dropped (DONE with PROTO_END_NOT_STARTED) */
    PROTO_LEASE,     /* master -> worker: the node's lease holds for the payload's ms from now
                      * (an i64; job id 0). Several nodes only: a worker kills the job it runs
                      * (PROTO_CAUSE_FENCED) and starts none when no newer LEASE came in time,
                      * since the master may be stopped while another node rescues its jobs */
    PROTO_TYPE_MAX
};

struct proto_header {
    uint8_t version;   /* PROTO_VERSION */
    uint8_t type;      /* enum proto_type */
    uint16_t reserved; /* zero */
    uint32_t length;   /* payload bytes that follow */
    int64_t job_id;    /* job the message is about, 0 for none */
};

/* A growable byte buffer with a read cursor; any out-of-bounds get sets `failed`. */
struct proto_buf {
    unsigned char *data;
    size_t len, cap, pos;
    bool failed;
};

/* How a job's main process ended. */
enum proto_end {
    PROTO_END_EXITED = 1,
    PROTO_END_SIGNALED,
    PROTO_END_SPAWN_ERROR,
    PROTO_END_NOT_STARTED /* withdrawn by a KILL before it started */
};
/* Why the worker ended it, if it did. */
enum proto_cause {
    PROTO_CAUSE_NONE = 0,
    PROTO_CAUSE_TIMEOUT,
    PROTO_CAUSE_KILLED,
    PROTO_CAUSE_FENCED /* the node's lease ran out (PROTO_LEASE): killed by its worker */
};

/* Per-job resource limits: rlimits set in the job's child before exec, and cgroup limits
 * the worker writes on its leaf while the job runs. */
enum proto_limit {
    PROTO_LIMIT_NOFILE, /* RLIMIT_NOFILE: open files */
    PROTO_LIMIT_NPROC,  /* RLIMIT_NPROC: processes of the job's user (not enforced for root) */
    PROTO_LIMIT_CORE,   /* RLIMIT_CORE: core file bytes */
    PROTO_LIMIT_AS,     /* RLIMIT_AS: address space bytes */
    PROTO_LIMIT_MEMORY, /* cgroup memory.max (v1 memory.limit_in_bytes): bytes */
    PROTO_LIMIT_PIDS,   /* cgroup pids.max: processes and threads of the job */
    PROTO_LIMIT_CPU,    /* cgroup cpu.max (v1 cpu.cfs_quota_us): thousandths of a CPU */
    PROTO_LIMITS
};
/* A set of limits; all zero is none (the job inherits the worker's). */
struct proto_limits {
    uint32_t set;            /* bit (1u << limit): v[limit] applies */
    int64_t v[PROTO_LIMITS]; /* >= 0 where set */
};
/* The API name of a limit ("nofile", ...). */
const char *proto_limit_name(int limit);

/* RUN payload: everything a worker needs to start one job. Strings point into the frame. */
struct proto_run {
    int64_t timeout_ms;    /* 0: no timeout */
    int64_t kill_grace_ms; /* SIGTERM -> SIGKILL delay on timeout */
    uint64_t max_output;   /* bytes kept per stream */
    const char *cwd;       /* absolute directory */
    const char *stdout_path, *stderr_path;
    const char *argv_blob; /* argc NUL-terminated strings back to back */
    uint32_t argv_len;
    const char *env_blob; /* "K=V" strings, added to the worker's environment */
    uint32_t env_len;
    const char *stdin_data; /* fed on the job's standard input */
    uint32_t stdin_len;
    const char *stdin_path; /* or, if not empty, this file is (stdin_from: the producer's
                             * capture file; missing: empty stdin) */
    const char *stages;     /* a pipeline: decimal argc of each stage, NUL-separated, whose
                             * argvs follow each other in argv_blob; empty: one command */
    uint32_t stages_len;
    struct proto_limits limits;
};

/* Stages of a pipeline at most. */
#define PROTO_MAX_STAGES 16
/* Parses run->stages into argc (PROTO_MAX_STAGES entries); returns the stage count (1 for a
 * plain command), or -1 if malformed (counts not matching argv, too many, a zero). */
int proto_run_stages(const struct proto_run *r, int argc[PROTO_MAX_STAGES]);

/* STARTED payload. */
struct proto_started {
    int32_t pid;      /* the job's main process (and process group) */
    int32_t reserved; /* zero */
    int64_t start_us; /* CLOCK_MONOTONIC µs when it was started */
};

/* KILL payload: a signal for a job (0: withdraw it if it has not started) and the ms from
 * it to SIGKILL. */
struct proto_kill {
    uint32_t sig;     /* < NSIG */
    int64_t grace_ms; /* >= 0 */
};

/* Where a DONE's usage figures come from: set, the job's cgroup leaf (the whole tree, the
 * worker's own share taken out); clear, the rusage of the main process and what it waited
 * for. */
#define PROTO_USAGE_CPU_CGROUP 1u    /* user_us, system_us: cpu.stat */
#define PROTO_USAGE_MEMORY_CGROUP 2u /* maxrss_kb: memory.peak */

/* DONE payload: the outcome of one job. */
struct proto_done {
    int32_t pid;      /* the job's main process, 0 if none was started */
    int64_t start_us; /* CLOCK_MONOTONIC µs when it was started, 0 if not */
    uint8_t end;      /* enum proto_end */
    uint8_t cause;    /* enum proto_cause */
    int32_t code;     /* exit status, signal number, or errno for a spawn error */
    uint64_t stdout_bytes, stderr_bytes;
    uint8_t truncated; /* bit 0: stdout, bit 1: stderr */
    int64_t user_us, system_us, maxrss_kb;
    uint8_t usage_from; /* PROTO_USAGE_* bits: which figures the cgroup leaf gave */
    char error[256];    /* human text for a spawn error, else empty */
};

/* Appends raw bytes; on allocation failure sets `failed`. */
void proto_put_bytes(struct proto_buf *b, const void *p, size_t n);
/* Appends an integer in host byte order (both ends are one binary on one host). */
void proto_put_u32(struct proto_buf *b, uint32_t v);
void proto_put_i64(struct proto_buf *b, int64_t v);
/* Appends a length-prefixed byte string (u32 length, bytes, then one NUL). */
void proto_put_str(struct proto_buf *b, const char *s, size_t n);
/* Reads the next value; a short buffer sets `failed` and yields zero / NULL. */
uint32_t proto_get_u32(struct proto_buf *b);
int64_t proto_get_i64(struct proto_buf *b);
/* Returns a pointer into the buffer to a NUL-terminated string of *n bytes. */
const char *proto_get_str(struct proto_buf *b, uint32_t *n);
/* Frees the buffer's memory and zeroes it. */
void proto_buf_free(struct proto_buf *b);

/* Encodes a RUN payload into b. */
void proto_encode_run(struct proto_buf *b, const struct proto_run *r);
/* Decodes a RUN payload; returns 0, or -1 if malformed (wrong sizes, bad blobs). */
int proto_decode_run(struct proto_buf *b, struct proto_run *r);
/* Encodes / decodes a STARTED payload; decode returns 0, or -1 if malformed (wrong size, pid
 * not positive, reserved not zero). */
void proto_encode_started(struct proto_buf *b, const struct proto_started *s);
int proto_decode_started(struct proto_buf *b, struct proto_started *s);
/* Encodes / decodes a KILL payload; decode returns 0, or -1 if malformed (wrong size, a
 * signal out of range, a negative grace). */
void proto_encode_kill(struct proto_buf *b, const struct proto_kill *k);
/* A LEASE's payload: the lease holds for ms from now (0: no lease). */
void proto_encode_lease(struct proto_buf *b, int64_t ms);
/* Decodes a LEASE's payload (exactly one ms >= 0). 0 or -1. */
int proto_decode_lease(struct proto_buf *b, int64_t *ms);
int proto_decode_kill(struct proto_buf *b, struct proto_kill *k);
/* Encodes / decodes a DONE payload; decode returns 0 or -1 if malformed. */
void proto_encode_done(struct proto_buf *b, const struct proto_done *d);
int proto_decode_done(struct proto_buf *b, struct proto_done *d);

/* Appends one whole frame (header and payload) to out, for writing several at once. */
void proto_put_frame(struct proto_buf *out, enum proto_type type, int64_t job_id,
                     const void *payload, size_t len);
/* Writes all n bytes to a blocking fd, retrying on EINTR and short writes. 0 or -1. */
int proto_write_all(int fd, const void *p, size_t n);
/* Writes one whole frame to a blocking fd, retrying on EINTR and short writes.
 * Returns 0, or -1 with errno set. */
int proto_send(int fd, enum proto_type type, int64_t job_id, const void *payload, size_t len);

/* Incoming frames: bytes are fed in, whole frames taken out. */
struct proto_reader {
    unsigned char *data;
    size_t len, cap;
};
/* Reads what is available from fd into the reader (one read call).
 * Returns bytes read, 0 on EOF, -1 with errno (EAGAIN when nothing is ready). */
long proto_reader_fill(struct proto_reader *r, int fd);
/* Takes the next whole frame: 1 with *h and payload (copied into *payload, reset first),
 * 0 if more bytes are needed, -1 if the stream is corrupt (bad version, type or length). */
int proto_reader_next(struct proto_reader *r, struct proto_header *h, struct proto_buf *payload);
/* Frees the reader's memory. */
void proto_reader_free(struct proto_reader *r);

/* Counts the NUL-terminated strings in a blob; -1 if the blob does not end in NUL. */
long proto_blob_count(const char *blob, uint32_t len);

#endif
