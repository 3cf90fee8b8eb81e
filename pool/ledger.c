/* ledger: see ledger.h. A MAP_SHARED mapping of a regular file is the page cache itself, so
 * a store into it is in the file as soon as it is made, whatever happens to the process;
 * only a crash of the machine could lose it (and the jobs with it). */
#include "pool/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEDGER_MAX_SLOTS 4096
/* Ids kept per slot: a worker can start the job it runs and the ones it holds (up to 3)
 * before the master has committed any of their starts, so the last few are kept, not one. */
#define LEDGER_RING 8

static int64_t *g_slots; /* the mapping (LEDGER_RING ids per slot), or NULL */
static int g_count;      /* slots */
static unsigned g_next;  /* this worker's next position in its ring */

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

int ledger_take(const char *dir, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    char path[PATH_MAX + 32], prev[PATH_MAX + 32];
    path_in(path, sizeof path, dir, "starts");
    path_in(prev, sizeof prev, dir, "starts.prev");
    if (access(prev, F_OK) < 0 && rename(path, prev) < 0 && errno != ENOENT) return -1;
    int fd = open(prev, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno == ENOENT ? 1 : -1;
    struct stat st;
    static int64_t slots[LEDGER_MAX_SLOTS * LEDGER_RING]; /* the master, once, at start */
    ssize_t got = -1;
    if (fstat(fd, &st) < 0)
        got = -1;
    else if (!S_ISREG(st.st_mode))
        errno = EINVAL;
    else
        got = pread(fd, slots, sizeof slots, 0);
    int e = errno;
    close(fd);
    if (got < 0) {
        errno = e;
        return -1;
    }
    size_t count = (size_t)got / sizeof slots[0];
    *ids = malloc((count ? count : 1) * sizeof **ids);
    if (!*ids) return -1;
    for (size_t i = 0; i < count; i++)
        if (slots[i] > 0) (*ids)[(*n)++] = slots[i];
    return 0;
}

void ledger_forget(const char *dir)
{
    char prev[PATH_MAX + 32];
    path_in(prev, sizeof prev, dir, "starts.prev");
    unlink(prev);
}

int ledger_open(const char *dir, int slots)
{
    if (slots < 1 || slots > LEDGER_MAX_SLOTS) {
        errno = EINVAL;
        return -1;
    }
    char path[PATH_MAX + 32];
    path_in(path, sizeof path, dir, "starts");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    /* above the fds pool_respawn hands a re-exec'd worker (3: channel, 4: this one) */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    if (high < 0) return -1;
    size_t len = (size_t)slots * LEDGER_RING * sizeof *g_slots;
    if (ftruncate(high, (off_t)len) < 0 || ledger_attach(high) < 0) {
        int e = errno;
        close(high);
        errno = e;
        return -1;
    }
    return high;
}

int ledger_attach(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) return -1;
    size_t len = (size_t)st.st_size;
    size_t per_slot = LEDGER_RING * sizeof *g_slots;
    if (len < per_slot || len > LEDGER_MAX_SLOTS * per_slot || len % per_slot) {
        errno = EINVAL;
        return -1;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -1;
    g_slots = p;
    g_count = (int)(len / per_slot);
    return 0;
}

void ledger_mark(int slot, int64_t job_id)
{
    if (g_slots && slot >= 0 && slot < g_count)
        __atomic_store_n(&g_slots[slot * LEDGER_RING + g_next++ % LEDGER_RING], job_id,
                         __ATOMIC_RELEASE);
}

bool ledger_began(int slot, int64_t job_id)
{
    if (!g_slots || slot < 0 || slot >= g_count || job_id <= 0) return false;
    for (int i = 0; i < LEDGER_RING; i++)
        if (__atomic_load_n(&g_slots[slot * LEDGER_RING + i], __ATOMIC_ACQUIRE) == job_id)
            return true;
    return false;
}
