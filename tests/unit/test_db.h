/* test_db.h: what tests/unit/test_db.c shares with its bench (test_db_bench.c). */
#ifndef SPAWNPOOL_TEST_DB_H
#define SPAWNPOOL_TEST_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "server/db.h"

/* The connection under test, and whether it is PostgreSQL's. */
extern struct db *db;
extern bool pg;
/* The monotonic clock in microseconds. */
int64_t now_us(void);
/* A persistent statement (NULL, with the error printed, if it cannot be prepared). */
struct db_stmt *prep(const char *sql);
/* db_exec, the error printed if it fails. */
int exec(const char *sql);
/* The table t the cases use, created empty. */
void setup(void);
/* The bench: n prepared single-row INSERTs (autocommit, then in one transaction) and n SELECTs
 * by id, each timed; prints mean, p50 and p99 per call. Returns the exit status. */
int bench(int n);

#endif
