/* Unit tests for pool/usage against a fake cgroup leaf (regular files cpu.stat and
 * memory.peak): the job's CPU is what the leaf counted less what the worker (this process)
 * spent meanwhile, its peak what memory.peak says after the reset at its start; without a
 * leaf, or where the peak cannot be reset, the rusage figures stay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "pool/usage.h"

static char root[] = "/tmp/spawnpool-test-usage-XXXXXX";

static void put_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void test_parse(void)
{
    int64_t user = -1, sys = -1;
    CHECK(usage_parse_cpu_stat("usage_usec 300\nuser_usec 200\nsystem_usec 100\n"
                               "nr_periods 0\n",
                               &user, &sys) == 0);
    CHECK(user == 200 && sys == 100);
    CHECK(usage_parse_cpu_stat("usage_usec 300\nuser_usec 200\n", &user, &sys) == -1);
    CHECK(usage_parse_cpu_stat("", &user, &sys) == -1);
}

static void test_leaf(void)
{
    struct tree t = {.kind = TREE_CGROUP, .procs_fd = -1, .kill_fd = -1};
    snprintf(t.path, sizeof t.path, "%s", root);
    put_file("cpu.stat", "usage_usec 1000000\nuser_usec 800000\nsystem_usec 200000\n");
    put_file("memory.peak", "4194304\n");
    struct usage_cg u;
    usage_open(&u, &t);
    CHECK(u.stat_fd >= 0 && u.peak_fd >= 0);
    usage_begin(&u);
    CHECK(u.began_cpu && u.began_peak);
    /* the job burned 2.5 s of user and 0.5 s of system time; its tree peaked at 100 MiB */
    put_file("cpu.stat", "usage_usec 4000000\nuser_usec 3300000\nsystem_usec 700000\n");
    put_file("memory.peak", "104857600\n");
    struct proto_done d = {.user_us = 1, .system_us = 1, .maxrss_kb = 1};
    usage_end(&u, &d);
    CHECK(d.usage_from == (PROTO_USAGE_CPU_CGROUP | PROTO_USAGE_MEMORY_CGROUP));
    /* less what this process spent between begin and end: a few µs at most here */
    CHECK(d.user_us <= 2500000 && d.user_us > 2490000);
    CHECK(d.system_us <= 500000 && d.system_us > 490000);
    CHECK(d.maxrss_kb == 102400);
    /* no memory.peak (no memory controller on the leaf): the rusage figure stays */
    usage_close(&u);
    char p[512];
    snprintf(p, sizeof p, "%s/memory.peak", root);
    unlink(p);
    usage_open(&u, &t);
    CHECK(u.peak_fd < 0);
    usage_begin(&u);
    d = (struct proto_done){.maxrss_kb = 77};
    usage_end(&u, &d);
    CHECK(d.usage_from == PROTO_USAGE_CPU_CGROUP && d.maxrss_kb == 77);
    usage_close(&u);
    /* process-group mode: no leaf, nothing read, rusage kept */
    struct tree pg = {.kind = TREE_PGROUP, .procs_fd = -1, .kill_fd = -1};
    usage_open(&u, &pg);
    CHECK(u.stat_fd < 0 && u.peak_fd < 0);
    usage_begin(&u);
    d = (struct proto_done){.user_us = 5, .system_us = 6, .maxrss_kb = 7};
    usage_end(&u, &d);
    CHECK(d.usage_from == 0 && d.user_us == 5 && d.system_us == 6 && d.maxrss_kb == 7);
    usage_close(&u);
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 2;
    }
    test_parse();
    test_leaf();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    return check_report();
}
