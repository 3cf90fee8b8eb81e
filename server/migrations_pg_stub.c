/* TEMPORARY until migrations/postgresql/ is embedded: no PostgreSQL schema yet. */
#include "server/migrate.h"

const struct migration migrations_pg[1] = {{"none", ""}};
const size_t migrations_pg_count = 0;
