/* test_db_bench: `test_db KIND TARGET --bench N`: the per-call latency of the prepared
 * statements the store runs most, a single-row INSERT and a SELECT by id. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/test_db.h"

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, int64_t *us, int n)
{
    int64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += us[i];
    qsort(us, (size_t)n, sizeof *us, cmp64);
    printf("bench %-6s %-34s n=%d mean=%.1fus p50=%lldus p99=%lldus\n", pg ? "pg" : "sqlite", what,
           n, (double)sum / n, (long long)us[n / 2], (long long)us[n * 99 / 100]);
}

int bench(int n)
{
    setup();
    int64_t *us = calloc((size_t)n, sizeof *us);
    struct db_stmt *ins = prep("INSERT INTO t (i, s) VALUES (?, ?)");
    struct db_stmt *sel = prep("SELECT i, s FROM t WHERE id = ?");
    for (int round = 0; round < 2; round++) { /* autocommit, then all in one transaction */
        if (round) db_begin(db);
        for (int i = 0; i < n; i++) {
            int64_t t0 = now_us();
            db_bind_int(ins, 1, i);
            db_bind_text(ins, 2, "payload");
            if (db_step(ins) != DB_DONE) fprintf(stderr, "insert: %s\n", db_errmsg(db));
            db_reset(ins);
            us[i] = now_us() - t0;
        }
        if (round) exec("COMMIT");
        report(round ? "INSERT (prepared, one transaction)" : "INSERT (prepared, autocommit)", us,
               n);
    }
    for (int i = 0; i < n; i++) {
        int64_t t0 = now_us();
        db_bind_int(sel, 1, 1 + i % n);
        if (db_step(sel) != DB_ROW) fprintf(stderr, "select: %s\n", db_errmsg(db));
        db_reset(sel);
        us[i] = now_us() - t0;
    }
    report("SELECT by id (prepared)", us, n);
    db_finalize(ins);
    db_finalize(sel);
    free(us);
    return 0;
}
