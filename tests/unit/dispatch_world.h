/* dispatch_world: the fake pool tests/unit/test_dispatch.c drives the dispatcher over (see
 * its top): a world of worker slots played by the test over socketpairs, a real store,
 * ledger, epoll, waitpid and respawn; one main-loop batch at a time, with a failed commit
 * injected when W.inject is set. */
#ifndef SPAWNPOOL_TEST_DISPATCH_WORLD_H
#define SPAWNPOOL_TEST_DISPATCH_WORLD_H

#include <stdbool.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "pool/pool.h"
#include "pool/proto.h"
#include "server/config.h"
#include "server/dispatch_internal.h"
#include "server/store.h"

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        check_count++;                                                                             \
        if (strcmp(check_a_, check_b_) != 0) {                                                     \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__,        \
                    __LINE__, #a, #b, check_a_, check_b_);                                         \
        }                                                                                          \
    } while (0)

#define SLOTS 3
#define TEXT 4096

/* One scenario's world. */
struct world {
    bool inject; /* every step's batch fails to commit once before its retry */
    char dir[64], db[128];
    struct config cfg;
    struct store *store;
    struct pool pool;
    int epfd;
    struct dispatch *d;
    int wfd[SLOTS];                /* the worker's end of each channel: the test plays it */
    struct proto_reader rd[SLOTS]; /* what the dispatcher wrote to it, not framed yet */
    char recent[SLOTS][TEXT];      /* frames each worker got since the last take() */
    char all[SLOTS][TEXT];         /* ... since the start */
    char finished[TEXT];           /* the finish hook's calls */
    int64_t fin_ids[64];           /* ... their ids */
    int n_fin;
    char answers[TEXT]; /* commands answered, in order */
    int wrote_answers;  /* answers of commands that wrote */
    pid_t strays[8];    /* processes a dead worker's job "left behind" */
    int n_strays;
    sqlite3 *outside; /* holds the write lock while set */
    char summary[4 * TEXT];
};
extern struct world W;

/* The checks made in dispatch_world.c (check.h counts per file): add them to the report. */
void world_checks(int *count, int *failures);
#define ROW(id, state, attempt, worker) check_row(__LINE__, id, state, attempt, worker)

/* printf into one of 8 rotating static buffers (for short-lived strings). */
const char *fmt(const char *f, ...);
/* Sleeps ms milliseconds (through EINTR). */
void sleep_ms(int64_t ms);
/* The frames slot's worker got since the last take (and forgets them). */
const char *take(int slot);
/* The worker of slot says READY. */
void w_ready(int slot);
/* The worker of slot says job id STARTED. */
void w_started(int slot, int64_t id);
/* The worker of slot says job id is DONE: end, code and cause as given. */
void w_done(int slot, int64_t id, enum proto_end end, int code, enum proto_cause cause);
/* The worker of slot says job id exited with code. */
void w_exited(int slot, int64_t id, int code);
/* The worker of slot gives job id back: DONE "not started". */
void w_not_started(int slot, int64_t id);
/* Kills slot's worker and waits until it is a zombie (reaped by dispatch_loop_reap). */
void kill_worker(int slot);
/* A process the dead worker's job left behind (in process-group mode, an orphan of the
 * master's outside every live worker: tree_kill_slot finds and kills it). */
void add_stray(void);
/* One main-loop iteration: the ready channels (as epoll says), reaping if asked, the end. */
void batch(bool reap);
/* Another connection takes the write lock and keeps it: the store's next BEGIN fails (after
 * a busy timeout cut from 5 s to 20 ms, so that the test does not wait). */
void lock_db(void);
/* The outside connection lets the write lock go. */
void unlock_db(void);
/* After a failed batch: waits out the store's backoff and runs the batch that replays the
 * journal; it must commit. */
void retry(void);
/* The batch that carries a transition (what a worker said, a command, a death). With
 * W.inject it first runs with the database locked: it must fail and let nothing out (no
 * RUN to any worker, no finish hook, no answer of a command that wrote); `during` (if set)
 * checks the state meanwhile; then the lock goes and the retry commits. */
void step_during(bool reap, void (*during)(void));
/* step_during without a check while the batch is failed. */
void step(bool reap);
/* A world of n workers; the first `ready` of them said READY (the others are STARTING). */
void setup(int n, int ready);
/* Writes the end state (every row, every frame, every answer and finish) into W.summary
 * and tears the world down. */
void teardown(void);
/* Runs a scenario plainly, then with every step's batch failing once: both must end alike. */
void twice(const char *name, void (*scenario)(void));
/* Hands the main loop a terminate of job id (carried out by the next batch). */
void terminate(int64_t id);
/* Submits one short job (max_attempts as given) through a batch; its id. */
int64_t submit(int max_attempts);
/* Submits a gang member of group (size members) through a batch; its id. */
int64_t submit_member(const char *group, int size);
/* Checks job id's row: state, attempt and worker (-1: none); line: the caller's (ROW). */
void check_row(int line, int64_t id, enum job_state state, int attempt, int worker);
/* The phase of the slot's current job (k < 0) or its k-th held one, with its id. */
const char *phase(int slot, int k);
/* Slot's state as /v1/workers names it. */
const char *state(int slot);
/* `test_dispatch worker ...`: what pool_respawn execs here. Says READY on fd 3 and waits
 * for the end of its channel. */
int fake_worker(void);

#endif
