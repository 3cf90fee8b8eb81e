/* usage: cpu.stat and memory.peak of the worker's tree leaf, around one job. */
#include "pool/usage.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int open_in(const char *dir, const char *file, int flags)
{
    char p[PATH_MAX + 32];
    if (snprintf(p, sizeof p, "%s/%s", dir, file) >= (int)sizeof p) return -1;
    return open(p, flags | O_CLOEXEC);
}

void usage_open(struct usage_cg *u, const struct tree *t)
{
    *u = (struct usage_cg){.stat_fd = -1, .peak_fd = -1};
    if (t->kind != TREE_CGROUP) return;
    /* cpu.stat's usage lines are there whether the cpu controller is enabled or not */
    u->stat_fd = open_in(t->path, "cpu.stat", O_RDONLY);
    /* only with the memory controller on the leaf (kernel 5.19 or later) */
    u->peak_fd = open_in(t->path, "memory.peak", O_RDWR);
}

int usage_parse_cpu_stat(const char *text, int64_t *user_us, int64_t *system_us)
{
    bool user = false, system = false;
    for (const char *line = text; line && *line;) {
        if (strncmp(line, "user_usec ", 10) == 0) {
            *user_us = strtoll(line + 10, NULL, 10);
            user = true;
        } else if (strncmp(line, "system_usec ", 12) == 0) {
            *system_us = strtoll(line + 12, NULL, 10);
            system = true;
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    return user && system ? 0 : -1;
}

static bool read_cpu(int fd, int64_t *user_us, int64_t *system_us)
{
    char buf[1024];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return false;
    buf[n] = '\0';
    return usage_parse_cpu_stat(buf, user_us, system_us) == 0;
}

static int64_t tv_us(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void usage_begin(struct usage_cg *u)
{
    u->began_cpu =
        read_cpu(u->stat_fd, &u->user_us, &u->system_us) && getrusage(RUSAGE_SELF, &u->self) == 0;
    /* any write resets the peak to the current usage, for reads through this fd; a kernel
     * before 6.12 refuses the write */
    u->began_peak = u->peak_fd >= 0 && pwrite(u->peak_fd, "reset", 5, 0) == 5;
}

void usage_end(struct usage_cg *u, struct proto_done *d)
{
    int64_t user, system;
    struct rusage self;
    if (u->began_cpu && read_cpu(u->stat_fd, &user, &system) &&
        getrusage(RUSAGE_SELF, &self) == 0) {
        /* the leaf counted the worker too: take out what the worker spent meanwhile */
        user -= u->user_us + (tv_us(self.ru_utime) - tv_us(u->self.ru_utime));
        system -= u->system_us + (tv_us(self.ru_stime) - tv_us(u->self.ru_stime));
        d->user_us = user > 0 ? user : 0;
        d->system_us = system > 0 ? system : 0;
        d->usage_from |= PROTO_USAGE_CPU_CGROUP;
    }
    char buf[32];
    ssize_t n = u->began_peak ? pread(u->peak_fd, buf, sizeof buf - 1, 0) : -1;
    if (n > 0) {
        buf[n] = '\0';
        d->maxrss_kb = strtoll(buf, NULL, 10) / 1024;
        d->usage_from |= PROTO_USAGE_MEMORY_CGROUP;
    }
    u->began_cpu = u->began_peak = false;
}

void usage_close(struct usage_cg *u)
{
    if (u->stat_fd >= 0) close(u->stat_fd);
    if (u->peak_fd >= 0) close(u->peak_fd);
    u->stat_fd = u->peak_fd = -1;
}
