/* spawn: start one job's process (own process group, fds 0-2 wired, nothing else open)
 * and keep its output within a cap. Used by the worker; knows nothing of HTTP or SQL. */
#ifndef SPAWNPOOL_SPAWN_H
#define SPAWNPOOL_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pool/proto.h"
#include "pool/tree.h"

/* One captured stream: a pipe the job writes, a file we copy it into. The file is made
 * when the first byte arrives (most jobs of a busy pool print nothing). */
struct spawn_stream {
    int pipe_fd;      /* read end, -1 once closed */
    int file_fd;      /* capture file, -1 until the first byte or once closed */
    const char *path; /* capture file path (points into the RUN message) */
    bool open_failed; /* the file could not be made: bytes are dropped, truncated set */
    uint64_t kept;    /* bytes written to the file */
    bool truncated;
};

/* A started job. */
struct spawn_job {
    pid_t pid;       /* main process (a pipeline's first stage), also its process group id */
    pid_t last;      /* the process whose exit is the job's: the last stage (pid for one) */
    int stages_left; /* stages not reaped yet */
    pid_t stage_pids[PROTO_MAX_STAGES];
    int n_stages;
    struct spawn_stream out, err;
    uint64_t max_output; /* bytes kept per stream */
};

/* Records which signals this process does not leave at their default, so a job's child
 * resets only those (call once at worker start; without it every signal is reset). */
void spawn_init(void);
/* Jobs started from now on run as uid:gid with no supplementary groups (--run-as). */
void spawn_set_identity(uid_t uid, gid_t gid);
/* on: jobs started from now on set their oom_score_adj to score (the worker's own one, which
 * it lowered for a job with a memory limit); off: they inherit the worker's. */
void spawn_set_oom_score(int score, bool on);
/* Starts the job described by run, in tree (its cgroup leaf, if any; NULL: none). Returns 0
 * with *job filled, or -1 with a spawn error in *done (end = PROTO_END_SPAWN_ERROR,
 * code = errno, error = text; exit status 127). */
int spawn_start(const struct proto_run *run, const struct tree *tree, struct spawn_job *job,
                struct proto_done *done);

/* Moves what is readable from a stream's pipe into its file, dropping bytes past the cap.
 * Returns 1 while the pipe is open, 0 at EOF (pipe closed). */
int spawn_drain(struct spawn_job *job, struct spawn_stream *s);

/* Sends sig to the job's process group only (tree_signal reaches the whole tree); a group
 * already gone is not an error. */
void spawn_signal_tree(const struct spawn_job *job, int sig);

/* Closes every fd the job still holds open in the worker. */
void spawn_close(struct spawn_job *job);

/* Builds the environment for a job: the worker's environ with the overrides applied.
 * Returns a malloc'd NULL-terminated array (strings not copied), or NULL on ENOMEM. */
char **spawn_build_env(const char *env_blob, uint32_t env_len);

#endif
