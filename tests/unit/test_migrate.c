/* Unit tests for server/migrate on in-memory SQLite databases: the embedded migrations,
 * idempotence, atomicity of a failing list, and refusal of a newer database. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/migrate.h"

static struct db *open_memory(void)
{
    struct db *db = NULL;
    char err[256];
    if (db_open(&db, ":memory:", 0, err, sizeof err) < 0) {
        fprintf(stderr, "db_open(:memory:) failed: %s\n", err);
        exit(1);
    }
    return db;
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void set_user_version(sqlite3 *db, int v)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
}

static bool has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    bool found = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* The whole schema as one string (malloc'd), to compare before and after. */
static char *schema_dump(sqlite3 *db)
{
    sqlite3_stmt *st;
    size_t len = 0;
    char *out = calloc(1, 1);
    if (!out) return NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT type || ' ' || name || ' ' || coalesce(sql, '') "
                           "FROM sqlite_master ORDER BY type, name",
                           -1, &st, NULL) != SQLITE_OK)
        return out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(st, 0);
        size_t n = strlen(row);
        char *grown = realloc(out, len + n + 2);
        if (!grown) break;
        out = grown;
        memcpy(out + len, row, n);
        out[len + n] = '\n';
        out[len + n + 1] = '\0';
        len += n + 1;
    }
    sqlite3_finalize(st);
    return out;
}

static void check_embedded_list(const struct migration *list, size_t count)
{
    CHECK(count >= 1);
    for (size_t i = 0; i < count; i++) {
        CHECK(list[i].name != NULL && list[i].sql != NULL);
        if (!list[i].name) continue;
        /* NNNN_name.sql, numbered i + 1 */
        CHECK_EQ_INT(atoi(list[i].name), (long long)i + 1);
        CHECK(strstr(list[i].name, ".sql") != NULL);
        CHECK(list[i].sql != NULL && list[i].sql[0] != '\0');
    }
}

static void test_embedded_list(void)
{
    check_embedded_list(migrations, migrations_count);
    check_embedded_list(migrations_pg, migrations_pg_count);
    /* the PostgreSQL schema is its own (tests/unit/test_pg_schema.sh compares the two) */
    CHECK(strstr(migrations_pg[0].sql, "CREATE TABLE jobs") != NULL);
    CHECK(strstr(migrations_pg[0].sql, "COLLATE \"C\"") != NULL);
}

static void test_fresh_apply_and_twice(void)
{
    struct db *dbc = open_memory();
    sqlite3 *db = db_sqlite(dbc);
    char err[256] = "";
    CHECK_EQ_INT(user_version(db), 0);
    CHECK(!has_table(db, "jobs"));

    CHECK(migrate_apply(dbc, migrations, migrations_count, err, sizeof err) == 0);
    CHECK_EQ_INT(user_version(db), migrations_count);
    CHECK(has_table(db, "jobs"));
    CHECK(has_table(db, "job_events"));
    CHECK(sqlite3_get_autocommit(db) != 0); /* no transaction left open */

    /* The schema works: a job and an event can be written and read. */
    CHECK(sqlite3_exec(db,
                       "INSERT INTO jobs (argv, cwd, state, created_at) "
                       "VALUES (x'6c7300', '/tmp', 'queued', 1);"
                       "INSERT INTO job_events (job_id, at, to_state) VALUES (1, 1, 'queued');",
                       NULL, NULL, NULL) == SQLITE_OK);

    char *before = schema_dump(db);
    CHECK(before != NULL && strstr(before, "table jobs ") != NULL);

    /* Applying again is a no-op: 0, same version, same schema, data untouched. */
    err[0] = '\0';
    CHECK(migrate_apply(dbc, migrations, migrations_count, err, sizeof err) == 0);
    CHECK_EQ_INT(user_version(db), migrations_count);
    char *after = schema_dump(db);
    CHECK(before && after && strcmp(before, after) == 0);
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM jobs", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1);
    sqlite3_finalize(st);
    CHECK(sqlite3_get_autocommit(db) != 0);
    free(before);
    free(after);
    db_close(dbc);
}

static const struct migration bad_list[] = {
    {"0001_ok.sql", "CREATE TABLE a (x INTEGER); CREATE INDEX a_x ON a(x);"},
    {"0002_bad.sql", "CREATE TABLE b (y INTEGER); THIS IS NOT SQL;"},
};

static void test_failing_list_is_atomic(void)
{
    /* From version 0: neither step sticks, not even the good first one. */
    struct db *dbc = open_memory();
    sqlite3 *db = db_sqlite(dbc);
    char err[256] = "";
    char *before = schema_dump(db);
    CHECK(migrate_apply(dbc, bad_list, 2, err, sizeof err) == -1);
    CHECK(err[0] != '\0');
    CHECK(strstr(err, "0002_bad.sql") != NULL);
    CHECK_EQ_INT(user_version(db), 0);
    CHECK(!has_table(db, "a"));
    CHECK(!has_table(db, "b"));
    char *after = schema_dump(db);
    CHECK(before && after && strcmp(before, after) == 0);
    CHECK(sqlite3_get_autocommit(db) != 0); /* rolled back, not left open */
    free(before);
    free(after);

    /* From version 1 (first step applied on its own): the second fails, version stays 1,
     * and the first step's table is still there. */
    err[0] = '\0';
    CHECK(migrate_apply(dbc, bad_list, 1, err, sizeof err) == 0);
    CHECK_EQ_INT(user_version(db), 1);
    CHECK(has_table(db, "a"));
    before = schema_dump(db);
    err[0] = '\0';
    CHECK(migrate_apply(dbc, bad_list, 2, err, sizeof err) == -1);
    CHECK(strstr(err, "0002_bad.sql") != NULL);
    CHECK_EQ_INT(user_version(db), 1);
    CHECK(has_table(db, "a"));
    CHECK(!has_table(db, "b"));
    after = schema_dump(db);
    CHECK(before && after && strcmp(before, after) == 0);
    CHECK(sqlite3_get_autocommit(db) != 0);
    free(before);
    free(after);

    /* A tiny err buffer is still NUL-terminated and not overrun. */
    char tiny[8];
    memset(tiny, 'X', sizeof tiny);
    CHECK(migrate_apply(dbc, bad_list, 2, tiny, 5) == -1);
    CHECK(tiny[4] == '\0' && tiny[5] == 'X');
    db_close(dbc);
}

static void test_newer_database_refused(void)
{
    struct db *dbc = open_memory();
    sqlite3 *db = db_sqlite(dbc);
    set_user_version(db, (int)migrations_count + 1);
    char err[256] = "";
    CHECK(migrate_apply(dbc, migrations, migrations_count, err, sizeof err) == -1);
    CHECK(err[0] != '\0');
    CHECK(strstr(err, "newer") != NULL);
    CHECK_EQ_INT(user_version(db), migrations_count + 1);
    CHECK(!has_table(db, "jobs"));
    CHECK(sqlite3_get_autocommit(db) != 0);

    /* Equal to the count is not "newer": accepted as up to date, nothing applied. */
    db_close(dbc);
    dbc = open_memory();
    db = db_sqlite(dbc);
    set_user_version(db, (int)migrations_count);
    err[0] = '\0';
    CHECK(migrate_apply(dbc, migrations, migrations_count, err, sizeof err) == 0);
    CHECK(!has_table(db, "jobs"));
    db_close(dbc);
}

int main(void)
{
    test_embedded_list();
    test_fresh_apply_and_twice();
    test_failing_list_is_atomic();
    test_newer_database_refused();
    return check_report();
}
