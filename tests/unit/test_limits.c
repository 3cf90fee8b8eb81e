/* Unit tests for pool/limits' cgroup side against a fake cgroupfs: directories and regular
 * files laid out like cgroup v2's leaf (memory.max, memory.swap.max, memory.events,
 * pids.max) and cgroup v1's memory and pids leaves. They pin down which file gets which
 * value when (the kernel's reaction to the values is the e2e test's business, test_limits.sh,
 * which runs on whatever cgroups the machine has): the limit, swap off, pids + 1 for the
 * worker, "max"/"-1" to lift, lifting what a dead worker left, the OOM counter, refusing
 * without writing anything. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "pool/limits.h"

static char root[] = "/tmp/spawnpool-test-limits-XXXXXX";

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* The file's text up to its first newline (the code writes with pwrite at offset 0 and no
 * newline, as cgroupfs wants; a regular file keeps any longer old tail, so tests reset files
 * to "" before a write whose length matters). */
static const char *get_file(const char *dir, const char *name)
{
    static char buf[256];
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    buf[0] = '\0';
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static void clear(const char *dir, const char *const *names)
{
    for (; *names; names++)
        put_file(dir, *names, "");
}

static const struct proto_limits memory_and_pids = {
    .set = 1u << PROTO_LIMIT_MEMORY | 1u << PROTO_LIMIT_PIDS,
    .v = {[PROTO_LIMIT_MEMORY] = 67108864, [PROTO_LIMIT_PIDS] = 5}};

static void test_v2(void)
{
    char leaf[256];
    snprintf(leaf, sizeof leaf, "%s/v2leaf", root);
    mkdir(leaf, 0755);
    static const char *const files[] = {"memory.max", "memory.swap.max", "pids.max", NULL};
    put_file(leaf, "memory.max", "12345678"); /* left by a worker killed mid-job */
    put_file(leaf, "memory.swap.max", "0");
    put_file(leaf, "pids.max", "11");
    put_file(leaf, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 2\n");
    setenv("SPAWNPOOL_CGROUP_MEMORY", "v2", 1);
    setenv("SPAWNPOOL_CGROUP_PIDS", "v2", 1);
    struct tree t = {.kind = TREE_CGROUP, .procs_fd = -1, .kill_fd = -1};
    snprintf(t.path, sizeof t.path, "%s", leaf);

    struct limits_cg c;
    limits_open(&c, &t, 0);
    CHECK(c.memory_fd >= 0 && c.swap_fd >= 0 && c.pids_fd >= 0 && c.events_fd >= 0);
    CHECK(getenv("SPAWNPOOL_CGROUP_MEMORY") == NULL);            /* jobs do not see it */
    CHECK(strncmp(get_file(leaf, "memory.max"), "max", 3) == 0); /* the dead one's lifted */
    CHECK(strncmp(get_file(leaf, "memory.swap.max"), "max", 3) == 0);
    CHECK(strncmp(get_file(leaf, "pids.max"), "max", 3) == 0);

    clear(leaf, files);
    int which = -1;
    CHECK(limits_begin(&c, &memory_and_pids, &which) == 0);
    CHECK(strcmp(get_file(leaf, "memory.max"), "67108864") == 0);
    CHECK(strcmp(get_file(leaf, "memory.swap.max"), "0") == 0); /* stopped, not swapped out */
    CHECK(strcmp(get_file(leaf, "pids.max"), "6") == 0);        /* 5 + the worker */
    put_file(leaf, "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 3\n");
    clear(leaf, files);
    CHECK(limits_end(&c) == true); /* oom_kill went 2 -> 3 while it ran */
    CHECK(strcmp(get_file(leaf, "memory.max"), "max") == 0);
    CHECK(strcmp(get_file(leaf, "memory.swap.max"), "max") == 0);
    CHECK(strcmp(get_file(leaf, "pids.max"), "max") == 0);

    /* no OOM meanwhile: false; and a job with only a pids limit never reports one */
    CHECK(limits_begin(&c, &memory_and_pids, &which) == 0);
    CHECK(limits_end(&c) == false);
    struct proto_limits pids_only = {.set = 1u << PROTO_LIMIT_PIDS, .v = {[PROTO_LIMIT_PIDS] = 1}};
    clear(leaf, files);
    CHECK(limits_begin(&c, &pids_only, &which) == 0);
    CHECK(strcmp(get_file(leaf, "pids.max"), "2") == 0);
    CHECK(strcmp(get_file(leaf, "memory.max"), "") == 0); /* untouched */
    put_file(leaf, "memory.events", "oom_kill 9\n");
    CHECK(limits_end(&c) == false);

    /* no limits: nothing written, nothing to lift */
    struct proto_limits none = {0};
    clear(leaf, files);
    CHECK(limits_begin(&c, &none, &which) == 0);
    CHECK(limits_end(&c) == false);
    CHECK(strcmp(get_file(leaf, "memory.max"), "") == 0);
    CHECK(strcmp(get_file(leaf, "pids.max"), "") == 0);
    limits_close(&c);
    CHECK(c.memory_fd == -1 && c.pids_fd == -1);
}

static void test_unsupported(void)
{
    unsetenv("SPAWNPOOL_CGROUP_MEMORY");
    char leaf[256];
    snprintf(leaf, sizeof leaf, "%s/v2leaf", root);
    setenv("SPAWNPOOL_CGROUP_PIDS", "v2", 1); /* pids yes, memory no */
    struct tree t = {.kind = TREE_CGROUP, .procs_fd = -1, .kill_fd = -1};
    snprintf(t.path, sizeof t.path, "%s", leaf);
    struct limits_cg c;
    limits_open(&c, &t, 0);
    CHECK(c.memory_fd < 0 && c.pids_fd >= 0);
    put_file(leaf, "pids.max", "");
    int which = -1;
    errno = 0;
    CHECK(limits_begin(&c, &memory_and_pids, &which) == -1);
    CHECK_EQ_INT(errno, ENOTSUP);
    CHECK_EQ_INT(which, PROTO_LIMIT_MEMORY);
    CHECK(strcmp(get_file(leaf, "pids.max"), "") == 0); /* refused before writing any */
    CHECK(limits_end(&c) == false);
    limits_close(&c);

    /* process-group mode: no tree leaf, so "v2" gives nothing */
    setenv("SPAWNPOOL_CGROUP_PIDS", "v2", 1);
    struct tree pg = {.kind = TREE_PGROUP, .procs_fd = -1, .kill_fd = -1};
    limits_open(&c, &pg, 0);
    CHECK(c.pids_fd < 0);
    limits_close(&c);
}

static void test_v1(void)
{
    /* v1: the worker makes and joins its own leaf spawnpool.<instance>.w<index> in each
     * hierarchy; cgroupfs would make the files, here they are made beforehand */
    char mem[256], pids[256], mem_leaf[300], pids_leaf[300];
    snprintf(mem, sizeof mem, "%s/memory", root);
    snprintf(pids, sizeof pids, "%s/pids", root);
    snprintf(mem_leaf, sizeof mem_leaf, "%s/spawnpool.00ff.w3", mem);
    snprintf(pids_leaf, sizeof pids_leaf, "%s/spawnpool.00ff.w3", pids);
    mkdir(mem, 0755);
    mkdir(pids, 0755);
    mkdir(mem_leaf, 0755);
    mkdir(pids_leaf, 0755);
    put_file(mem, "cgroup.procs", "");
    put_file(pids, "cgroup.procs", "");
    put_file(mem_leaf, "cgroup.procs", "");
    put_file(pids_leaf, "cgroup.procs", "");
    put_file(mem_leaf, "memory.limit_in_bytes", "");
    put_file(mem_leaf, "memory.memsw.limit_in_bytes", "");
    put_file(mem_leaf, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    put_file(pids_leaf, "pids.max", "");
    char env[400];
    snprintf(env, sizeof env, "v1:00ff:%s", mem);
    setenv("SPAWNPOOL_CGROUP_MEMORY", env, 1);
    snprintf(env, sizeof env, "v1:00ff:%s", pids);
    setenv("SPAWNPOOL_CGROUP_PIDS", env, 1);
    struct tree t = {.kind = TREE_PGROUP, .procs_fd = -1, .kill_fd = -1}; /* v1 needs none */

    struct limits_cg c;
    limits_open(&c, &t, 3);
    CHECK(c.memory_fd >= 0 && c.v1_memory && c.swap_fd >= 0 && c.pids_fd >= 0);
    /* not joined yet: a worker sits in its v1 leaves only while a limited job runs */
    CHECK(strcmp(get_file(mem_leaf, "cgroup.procs"), "") == 0);
    CHECK(strcmp(get_file(pids_leaf, "cgroup.procs"), "") == 0);
    CHECK(strncmp(get_file(mem_leaf, "memory.limit_in_bytes"), "-1", 2) == 0); /* lifted */
    CHECK(strcmp(get_file(pids_leaf, "pids.max"), "max") == 0);

    put_file(mem_leaf, "memory.limit_in_bytes", "");
    put_file(mem_leaf, "memory.memsw.limit_in_bytes", "");
    put_file(pids_leaf, "pids.max", "");
    int which;
    CHECK(limits_begin(&c, &memory_and_pids, &which) == 0);
    CHECK(strcmp(get_file(mem_leaf, "cgroup.procs"), "0") == 0); /* joined (itself: "0") */
    CHECK(strcmp(get_file(pids_leaf, "cgroup.procs"), "0") == 0);
    CHECK(strcmp(get_file(mem_leaf, "memory.limit_in_bytes"), "67108864") == 0);
    /* memsw (memory + swap) = memory: no swap; written after memory, as v1 requires */
    CHECK(strcmp(get_file(mem_leaf, "memory.memsw.limit_in_bytes"), "67108864") == 0);
    CHECK(strcmp(get_file(pids_leaf, "pids.max"), "6") == 0);
    put_file(mem_leaf, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    put_file(mem_leaf, "memory.limit_in_bytes", "");
    put_file(mem_leaf, "memory.memsw.limit_in_bytes", "");
    CHECK(limits_end(&c) == true);
    CHECK(strcmp(get_file(mem_leaf, "memory.limit_in_bytes"), "-1") == 0);
    CHECK(strcmp(get_file(mem_leaf, "memory.memsw.limit_in_bytes"), "-1") == 0);
    CHECK(strcmp(get_file(mem, "cgroup.procs"), "0") == 0); /* back out: to the parent */
    CHECK(strcmp(get_file(pids, "cgroup.procs"), "0") == 0);

    /* a job with only a pids limit joins only the pids leaf */
    put_file(mem_leaf, "cgroup.procs", "");
    put_file(pids_leaf, "cgroup.procs", "");
    put_file(pids, "cgroup.procs", "");
    struct proto_limits pids_only = {.set = 1u << PROTO_LIMIT_PIDS, .v = {[PROTO_LIMIT_PIDS] = 2}};
    CHECK(limits_begin(&c, &pids_only, &which) == 0);
    CHECK(strcmp(get_file(mem_leaf, "cgroup.procs"), "") == 0);
    CHECK(strcmp(get_file(pids_leaf, "cgroup.procs"), "0") == 0);
    CHECK(limits_end(&c) == false);
    CHECK(strcmp(get_file(pids, "cgroup.procs"), "0") == 0);

    /* leaving at exit: out of any leaf, then rmdir (here the leaf is not empty, being a
     * plain directory, so it stays) */
    put_file(mem, "cgroup.procs", "");
    limits_leave();
    CHECK(strcmp(get_file(mem, "cgroup.procs"), "") == 0); /* not in it: nothing to do */
    limits_close(&c);
}

/* cpu: v2 writes "quota period" on the tree leaf's cpu.max; v1 a quota alone on its own
 * leaf's cpu.cfs_quota_us, after setting cpu.cfs_period_us to the same period; lifting is
 * "max" / "-1". */
static void test_cpu(void)
{
    char leaf[256];
    snprintf(leaf, sizeof leaf, "%s/v2cpu", root);
    mkdir(leaf, 0755);
    put_file(leaf, "cpu.max", "25000 100000"); /* left by a worker killed mid-job */
    unsetenv("SPAWNPOOL_CGROUP_MEMORY");
    unsetenv("SPAWNPOOL_CGROUP_PIDS");
    setenv("SPAWNPOOL_CGROUP_CPU", "v2", 1);
    struct tree t = {.kind = TREE_CGROUP, .procs_fd = -1, .kill_fd = -1};
    snprintf(t.path, sizeof t.path, "%s", leaf);
    struct limits_cg c;
    limits_open(&c, &t, 0);
    CHECK(c.cpu_fd >= 0 && !c.v1_cpu && c.memory_fd < 0);
    CHECK(getenv("SPAWNPOOL_CGROUP_CPU") == NULL);
    CHECK(strncmp(get_file(leaf, "cpu.max"), "max", 3) == 0); /* lifted at open */
    struct proto_limits half = {.set = 1u << PROTO_LIMIT_CPU, .v = {[PROTO_LIMIT_CPU] = 500}};
    put_file(leaf, "cpu.max", "");
    int which = -1;
    CHECK(limits_begin(&c, &half, &which) == 0);
    CHECK(strcmp(get_file(leaf, "cpu.max"), "50000 100000") == 0);
    put_file(leaf, "cpu.max", "");
    CHECK(limits_end(&c) == false);
    CHECK(strcmp(get_file(leaf, "cpu.max"), "max") == 0);
    /* a memory limit without a memory cgroup is refused, the cpu file left alone */
    struct proto_limits both = half;
    both.set |= 1u << PROTO_LIMIT_MEMORY;
    both.v[PROTO_LIMIT_MEMORY] = 1 << 26;
    put_file(leaf, "cpu.max", "");
    CHECK(limits_begin(&c, &both, &which) == -1 && which == PROTO_LIMIT_MEMORY);
    CHECK(strcmp(get_file(leaf, "cpu.max"), "") == 0);
    limits_end(&c);
    limits_close(&c);

    char cpu[256], cpu_leaf[300], env[400];
    snprintf(cpu, sizeof cpu, "%s/cpu", root);
    snprintf(cpu_leaf, sizeof cpu_leaf, "%s/spawnpool.00ff.w1", cpu);
    mkdir(cpu, 0755);
    mkdir(cpu_leaf, 0755);
    put_file(cpu, "cgroup.procs", "");
    put_file(cpu_leaf, "cgroup.procs", "");
    put_file(cpu_leaf, "cpu.cfs_quota_us", "");
    put_file(cpu_leaf, "cpu.cfs_period_us", "");
    snprintf(env, sizeof env, "v1:00ff:%s", cpu);
    setenv("SPAWNPOOL_CGROUP_CPU", env, 1);
    struct tree pg = {.kind = TREE_PGROUP, .procs_fd = -1, .kill_fd = -1};
    limits_open(&c, &pg, 1);
    CHECK(c.cpu_fd >= 0 && c.v1_cpu);
    CHECK(strcmp(get_file(cpu_leaf, "cpu.cfs_period_us"), "100000") == 0);
    CHECK(strcmp(get_file(cpu_leaf, "cpu.cfs_quota_us"), "-1") == 0);
    struct proto_limits two = {.set = 1u << PROTO_LIMIT_CPU, .v = {[PROTO_LIMIT_CPU] = 2000}};
    put_file(cpu_leaf, "cpu.cfs_quota_us", "");
    CHECK(limits_begin(&c, &two, &which) == 0);
    CHECK(strcmp(get_file(cpu_leaf, "cgroup.procs"), "0") == 0); /* joined for the job */
    CHECK(strcmp(get_file(cpu_leaf, "cpu.cfs_quota_us"), "200000") == 0);
    put_file(cpu_leaf, "cpu.cfs_quota_us", "");
    CHECK(limits_end(&c) == false);
    CHECK(strcmp(get_file(cpu_leaf, "cpu.cfs_quota_us"), "-1") == 0);
    CHECK(strcmp(get_file(cpu, "cgroup.procs"), "0") == 0); /* and back out */
    limits_close(&c);
    unsetenv("SPAWNPOOL_CGROUP_CPU");
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 2;
    }
    test_v2();
    test_unsupported();
    test_v1();
    test_cpu();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    return check_report();
}
