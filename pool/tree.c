/* tree: whole-tree kill. cgroup mode: each worker slot has a leaf cgroup
 * <base>/spawnpool.<data-dir hash>-<master pid>.w<slot> that the worker joins, so its jobs are
 * born there; the worker signals every other member (cgroup.kill is the master's, for the
 * leaf of a dead worker or a dead run). Process-group mode: killpg plus a /proc walk for
 * descendants that called setsid(); the worker (and the master) are child subreapers, so
 * orphans stay in their tree. */
#include "pool/tree.h"

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TREE_ENV "SPAWNPOOL_TREE"

static enum tree_kind g_kind = TREE_PGROUP;
static char g_base[PATH_MAX]; /* cgroup directory the master lives in */
static char g_instance[40];   /* this server's leaves: spawnpool.<instance>.w<slot> */

const char *tree_mechanism(void)
{
    return g_kind == TREE_CGROUP ? "cgroup" : "process-group";
}

const char *tree_cgroup_base(void)
{
    return g_kind == TREE_CGROUP ? g_base : NULL;
}

/* Finds the cgroup2 mount and our cgroup in it: base = mount + path. */
/* rmdir of a cgroup leaf and of whatever cgroups a job made inside it, deepest first (a
 * cgroup with children cannot go; control files need no unlinking). Returns rmdir's. */
static int remove_leaf(const char *leaf, int depth)
{
    DIR *d = depth < 16 ? opendir(leaf) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        if (snprintf(child, sizeof child, "%s/%s", leaf, e->d_name) < (int)sizeof child)
            remove_leaf(child, depth + 1);
    }
    if (d) closedir(d);
    return rmdir(leaf);
}

static int find_cgroup_base(char *base, size_t n)
{
    char mount[PATH_MAX] = "", path[PATH_MAX] = "", line[4096];
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        char *sep = strstr(line, " - cgroup2 ");
        if (!sep) continue;
        char mp[PATH_MAX];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1) {
            snprintf(mount, sizeof mount, "%s", mp);
            break;
        }
    }
    fclose(f);
    f = fopen("/proc/self/cgroup", "re");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3) != 0) continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(path, sizeof path, "%s", line + 3);
    }
    fclose(f);
    if (!mount[0] || !path[0]) return -1;
    if (strcmp(path, "/") == 0) path[0] = '\0';
    return snprintf(base, n, "%s%s", mount, path) >= (int)n - 64 ? -1 : 0;
}

static int write_str(int fd, const char *s)
{
    size_t n = strlen(s);
    return write(fd, s, n) == (ssize_t)n ? 0 : -1;
}

static int open_in(const char *dir, const char *file, int flags)
{
    char p[PATH_MAX + 32];
    if (snprintf(p, sizeof p, "%s/%s", dir, file) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(p, flags | O_CLOEXEC);
}

/* Makes a leaf, has a child join it and get killed by cgroup.kill. 0 if all of it works. */
static int probe_cgroup(const char *base)
{
    char leaf[PATH_MAX + 64];
    snprintf(leaf, sizeof leaf, "%s/spawnpool.%s.probe", base, g_instance);
    if (mkdir(leaf, 0755) < 0 && errno != EEXIST) return -1;
    int procs = open_in(leaf, "cgroup.procs", O_WRONLY);
    int killfd = open_in(leaf, "cgroup.kill", O_WRONLY);
    int ok = -1;
    if (procs >= 0 && killfd >= 0) {
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) == 0) {
            pid_t pid = fork();
            if (pid == 0) {
                char c = write_str(procs, "0") == 0 ? 'y' : 'n';
                (void)!write(ready[1], &c, 1);
                pause();
                _exit(0);
            }
            close(ready[1]);
            char c = 'n';
            if (pid > 0) {
                (void)!read(ready[0], &c, 1);
                if (c == 'y' && write_str(killfd, "1") == 0) {
                    int status;
                    if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
                        WTERMSIG(status) == SIGKILL)
                        ok = 0;
                } else {
                    kill(pid, SIGKILL);
                    waitpid(pid, NULL, 0);
                }
            }
            close(ready[0]);
        }
    }
    if (procs >= 0) close(procs);
    if (killfd >= 0) close(killfd);
    remove_leaf(leaf, 0);
    return ok;
}

int tree_setup(const char *want, const char *instance, char *err, size_t errlen)
{
    snprintf(g_instance, sizeof g_instance, "%s", instance);
    g_kind = TREE_PGROUP;
    if (strcmp(want, "auto") != 0 && strcmp(want, "cgroup") != 0 && strcmp(want, "pgroup") != 0) {
        snprintf(err, errlen, "kill-mechanism must be auto, cgroup or pgroup, got '%s'", want);
        return -1;
    }
    if (strcmp(want, "pgroup") != 0) {
        if (find_cgroup_base(g_base, sizeof g_base) == 0 && probe_cgroup(g_base) == 0) {
            g_kind = TREE_CGROUP;
        } else if (strcmp(want, "cgroup") == 0) {
            snprintf(err, errlen,
                     "kill-mechanism cgroup: cannot create, join and kill a cgroup v2 leaf "
                     "under %s (is cgroup2 mounted and writable?)",
                     g_base[0] ? g_base : "the cgroup2 mount");
            return -1;
        }
    }
    char value[PATH_MAX + 64];
    if (g_kind == TREE_CGROUP)
        snprintf(value, sizeof value, "cgroup:%s:%s", g_instance, g_base);
    else
        snprintf(value, sizeof value, "pgroup");
    setenv(TREE_ENV, value, 1);
    return 0;
}

