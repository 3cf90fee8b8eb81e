/* store_fixture: what the store's unit tests share (test_store.c, test_store_read.c): a
 * database in a temporary directory (dir, db_path: mkdtemp'd by main), job specs, inserts
 * and reads of a job's state. */
#ifndef SPAWNPOOL_TEST_STORE_FIXTURE_H
#define SPAWNPOOL_TEST_STORE_FIXTURE_H

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "server/store.h"

static char dir[] = "/tmp/spawnpool-test-store-XXXXXX";
static char db_path[256];

static inline void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static inline struct store *open_store(void)
{
    struct store *s = NULL;
    char err[256] = "";
    if (store_open(&s, db_path, err, sizeof err) != 0) {
        fprintf(stderr, "store_open(%s): %s\n", db_path, err);
        remove_dir(dir);
        exit(2);
    }
    return s;
}

/* A spec with argv {args...} (NULL-terminated), queue "default", cwd "/tmp". */
static inline struct job_spec make_spec(const char *name, const char *queue, int64_t priority,
                                        const char *const *args)
{
    struct job_spec j = {0};
    j.name = name ? strdup(name) : NULL;
    j.queue = strdup(queue ? queue : "default");
    j.priority = priority;
    for (const char *const *a = args; *a; a++)
        if (strblob_add(&j.argv, *a, strlen(*a)) < 0) exit(2);
    j.cwd = strdup("/tmp");
    j.max_attempts = 1;
    return j;
}

static const char *const true_cmd[] = {"true", NULL};

static inline int64_t insert_one(struct store *s, struct job_spec *spec, int64_t now)
{
    int64_t id = -1;
    CHECK(store_insert_jobs(s, spec, 1, now, &id) == 0);
    CHECK(id > 0);
    return id;
}

static inline enum job_state state_of(struct store *s, int64_t id)
{
    struct job j;
    if (store_get_job(s, id, &j, false) != 0) return JOB_STATE_COUNT;
    enum job_state st = j.state;
    job_free(&j);
    return st;
}

#endif
