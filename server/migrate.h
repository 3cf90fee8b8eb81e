/* migrate: applies the SQL migrations embedded at build time (migrations/NNNN_name.sql). */
#ifndef SPAWNPOOL_MIGRATE_H
#define SPAWNPOOL_MIGRATE_H

#include <stddef.h>
#include "server/db.h"

/* One migration; list[i] brings the schema to version i + 1. */
struct migration {
    const char *name;
    const char *sql;
};
/* SQLite's migrations (migrations/NNNN_name.sql), migrations_count of them. */
extern const struct migration migrations[];
extern const size_t migrations_count;
/* PostgreSQL's (migrations/postgresql/NNNN_name.sql), numbered on their own. */
extern const struct migration migrations_pg[];
extern const size_t migrations_pg_count;

/* Applies every migration past the database's schema version, all in one transaction with
 * the version's update. Returns 0, or -1 with a message in err. A database newer than this
 * binary is refused. */
int migrate_apply(struct db *db, const struct migration *list, size_t count, char *err,
                  size_t errlen);

#endif