static void leaf_path(char *out, size_t n, int index)
{
    if (snprintf(out, n, "%s/spawnpool.%s.w%d", g_base, g_instance, index) >= (int)n)
        out[0] = '\0'; /* cannot happen: g_base leaves room (find_cgroup_base) */
}

void tree_open(struct tree *t, int index)
{
    memset(t, 0, sizeof *t);
    t->kind = TREE_PGROUP;
    t->procs_fd = t->kill_fd = -1;
    const char *v = getenv(TREE_ENV);
    int off = 0;
    char instance[40];
    if (v && sscanf(v, "cgroup:%39[0-9a-f-]:%n", instance, &off) == 1 && off > 0) {
        snprintf(g_base, sizeof g_base, "%s", v + off);
        snprintf(g_instance, sizeof g_instance, "%s", instance);
        leaf_path(t->path, sizeof t->path, index);
        if (mkdir(t->path, 0755) == 0 || errno == EEXIST) {
            t->procs_fd = open_in(t->path, "cgroup.procs", O_RDWR);
            t->kill_fd = open_in(t->path, "cgroup.kill", O_WRONLY);
        }
        /* join it ourselves: every job we start is then born inside */
        if (t->procs_fd >= 0 && t->kill_fd >= 0 && write_str(t->procs_fd, "0") == 0)
            t->kind = TREE_CGROUP;
        else
            tree_close(t);
    }
    g_kind = t->kind;
    unsetenv(TREE_ENV); /* jobs do not need to see it */
}

int tree_enter(const struct tree *t)
{
    (void)t; /* the worker is in its leaf: a job is born there */
    return 0;
}

/* Parses "pid (comm) S ppid ..." from /proc/<pid>/stat; skips zombies. */
static int read_ppid(const char *pid, pid_t *ppid)
{
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%s/stat", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    char state;
    int pp;
    if (!rp || sscanf(rp + 1, " %c %d", &state, &pp) != 2 || state == 'Z') return -1;
    *ppid = pp;
    return 0;
}

int tree_signal_descendants(pid_t root, const pid_t *exclude, int nexclude, int sig)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    size_t n = 0, cap = 256;
    pid_t(*procs)[2] = malloc(cap * sizeof *procs);
    struct dirent *e;
    while (procs && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        pid_t ppid;
        if (read_ppid(e->d_name, &ppid) < 0) continue;
        if (n == cap) {
            void *grown = realloc(procs, (cap *= 2) * sizeof *procs);
            if (!grown) break;
            procs = grown;
        }
        procs[n][0] = (pid_t)atoi(e->d_name);
        procs[n][1] = ppid;
        n++;
    }
    closedir(d);
    if (!procs) return 0;
    /* breadth-first from root: a queue of pids whose children we still look for */
    pid_t *queue = malloc((n + 1) * sizeof *queue);
    size_t head = 0, tail = 0;
    int signalled = 0;
    if (queue) queue[tail++] = root;
    while (queue && head < tail) {
        pid_t parent = queue[head++];
        for (size_t i = 0; i < n; i++) {
            if (procs[i][1] != parent) continue;
            bool skip = false;
            for (int k = 0; k < nexclude; k++)
                if (exclude[k] == procs[i][0]) skip = true;
            if (skip) continue;
            kill(procs[i][0], sig);
            signalled++;
            if (tail <= n) queue[tail++] = procs[i][0];
        }
    }
    free(queue);
    free(procs);
    return signalled;
}

