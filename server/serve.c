/* serve: bring the server up in the one safe order (pool forked before any thread or
 * database connection), run the main loop, and take it down again. */
#include "server/serve.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pool/ledger.h"
#include "pool/pool.h"
#include "pool/limits.h"
#include "pool/tree.h"
#include "server/clock.h"
#include "server/db.h"
#include "server/log.h"
#include "server/notify_systemd.h"
#include "server/output_ship.h"
#include "server/loop.h"

static int make_dir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
        errno = ENOTDIR;
    }
    log_error("mkdir() failed while creating %s: %s", path, strerror(errno));
    return -1;
}

/* Raises the master's soft open-files limit (toward the hard one) so --max-connections
 * connections fit, each with the output file an answer may be reading; warns when even the
 * hard limit is too low. Workers get the old limit
 * back (pool.c), so jobs see the limit they were started under. */
static void raise_nofile(const struct config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    rlim_t need = 2 * (rlim_t)cfg->max_connections + 64 + 4 * (rlim_t)cfg->workers;
    if (rl.rlim_cur >= need) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        log_warn("the open-files limit is %llu but --max-connections %d needs about %llu: "
                 "raise it (ulimit -n, LimitNOFILE=, --ulimit nofile=) or lower "
                 "--max-connections",
                 (unsigned long long)rl.rlim_cur, cfg->max_connections, (unsigned long long)need);
}

static const struct config *g_cfg; /* for recover_delay */

/* How long a server started while PostgreSQL is unreachable waits for it (seconds). */
#define DB_WAIT_S 60

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Takes the data dir's lock for the life of the process; -1 (logged) if another server
 * holds it. */
static int lock_data_dir(const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/spawnpool.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("open() failed while locking the data dir %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        log_error("the data dir %s is in use by another spawnpool server (%s is locked)", dir,
                  path);
        close(fd);
        return -1;
    }
    /* the lock file names the master, for kill -HUP $(cat DATA_DIR/spawnpool.lock): it is
     * only ever rewritten by the process that holds the lock, so it is never stale */
    if (ftruncate(fd, 0) < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0)
        log_warn("writing the pid to %s failed: %s", path, strerror(errno));
    return fd;
}

/* True if a postgresql:// URL carries a password (user:password@host). */
static bool url_has_password(const char *url)
{
    const char *scheme = strstr(url, "://"), *at = strchr(url, '@');
    if (!db_target_is_postgres(url) || !scheme || !at) return false;
    const char *colon = strchr(scheme + 3, ':');
    return colon && colon < at;
}

static int64_t recover_delay(double backoff, int attempt)
{
    return dispatch_retry_delay_ms(g_cfg, backoff, attempt);
}

/* The limits the config asks for (--limit-*, templates) must be enforceable here: rlimits
 * settable, memory, pids and cpu with a cgroup controller. A limit silently not applied would be
 * worse than none, and one that fails every job is better refused at start. */
