/* limits: rlimits in the child; memory.max / pids.max / cpu.max on the worker's cgroup. */
#include "pool/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Worker environment: "v2" (the tree leaf) or "v1:<instance>:<dir>" (leaves made in dir). */
#define MEMORY_ENV "SPAWNPOOL_CGROUP_MEMORY"
#define PIDS_ENV "SPAWNPOOL_CGROUP_PIDS"
#define CPU_ENV "SPAWNPOOL_CGROUP_CPU"

/* The cgroup controllers of the limits, by slot: [0] memory, [1] pids, [2] cpu. */
#define NCONTROLLERS 3
static const char *const g_env[NCONTROLLERS] = {MEMORY_ENV, PIDS_ENV, CPU_ENV};

/* cpu.max's period: a cpu limit of c CPUs is a quota of c * period per period. */
#define CPU_PERIOD_US 100000

enum where { NONE, V2, V1 };
static enum where g_where[NCONTROLLERS];
static char g_v1_dir[NCONTROLLERS][PATH_MAX]; /* v1: the master's cgroup in that hierarchy */
static char g_instance[40];

static int slot_of(int limit)
{
    return limit == PROTO_LIMIT_MEMORY ? 0
           : limit == PROTO_LIMIT_PIDS ? 1
           : limit == PROTO_LIMIT_CPU  ? 2
                                       : -1;
}

bool limits_supported(int limit)
{
    int k = slot_of(limit);
    return k < 0 ? limit >= 0 && limit < PROTO_LIMITS : g_where[k] != NONE;
}

const char *limits_where(int limit)
{
    int k = slot_of(limit);
    return k < 0              ? "rlimit"
           : g_where[k] == V2 ? "cgroup v2"
           : g_where[k] == V1 ? "cgroup v1"
                              : "none";
}