/* Sends sig to every member of the worker's leaf but the worker; returns how many. */
static int signal_cgroup_members(const struct tree *t, int sig)
{
    char buf[8192];
    ssize_t n = pread(t->procs_fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    pid_t self = getpid();
    int count = 0;
    for (char *p = buf, *end; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        if (pid > 0 && pid != self) {
            kill((pid_t)pid, sig);
            count++;
        }
    }
    return count;
}

void tree_signal(const struct tree *t, pid_t pgid, int sig)
{
    if (pgid > 0) kill(-pgid, sig);
    if (t && t->kind == TREE_CGROUP) {
        /* SIGKILL until none is left: a process forked meanwhile is in the leaf too */
        for (int round = 0; round < 100; round++) {
            if (signal_cgroup_members(t, sig) == 0 || sig != SIGKILL) break;
            sched_yield(); /* let the killed ones exit before looking again */
        }
        return;
    }
    /* process groups: also whatever left the group with setsid(); repeat for SIGKILL so a
     * process forked during the walk does not slip through */
    for (int round = 0; round < 8; round++)
        if (tree_signal_descendants(getpid(), NULL, 0, sig) == 0 || sig != SIGKILL) break;
}

void tree_kill_leftovers(const struct tree *t, pid_t pgid)
{
    if (pgid > 0) kill(-pgid, SIGKILL); /* ESRCH when the group is empty: one syscall */
    if (t && t->kind == TREE_CGROUP) {
        if (signal_cgroup_members(t, SIGKILL) > 0) tree_signal(t, 0, SIGKILL);
        return;
    }
    /* process groups: a survivor that left the group has been re-parented to us (we are a
     * subreaper), so with no children left there is nothing to walk */
    siginfo_t info;
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD) return;
    tree_signal(t, pgid, SIGKILL);
}

void tree_leave(const struct tree *t)
{
    if (t->kind != TREE_CGROUP) return;
    /* to the parent; where it hands controllers down it may hold no process (EBUSY): to
     * the leaf the master moved into then (pool/limits.c) */
    char main_leaf[PATH_MAX + 64];
    snprintf(main_leaf, sizeof main_leaf, "%s/spawnpool.%s.main", g_base, g_instance);
    bool moved = false;
    for (int i = 0; i < 2 && !moved; i++) {
        int fd = open_in(i == 0 ? g_base : main_leaf, "cgroup.procs", O_WRONLY);
        if (fd < 0) continue;
        moved = write_str(fd, "0") == 0;
        close(fd);
    }
    for (int i = 0; moved && i < 100 && remove_leaf(t->path, 0) < 0 && errno == EBUSY; i++)
        usleep(2000); /* the job's killed processes are still on their way out */
}

void tree_close(struct tree *t)
{
    if (t->procs_fd >= 0) close(t->procs_fd);
    if (t->kill_fd >= 0) close(t->kill_fd);
    t->procs_fd = t->kill_fd = -1;
}

int tree_kill_slot(int index, const pid_t *workers, int nworkers)
{
    if (g_kind == TREE_CGROUP) {
        char leaf[PATH_MAX + 64], buf[8192];
        leaf_path(leaf, sizeof leaf, index);
        int count = 0, fd = open_in(leaf, "cgroup.procs", O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0) close(fd);
        for (ssize_t i = 0; i < n; i++) /* one pid per line; the dead worker is reaped */
            count += buf[i] == '\n';
        fd = open_in(leaf, "cgroup.kill", O_WRONLY);
        if (fd >= 0) {
            write_str(fd, "1");
            close(fd);
        }
        return count;
    }
    return tree_signal_descendants(getpid(), workers, nworkers, SIGKILL);
}

/* True if name is a leaf of a server of this data dir (spawnpool.<hash>-<master pid>.<what>)
 * whose master is gone, or one from before the pid was in the name (spawnpool.<hash>.w<n>).
 * A live master's leaves are never stale, even on the same data-dir path. */
static bool stale_name(const char *name, const char *instance)
{
    size_t hlen = strcspn(instance, "-");
    if (strncmp(name, "spawnpool.", 10) != 0 || strncmp(name + 10, instance, hlen) != 0)
        return false;
    const char *p = name + 10 + hlen;
    if (p[0] == '.') return p[1] == 'w';
    char *end;
    long pid = p[0] == '-' ? strtol(p + 1, &end, 10) : 0;
    if (pid <= 0 || end == p + 1 || *end != '.' || pid == (long)getpid()) return false;
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH; /* a reused pid keeps it: the safe side */
}

void tree_for_each_stale_leaf(const char *dir, const char *instance, void (*fn)(const char *leaf))
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!stale_name(e->d_name, instance)) continue;
        char leaf[PATH_MAX + 300];
        snprintf(leaf, sizeof leaf, "%s/%s", dir, e->d_name);
        fn(leaf);
    }
    closedir(d);
}

static void kill_and_remove(const char *leaf)
{
    int fd = open_in(leaf, "cgroup.kill", O_WRONLY);
    if (fd >= 0) {
        write_str(fd, "1");
        close(fd);
    }
    /* EBUSY while the killed processes exit; the leaf's name is not reused (a new master has
     * another pid), so wait for them, a second at most */
    for (int i = 0; i < 100 && remove_leaf(leaf, 0) < 0 && errno == EBUSY; i++)
        usleep(10000);
}

void tree_remove_stale(void)
{
    if (g_kind == TREE_CGROUP) tree_for_each_stale_leaf(g_base, g_instance, kill_and_remove);
}

void tree_remove_own(int nslots)
{
    if (g_kind != TREE_CGROUP) return;
    for (int i = 0; i < nslots; i++) {
        char leaf[PATH_MAX + 64];
        leaf_path(leaf, sizeof leaf, i);
        remove_leaf(leaf, 0);
    }
}