static int check_limits(const struct config *cfg)
{
    /* rlimits above this server's hard limits that it may not raise would fail every job */
    for (size_t i = 0; i <= cfg->tasks.n; i++) {
        const struct proto_limits *l =
            i < cfg->tasks.n ? &cfg->tasks.tasks[i].limits : &cfg->limits;
        int which;
        if (limits_probe_rlimits(l, &which) == 0) continue;
        int64_t hard;
        char why[160];
        if (geteuid() != 0 && limits_hard(which, &hard))
            snprintf(why, sizeof why,
                     "above this server's hard limit (%lld), which it may not raise (that "
                     "needs root or CAP_SYS_RESOURCE)",
                     (long long)hard);
        else
            snprintf(why, sizeof why, "refused by the kernel%s",
                     which == PROTO_LIMIT_NOFILE ? " (nofile may not exceed fs.nr_open)" : "");
        if (i < cfg->tasks.n)
            log_error("task %s: its %s limit %lld cannot be set here: %s", cfg->tasks.tasks[i].name,
                      proto_limit_name(which), (long long)l->v[which], why);
        else
            log_error("--limit-%s %lld cannot be set here: %s", proto_limit_name(which),
                      (long long)l->v[which], why);
        return -1;
    }
    /* a template's output cap and backoff are within the server's, as a job's must be */
    for (size_t i = 0; i < cfg->tasks.n; i++) {
        const struct task_template *t = &cfg->tasks.tasks[i];
        if (t->max_output > cfg->max_output) {
            log_error("task %s: its max_output %lld is above --max-output %lld", t->name,
                      (long long)t->max_output, (long long)cfg->max_output);
            return -1;
        }
        if (t->has_retry_backoff && t->retry_backoff > cfg->retry_backoff_max) {
            log_error("task %s: its retry_backoff %g is above --retry-backoff-max %g", t->name,
                      t->retry_backoff, cfg->retry_backoff_max);
            return -1;
        }
    }
    static const int cgroup_limits[] = {PROTO_LIMIT_MEMORY, PROTO_LIMIT_PIDS, PROTO_LIMIT_CPU};
    for (size_t k = 0; k < sizeof cgroup_limits / sizeof cgroup_limits[0]; k++) {
        int which = cgroup_limits[k];
        if (limits_supported(which)) {
            log_info("%s limits are enforced with %s", proto_limit_name(which),
                     limits_where(which));
            continue;
        }
        char who[128] = "";
        if (cfg->limits.set & (1u << which))
            snprintf(who, sizeof who, "--limit-%s", proto_limit_name(which));
        for (size_t i = 0; !who[0] && i < cfg->tasks.n; i++)
            if (cfg->tasks.tasks[i].limits.set & (1u << which))
                snprintf(who, sizeof who, "task %.100s", cfg->tasks.tasks[i].name);
        if (who[0]) {
            log_error("%s asks for a %s limit, but spawnpool has no cgroup %s controller here "
                      "(cgroup v2: enable it in the parent's cgroup.subtree_control, e.g. "
                      "systemd's Delegate=yes; or mount the cgroup v1 %s hierarchy)",
                      who, proto_limit_name(which), proto_limit_name(which),
                      proto_limit_name(which));
            return -1;
        }
        log_info("%s limits cannot be enforced here (no cgroup %s controller): jobs asking "
                 "for one are refused",
                 proto_limit_name(which), proto_limit_name(which));
    }
    return 0;
}

void serve_caps_read(struct serve_caps *caps)
{
    caps->kill_mechanism = tree_mechanism();
    for (int i = 0; i < PROTO_LIMITS; i++) {
        caps->limit_where[i] = limits_where(i);
        caps->limit_supported[i] = limits_supported(i);
        if (!limits_hard(i, &caps->limit_hard[i])) caps->limit_hard[i] = -1;
    }
}

/* Opens the store. PostgreSQL may not be up yet (a container started beside it, a machine
 * booting): while it does not answer, or turns connections away for now, the open is tried
 * again every second for DB_WAIT_S, logged every 10 s; SIGTERM or SIGINT (blocked, read here)
 * ends the wait. 0, or -1 with err. */
static int open_store(struct store **store, const char *target, char *err, size_t errlen)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    int64_t began = clock_mono_ms(), logged = 0;
    for (;;) {
        int rc = store_open(store, target, err, errlen);
        if (rc != DB_UNREACHABLE) return rc;
        int64_t waited = clock_mono_ms() - began;
        if (waited >= DB_WAIT_S * 1000) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " (waited %d s for it)", DB_WAIT_S);
            return -1;
        }
        if (logged == 0 || waited - logged >= 10000) {
            log_warn("%s: waiting for it (up to %d s)", err, DB_WAIT_S);
            logged = waited ? waited : 1;
        }
        struct timespec second = {1, 0};
        if (sigtimedwait(&stop, NULL, &second) > 0) {
            snprintf(err, errlen, "stopped while waiting for the database");
            return -1;
        }
    }
}