static int write_file(const char *dir, const char *file, const char *text)
{
    char p[PATH_MAX + 64];
    if (snprintf(p, sizeof p, "%s/%s", dir, file) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    int rc = write(fd, text, n) == (ssize_t)n ? 0 : -1;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Whether the space-separated list in dir/file has word. */
static bool file_has_word(const char *dir, const char *file, const char *word)
{
    char p[PATH_MAX + 64], buf[512];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "re");
    if (!f) return false;
    bool found = false;
    if (fgets(buf, sizeof buf, f))
        for (char *save, *w = strtok_r(buf, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
            found |= strcmp(w, word) == 0;
    fclose(f);
    return found;
}

/* cgroup v2: the leaves' parent must hand the controller down (cgroup.subtree_control).
 * If it does not and we may enable it, do; a parent with processes in it (ours: the
 * master) cannot, so the master first moves to a leaf of its own, as systemd's Delegate=
 * expects of a service. */
static bool v2_enable(const char *base, const char *controller)
{
    if (file_has_word(base, "cgroup.subtree_control", controller)) return true;
    if (!file_has_word(base, "cgroup.controllers", controller)) return false;
    char add[32];
    snprintf(add, sizeof add, "+%s", controller);
    if (write_file(base, "cgroup.subtree_control", add) == 0) return true;
    if (errno != EBUSY) return false;
    char main_leaf[PATH_MAX + 64];
    snprintf(main_leaf, sizeof main_leaf, "%s/spawnpool.%s.main", base, g_instance);
    if ((mkdir(main_leaf, 0755) < 0 && errno != EEXIST) ||
        write_file(main_leaf, "cgroup.procs", "0") < 0)
        return false;
    return write_file(base, "cgroup.subtree_control", add) == 0;
}

/* cgroup v1: the directory of our cgroup in the hierarchy mounted with controller. */
static bool v1_find(const char *controller, char *dir, size_t n)
{
    char line[4096], mount[PATH_MAX] = "", path[PATH_MAX] = "";
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return false;
    while (!mount[0] && fgets(line, sizeof line, f)) {
        char *sep = strstr(line, " - cgroup ");
        if (!sep) continue;
        char mp[PATH_MAX], opts[1024];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
            sscanf(sep + 10, "%*s %1023s", opts) != 1)
            continue;
        for (char *save, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
            if (strcmp(o, controller) == 0) snprintf(mount, sizeof mount, "%s", mp);
    }
    fclose(f);
    f = fopen("/proc/self/cgroup", "re");
    if (!f) return false;
    while (!path[0] && fgets(line, sizeof line, f)) { /* "4:memory:/some/path" */
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = '\0';
        b[1 + strcspn(b + 1, "\n")] = '\0';
        for (char *save, *c = strtok_r(a + 1, ",", &save); c; c = strtok_r(NULL, ",", &save))
            if (strcmp(c, controller) == 0) snprintf(path, sizeof path, "%s", b + 1);
    }
    fclose(f);
    if (!mount[0] || !path[0]) return false;
    if (strcmp(path, "/") == 0) path[0] = '\0';
    return snprintf(dir, n, "%s%s", mount, path) < (int)n - 64;
}

/* cgroup v1: a leaf can be made in dir and its limit file written. */
static bool v1_probe(const char *dir, const char *file, const char *value)
{
    char leaf[PATH_MAX + 64];
    snprintf(leaf, sizeof leaf, "%s/spawnpool.%s.probe", dir, g_instance);
    if (mkdir(leaf, 0755) < 0 && errno != EEXIST) return false;
    bool ok = write_file(leaf, file, value) == 0;
    rmdir(leaf);
    return ok;
}

void limits_setup(const char *instance)
{
    snprintf(g_instance, sizeof g_instance, "%s", instance);
    static const char *const controller[NCONTROLLERS] = {"memory", "pids", "cpu"};
    static const char *const v1_file[NCONTROLLERS] = {"memory.limit_in_bytes", "pids.max",
                                                      "cpu.cfs_quota_us"};
    static const char *const v1_none[NCONTROLLERS] = {"-1", "max", "-1"};
    const char *base = tree_cgroup_base();
    for (int k = 0; k < NCONTROLLERS; k++) {
        g_where[k] = NONE;
        unsetenv(g_env[k]);
        if (base && v2_enable(base, controller[k])) {
            g_where[k] = V2;
            setenv(g_env[k], "v2", 1);
        } else if (v1_find(controller[k], g_v1_dir[k], sizeof g_v1_dir[k]) &&
                   v1_probe(g_v1_dir[k], v1_file[k], v1_none[k])) {
            g_where[k] = V1;
            char value[PATH_MAX + 64];
            snprintf(value, sizeof value, "v1:%s:%s", g_instance, g_v1_dir[k]);
            setenv(g_env[k], value, 1);
        }
    }
}

static void v1_leaf(char *out, size_t n, const char *dir, const char *instance, int index)
{
    snprintf(out, n, "%s/spawnpool.%s.w%d", dir, instance, index);
}

/* Worker: its v1 leaves and their parents ("": none). It joins a leaf only for a job with
 * that limit and leaves it after: a memory and a pids cgroup level more cost every fork
 * and exec (~5% of the throughput of /bin/true jobs here), and unlimited jobs need none. */
static char g_v1_leaf[NCONTROLLERS][PATH_MAX + 64], g_v1_parent[NCONTROLLERS][PATH_MAX];
static bool g_in_v1_leaf[NCONTROLLERS];

/* Moves the worker into (or back out of) its v1 leaf of controller k. 0 or -1. */
static int v1_move(int k, bool in)
{
    if (!g_v1_leaf[k][0] || g_in_v1_leaf[k] == in) return 0;
    if (write_file(in ? g_v1_leaf[k] : g_v1_parent[k], "cgroup.procs", "0") < 0) return -1;
    g_in_v1_leaf[k] = in;
    return 0;
}

/* Opens file in the cgroup the worker uses for this controller (making its v1 leaf), whose
 * directory it leaves in dir. */
static int open_controller(const char *env, const struct tree *t, int index, const char *file,
                           const char *v1_name, bool *v1, char dir[PATH_MAX + 64])
{
    const char *v = getenv(env);
    char instance[40];
    int off = 0;
    *v1 = false;
    if (v && strcmp(v, "v2") == 0 && t->kind == TREE_CGROUP) {
        snprintf(dir, PATH_MAX + 64, "%s", t->path);
    } else if (v && sscanf(v, "v1:%39[0-9a-f-]:%n", instance, &off) == 1 && off > 0) {
        v1_leaf(dir, PATH_MAX + 64, v + off, instance, index);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) return -1;
        int k = 0;
        while (k + 1 < NCONTROLLERS && strcmp(env, g_env[k]) != 0)
            k++;
        snprintf(g_v1_leaf[k], sizeof g_v1_leaf[k], "%s", dir);
        snprintf(g_v1_parent[k], sizeof g_v1_parent[k], "%s", v + off);
        *v1 = true;
        file = v1_name;
    } else {
        return -1;
    }
    char p[PATH_MAX + 128];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return open(p, O_RDWR | O_CLOEXEC);
}

static bool lift(struct limits_cg *c);

void limits_open(struct limits_cg *c, const struct tree *t, int index)
{
    *c = (struct limits_cg){
        .memory_fd = -1, .swap_fd = -1, .pids_fd = -1, .events_fd = -1, .cpu_fd = -1};
    bool v1;
    char dir[PATH_MAX + 64], p[PATH_MAX + 128];
    c->memory_fd =
        open_controller(MEMORY_ENV, t, index, "memory.max", "memory.limit_in_bytes", &v1, dir);
    if (c->memory_fd >= 0) {
        c->v1_memory = v1;
        /* without swap limited too, a job over memory.max is swapped out, not stopped */
        snprintf(p, sizeof p, "%s/%s", dir, v1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max");
        c->swap_fd = open(p, O_RDWR | O_CLOEXEC);
        snprintf(p, sizeof p, "%s/%s", dir, v1 ? "memory.oom_control" : "memory.events");
        c->events_fd = open(p, O_RDONLY | O_CLOEXEC);
    }
    c->pids_fd = open_controller(PIDS_ENV, t, index, "pids.max", "pids.max", &v1, dir);
    c->cpu_fd = open_controller(CPU_ENV, t, index, "cpu.max", "cpu.cfs_quota_us", &v1, dir);
    if (c->cpu_fd >= 0) {
        c->v1_cpu = v1;
        /* v1: the quota is per cpu.cfs_period_us, which must be ours (v2 writes both) */
        char period[16];
        snprintf(period, sizeof period, "%d", CPU_PERIOD_US);
        if (v1 && write_file(dir, "cpu.cfs_period_us", period) < 0) {
            close(c->cpu_fd);
            c->cpu_fd = -1;
        }
    }
    for (int k = 0; k < NCONTROLLERS; k++)
        unsetenv(g_env[k]); /* jobs do not need to see them */
    /* a worker killed while its job ran left that job's limits on the cgroup: lift them, and
     * give up the cgroup (refusing limited jobs) if they cannot be lifted */
    if (!lift(c)) limits_close(c);
    c->oom_kills = -1;
    /* the score the server was started with (systemd's OOMScoreAdjust=, a container's):
     * what the worker goes back to, and what its jobs get */
    char buf[16] = "0";
    int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    c->oom_score = atoi(buf);
}

/* Sets the worker's own oom_score_adj; true if it took. */
static bool set_oom_score(int score)
{
    char text[16];
    int n = snprintf(text, sizeof text, "%d", score);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, text, (size_t)n) == n;
    close(fd);
    return ok;
}

static int put(int fd, const char *text)
{
    size_t n = strlen(text);
    return pwrite(fd, text, n, 0) == (ssize_t)n ? 0 : -1;
}

/* Writes "no limit" to every limit file; false if one refused. */
static bool lift(struct limits_cg *c)
{
    bool ok = true;
    if (c->memory_fd >= 0) {
        if (c->v1_memory && c->swap_fd >= 0) ok &= put(c->swap_fd, "-1") == 0;
        ok &= put(c->memory_fd, c->v1_memory ? "-1" : "max") == 0;
        if (!c->v1_memory && c->swap_fd >= 0) ok &= put(c->swap_fd, "max") == 0;
    }
    if (c->pids_fd >= 0) ok &= put(c->pids_fd, "max") == 0;
    if (c->cpu_fd >= 0) ok &= put(c->cpu_fd, c->v1_cpu ? "-1" : "max") == 0;
    return ok;
}

/* The "oom_kill N" counter of memory.events / memory.oom_control; -1 if unknown. */
static int64_t oom_kills(const struct limits_cg *c)
{
    char buf[1024];
    ssize_t n = c->events_fd >= 0 ? pread(c->events_fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return -1;
    buf[n] = '\0';
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, "oom_kill ", 9) == 0) return strtoll(line + 9, NULL, 10);
    return -1;
}

int limits_begin(struct limits_cg *c, const struct proto_limits *l, int *which)
{
    bool memory = l->set & (1u << PROTO_LIMIT_MEMORY), pids = l->set & (1u << PROTO_LIMIT_PIDS),
         cpu = l->set & (1u << PROTO_LIMIT_CPU);
    c->oom_kills = -1;
    if ((memory && c->memory_fd < 0) || (pids && c->pids_fd < 0) ||
        (cpu && c->cpu_fd < 0)) { /* before writing any */
        *which = memory && c->memory_fd < 0 ? PROTO_LIMIT_MEMORY
                 : pids && c->pids_fd < 0   ? PROTO_LIMIT_PIDS
                                            : PROTO_LIMIT_CPU;
        errno = ENOTSUP;
        return -1;
    }
    /* v1: into the leaves whose limits this job has (its child is born where we are) */
    bool want[NCONTROLLERS] = {memory, pids, cpu};
    for (int k = 0; k < NCONTROLLERS; k++)
        if (want[k] && v1_move(k, true) < 0) {
            *which = k == 0 ? PROTO_LIMIT_MEMORY : k == 1 ? PROTO_LIMIT_PIDS : PROTO_LIMIT_CPU;
            c->limited = true; /* limits_end moves back out */
            return -1;
        }
    char text[32];
    if (memory) {
        *which = PROTO_LIMIT_MEMORY;
        c->limited = true;
        /* the worker shares the job's memory cgroup: the OOM killer must pick the job, never
         * the worker, from the moment the limit is written (a limit below what the cgroup
         * holds already starts it). Needs privilege; the job's child resets its own. */
        c->oom_protected = set_oom_score(-1000);
        snprintf(text, sizeof text, "%lld", (long long)l->v[PROTO_LIMIT_MEMORY]);
        /* v1: memsw (memory + swap) may not go below memory: raise it first, set it last.
         * Without swap limited too a job over its memory would be swapped out, not stopped;
         * where the kernel does not account swap there is no file, and nothing to limit. */
        if (c->v1_memory && c->swap_fd >= 0 && put(c->swap_fd, "-1") < 0) return -1;
        if (put(c->memory_fd, text) < 0) return -1;
        if (c->swap_fd >= 0 && put(c->swap_fd, c->v1_memory ? text : "0") < 0) return -1;
        c->oom_kills = oom_kills(c);
    }
    if (pids) {
        *which = PROTO_LIMIT_PIDS;
        c->limited = true;
        snprintf(text, sizeof text, "%lld", (long long)l->v[PROTO_LIMIT_PIDS] + 1); /* + worker */
        if (put(c->pids_fd, text) < 0) return -1;
    }
    if (cpu) {
        *which = PROTO_LIMIT_CPU;
        c->limited = true;
        /* thousandths of a CPU: a quota of that share of each period */
        int64_t quota = l->v[PROTO_LIMIT_CPU] * (CPU_PERIOD_US / 1000);
        if (c->v1_cpu)
            snprintf(text, sizeof text, "%lld", (long long)quota);
        else
            snprintf(text, sizeof text, "%lld %d", (long long)quota, CPU_PERIOD_US);
        if (put(c->cpu_fd, text) < 0) return -1;
    }
    return 0;
}

bool limits_end(struct limits_cg *c)
{
    if (!c->limited) return false;
    c->limited = false;
    if (c->oom_protected) c->oom_protected = !set_oom_score(c->oom_score);
    int64_t kills = c->oom_kills >= 0 ? oom_kills(c) : -1; /* only with a memory limit */
    bool oom = kills >= 0 && kills > c->oom_kills;
    c->oom_kills = -1;
    bool out = true;
    for (int k = 0; k < NCONTROLLERS; k++)
        out &= v1_move(k, false) == 0;
    if (!lift(c) || !out) limits_close(c); /* the next job must not inherit its limits */
    return oom;
}

void limits_leave(void)
{
    for (int k = 0; k < NCONTROLLERS; k++) {
        if (!g_v1_leaf[k][0] || v1_move(k, false) < 0) continue;
        for (int i = 0; i < 100 && rmdir(g_v1_leaf[k]) < 0 && errno == EBUSY; i++)
            usleep(2000); /* the job's killed processes are still on their way out */
        g_v1_leaf[k][0] = '\0';
    }
}

void limits_close(struct limits_cg *c)
{
    int *fds[] = {&c->memory_fd, &c->swap_fd, &c->pids_fd, &c->events_fd, &c->cpu_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (*fds[i] >= 0) close(*fds[i]);
        *fds[i] = -1;
    }
}

static const int resource[PROTO_LIMITS] = {
    RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_CORE, RLIMIT_AS, -1, -1, -1};

bool limits_hard(int limit, int64_t *max)
{
    if (limit == PROTO_LIMIT_CPU) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        *max = (n > 0 ? n : 1) * 1000;
        return true;
    }
    struct rlimit r;
    if (limit < 0 || limit >= PROTO_LIMITS || resource[limit] < 0 ||
        getrlimit(resource[limit], &r) < 0 || r.rlim_max == RLIM_INFINITY ||
        r.rlim_max > (rlim_t)INT64_MAX)
        return false;
    *max = (int64_t)r.rlim_max;
    return true;
}

