-- test_compat.sql: what the e2e tests' own queries (written for the sqlite3 CLI) need of
-- SQLite in a PostgreSQL test database (tests/e2e/lib_pg.sh). Not part of the schema.
CREATE FUNCTION sp_test_concat(acc text, v anyelement, sep text) RETURNS text
    LANGUAGE sql IMMUTABLE AS
    $$ SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v::text
                   ELSE acc || sep || v::text END $$;
CREATE AGGREGATE group_concat(anyelement, text) (SFUNC = sp_test_concat, STYPE = text);
CREATE FUNCTION instr(s text, sub text) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$ SELECT strpos(s, sub) $$;