int serve_run(const struct config *cfg, const struct serve_frontend *fe)
{
    char path[PATH_MAX + 32];
    if (make_dir(cfg->data_dir) < 0) return 1;
    snprintf(path, sizeof path, "%s/output", cfg->data_dir);
    if (make_dir(path) < 0) return 1;

    /* the store's password is the server's only: out of the environment workers and jobs
     * inherit (and of /proc/PID/environ) before any fork */
    db_keep_password();
    /* a node cut off from its database learns it within a quarter of its lease, so it fences
     * itself (at half) before another node may rescue its jobs (at the whole) */
    db_set_network_timeout((int)(cfg->node_timeout * 250));
    char app_name[96];
    snprintf(app_name, sizeof app_name, "spawnpool %s", cfg->node);
    db_set_application_name(app_name);
    if (url_has_password(cfg->database))
        log_warn("--database carries a password: every user of this machine sees it in the "
                 "process list; give it in PGPASSFILE or PGPASSWORD instead");
    /* every signal we handle is read from a signalfd; block them before any fork or thread */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    notify_systemd_init(); /* before the pool's forks: workers and jobs never see it */

    /* one server per data dir: its database, its output and its cgroup leaves */
    int lock_fd = lock_data_dir(cfg->data_dir);
    if (lock_fd < 0) return 1;
    /* orphans of a dead worker's job come to us, not to init: we can kill and reap them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* leaves are named for the data dir (to find a dead run's) and the master's pid (so a
     * live server on the same path, its data dir removed under it, is never taken for one) */
    char err[512], instance[40];
    snprintf(instance, sizeof instance, "%016llx-%d", (unsigned long long)fnv1a(cfg->data_dir),
             (int)getpid());
    if (tree_setup(cfg->kill_mechanism, instance, err, sizeof err) < 0) {
        log_error("%s", err);
        close(lock_fd);
        return 1;
    }
    tree_remove_stale();
    log_info("job trees are killed with: %s", tree_mechanism());
    limits_setup(instance);
    limits_remove_stale();
    if (check_limits(cfg) < 0) { /* a configuration this machine cannot honour: exit 2 */
        close(lock_fd);
        return 2;
    }
    struct serve_caps caps; /* what the front end reports and checks submits against */
    serve_caps_read(&caps);

    /* which jobs the last run's workers began to start: its ledger is set aside before this
     * run's is made, and dropped once the recovery that used it is committed */
    int64_t *started = NULL;
    size_t n_started = 0;
    int took = ledger_take(cfg->data_dir, &started, &n_started);
    if (took < 0)
        log_warn("reading the start ledger in %s failed: %s (held jobs count as maybe run)",
                 cfg->data_dir, strerror(errno));
    bool ledger_known = took == 0;
    int ledger_fd = ledger_open(cfg->data_dir, cfg->workers);
    if (ledger_fd < 0)
        log_warn("making the start ledger in %s failed: %s (after a crash, held jobs would "
                 "count as maybe run)",
                 cfg->data_dir, strerror(errno));

    struct pool pool;
    if (pool_init(&pool, cfg->workers) == 0) {
        pool.ledger_fd = ledger_fd;
        pool.close_in_child = lock_fd;
        pool.run_as = cfg->run_as[0] != '\0';
        pool.uid = cfg->run_uid;
        pool.gid = cfg->run_gid;
    }
    if (pool.slots == NULL || pool_fork_all(&pool) < 0) {
        log_error("starting the worker pool failed: %s", strerror(errno));
        free(started);
        return 1;
    }
    raise_nofile(cfg);
    int status = 1;
    struct store *store = NULL;
    struct dispatch *d = NULL;
    struct output_ship *ship = NULL;
    void *fe_handle = NULL;
    int epoll_fd = -1, sigfd = -1;

    if (open_store(&store, cfg->database, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    if (store_set_durability(store, strcmp(cfg->durability, "full") == 0) < 0) goto out;
    g_cfg = cfg;
    /* this node's lease first (its jobs carry it; a node rescuing it meanwhile is fenced off);
     * its URL is known once it listens */
    bool clustered = db_target_is_postgres(cfg->database);
    int in_use =
        clustered ? store_node_in_use(store, cfg->node, (int64_t)(cfg->node_timeout * 1000)) : 0;
    if (in_use != 0) {
        if (in_use > 0)
            log_error("node %s: another server renews this name's lease: give each node its own "
                      "--node",
                      cfg->node);
        status = 2;
        goto out;
    }
    if (store_node_register(store, cfg->node, cfg->advertise_url, SPAWNPOOL_VERSION) < 0) goto out;
    /* on PostgreSQL only the jobs this node held: the others' are theirs (or a rescue's) */
    struct store_recovery rec = {.node = clustered ? cfg->node : NULL,
                                 .started = started,
                                 .n_started = n_started,
                                 .started_known = ledger_known};
    int recovered = store_recover(store, clock_wall_ms(), recover_delay, &rec);
    free(started);
    started = NULL;
    if (recovered < 0) goto out;
    ledger_forget(cfg->data_dir);
    if (rec.terminated)
        log_warn("recovery: %d jobs asked to terminate before the last stop ended (terminated, "
                 "or canceled if they never started)",
                 rec.terminated);
    if (rec.lost || rec.requeued)
        log_warn("%d job(s) may have been running when the server last stopped: %d lost, %d "
                 "queued again (attempts left)",
                 rec.lost + rec.requeued, rec.lost, rec.requeued);
    if (rec.released)
        log_info("%d job(s) a worker held but never started: queued again, no attempt counted",
                 rec.released);

    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    if (epoll_fd < 0 || sigfd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, sigfd, &ev) < 0) {
        log_error("setting up the main loop failed: %s", strerror(errno));
        goto out;
    }
    d = dispatch_create(cfg, store, &pool, epoll_fd);
    if (!d || dispatch_nodes_start(d) < 0) goto out;
    /* on PostgreSQL the other nodes read this node's job output from the database */
    if (store_output_shared(store) && output_ship_start(&ship, cfg, d, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    int port = 0;
    fe_handle = fe->start(cfg, &caps, d, store, &port);
    if (!fe_handle) goto out;
    const char *host = cfg->listen_host;
    bool v6 = strchr(host, ':') != NULL;
    printf("spawnpool: listening on %s://%s%s%s:%d\n", cfg->tls_cert[0] ? "https" : "http",
           v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (!cfg->advertise_url[0]) { /* what the other nodes and GET /v1/nodes show */
        char url[300];
        snprintf(url, sizeof url, "%s://%s%s%s:%d", cfg->tls_cert[0] ? "https" : "http",
                 v6 ? "[" : "", host, v6 ? "]" : "", port);
        store_node_set_url(store, url);
    }
    fflush(stdout);
    char ready[160];
    snprintf(ready, sizeof ready, "listening on port %d with %d workers", port, cfg->workers);
    notify_systemd_ready(ready);
    log_info("spawnpool %s: pid %d, %d workers, data in %s", SPAWNPOOL_VERSION, (int)getpid(),
             cfg->workers, cfg->data_dir);
    if (clustered) /* (the URL may carry a password: not logged) */
        log_info("store: PostgreSQL; node %s (lease epoch %lld, --node-timeout %.0f s)", cfg->node,
                 (long long)store_node_epoch(store), cfg->node_timeout);
    else
        log_info("store: SQLite, %s", cfg->database);
    if (cfg->run_as[0])
        log_info("jobs run as %s (uid %u, gid %u, no supplementary groups)", cfg->run_as,
                 (unsigned)cfg->run_uid, (unsigned)cfg->run_gid);
    else if (getuid() == 0)
        log_warn("running as root: jobs run as root too (give --run-as USER to drop that)");

    status = loop_run(cfg, d, epoll_fd, sigfd, fe, fe_handle);
    dispatch_loop_close(d);
    size_t unsaved = d ? dispatch_loop_unsaved(d) : 0;
    if (unsaved)
        log_error("exiting with %zu changes the store could not commit: the jobs they concern "
                  "are recovered at the next start (lost, or queued again)",
                  unsaved);
    else
        log_info("drained: every job's state is recorded; exiting");
    if (!unsaved) store_node_release(store); /* (its name is free for a restart at once) */
out:
    free(started);
    if (fe_handle) fe->stop(fe_handle);
    pool_shutdown(&pool, 2000);
    tree_remove_own(cfg->workers);
    limits_remove_own(cfg->workers);
    output_ship_stop(ship); /* (its last round: the output of the jobs that ended draining) */
    dispatch_destroy(d);
    store_close(store);
    if (sigfd >= 0) close(sigfd);
    if (epoll_fd >= 0) close(epoll_fd);
    close(lock_fd);
    return status;
}