int limits_probe_rlimits(const struct proto_limits *l, int *which)
{
    uint32_t rlimits = 0;
    for (int i = 0; i < PROTO_LIMITS; i++)
        if (resource[i] >= 0) rlimits |= 1u << i;
    if (!(l->set & rlimits)) return 0; /* nothing to try: no fork */
    pid_t pid = fork();                /* a child tries them: ours stay as they are */
    if (pid == 0) {
        int w = 0;
        _exit(limits_set_rlimits(l, &w) == 0 ? 0 : 100 + w);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 0; /* unknown */
    if (WEXITSTATUS(status) < 100) return 0;
    *which = WEXITSTATUS(status) - 100;
    return -1;
}

int limits_set_rlimits(const struct proto_limits *l, int *which)
{
    for (int i = 0; i < PROTO_LIMITS; i++) {
        if (!(l->set & (1u << i)) || resource[i] < 0) continue;
        struct rlimit r = {(rlim_t)l->v[i], (rlim_t)l->v[i]};
        if (setrlimit(resource[i], &r) < 0) {
            *which = i;
            return -1;
        }
    }
    return 0;
}

static void remove_leaf(const char *leaf)
{
    rmdir(leaf); /* empty: their processes were killed with the tree leaves */
}

/* Removes this instance's v1 leaves: slots 0..nslots-1, or (nslots < 0) those of dead runs. */
static void remove_leaves(int k, int nslots)
{
    if (g_where[k] != V1) return;
    if (nslots >= 0) {
        for (int i = 0; i < nslots; i++) {
            char leaf[PATH_MAX + 64];
            v1_leaf(leaf, sizeof leaf, g_v1_dir[k], g_instance, i);
            rmdir(leaf);
        }
        return;
    }
    tree_for_each_stale_leaf(g_v1_dir[k], g_instance, remove_leaf);
}

void limits_remove_stale(void)
{
    for (int k = 0; k < NCONTROLLERS; k++)
        remove_leaves(k, -1);
}

void limits_remove_own(int nslots)
{
    for (int k = 0; k < NCONTROLLERS; k++)
        remove_leaves(k, nslots);
}
