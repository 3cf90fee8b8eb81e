/* pool: the table of worker processes. Starts them (fork before the master has threads,
 * re-exec of the binary afterwards), talks to them over socketpairs, notices their death. */
#ifndef SPAWNPOOL_POOL_H
#define SPAWNPOOL_POOL_H

#include <limits.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pool/proto.h"

/* A slot's life; pool_slot_move is the one place it changes, and says which moves are legal:
 *
 *                fork, or re-exec         READY                a job reserved for it
 *     DEAD ----------------------> STARTING -------> IDLE  <-------------------------> BUSY
 *      ^                               |              |     its last job ended or went   |
 *      | reaped (waitpid)              |              |     back                         |
 *      |                               v              v                                  v
 *      +------------------------------ EXITING <----------------------------------------+
 *                                 the master gave up on it (EOF, a corrupt frame, a failed
 *                                 write): SIGKILLed, unwatched, nothing more sent or assigned
 *
 * A worker that dies on its own goes from STARTING, IDLE or BUSY straight to DEAD when it is
 * reaped. pool_init makes every slot DEAD. */
enum pool_slot_state { SLOT_STARTING, SLOT_IDLE, SLOT_BUSY, SLOT_EXITING, SLOT_DEAD };

/* One worker process and its channel. */
struct pool_slot {
    int index; /* 0-based position, stable across respawns */
    pid_t pid; /* 0 while dead */
    int fd;    /* master's end of the channel, -1 while dead */
    enum pool_slot_state state;
    int64_t job_id;             /* job it runs, 0 if none */
    uint64_t jobs_done;         /* jobs finished by this process */
    int64_t started_at;         /* wall clock ms when this process started */
    int64_t started_mono;       /* monotonic ms, to spot a worker dying young */
    int64_t respawn_at;         /* monotonic ms before which it is not respawned */
    int quick_deaths;           /* consecutive deaths soon after start (respawn backoff) */
    struct proto_reader reader; /* bytes from the worker not yet framed */
    struct proto_buf out;       /* frames for the worker not yet written (pos: written) */
};

struct pool {
    struct pool_slot *slots;
    int count;
    char exe[PATH_MAX];   /* this binary's path at startup (argv[0] of re-exec'd workers; they
                           * are exec'd from /proc/self/exe, the binary running) */
    int close_in_child;   /* an fd of the master's that forked workers must not keep, or -1 */
    struct rlimit nofile; /* RLIMIT_NOFILE at start: workers (so jobs) get it back */
    bool run_as;          /* jobs run as uid:gid (--run-as) */
    int ledger_fd;        /* pool/ledger.h's file, handed to re-exec'd workers as fd 4; -1 */
    uid_t uid;
    gid_t gid;
};

/* Allocates count slots and resolves the executable path. Returns 0 or -1. */
int pool_init(struct pool *p, int count);
/* Forks a worker for every slot; only call before any thread exists.
 * In the children this never returns (they run worker_main and exit). Returns 0 or -1. */
int pool_fork_all(struct pool *p);
/* Starts a replacement worker in slot i by fork+exec of `exe worker --fd 3 --index i`.
 * Returns 0 or -1 (errno set). */
int pool_respawn(struct pool *p, int i);
/* Moves slot s to state `to` (see the life above; staying put is no move). Returns false if
 * that is not a legal move: it is made all the same (the caller logs the bug). */
bool pool_slot_move(struct pool_slot *s, enum pool_slot_state to);
/* The state's name, for logs ("starting", "idle", "busy", "exiting", "dead"). */
const char *pool_slot_state_name(enum pool_slot_state state);
/* Returns the slot whose process is pid, or NULL. */
struct pool_slot *pool_slot_by_pid(struct pool *p, pid_t pid);
/* Marks a slot dead after its process was reaped: closes its channel, schedules respawn
 * with backoff (0 ms, doubling while it keeps dying within a second of start, max 30 s). */
void pool_slot_dead(struct pool *p, struct pool_slot *s, int64_t now_mono);
/* Queues RUN for job id with the encoded payload (sent by pool_flush). 0, or -1 (ENOMEM). */
int pool_queue_run(struct pool_slot *s, int64_t id, const struct proto_buf *payload);
/* Queues LEASE{ms} (the node's lease holds for ms from now) and tries to send it at once.
 * Returns as pool_flush does. */
int pool_send_lease(struct pool_slot *s, int64_t ms);
/* Queues KILL{signal, grace} for job id and tries to send it at once. Returns as
 * pool_flush does. */
int pool_send_kill(struct pool_slot *s, int64_t id, int sig, int64_t grace_ms);
/* Writes queued frames without blocking (a stalled worker never stalls the master).
 * Returns 0 when all are written, 1 when some wait for the socket to drain (watch it for
 * EPOLLOUT), -1 on error (the worker is gone). */
int pool_flush(struct pool_slot *s);
/* Closes every channel (workers exit, killing their jobs), waits up to timeout_ms for
 * them, SIGKILLs the rest, and frees the table. */
void pool_shutdown(struct pool *p, int64_t timeout_ms);

#endif
