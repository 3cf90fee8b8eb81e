-- Nodes (issue 15). Several spawnpool nodes may share one PostgreSQL database; SQLite has one
-- node, but keeps the same columns so the store's SQL and the API are the same on both: the
-- node that claimed a job and its lease epoch then (a node records an outcome only WHERE
-- epoch = its own, so one declared dead and rescued touches nothing), and the nodes table
-- that GET /v1/nodes lists. migrations/postgresql/0001_schema.sql has the same.
ALTER TABLE jobs ADD COLUMN node TEXT;
ALTER TABLE jobs ADD COLUMN epoch INTEGER;
CREATE INDEX jobs_by_node ON jobs(node, id)
    WHERE node IS NOT NULL AND (state = 'queued' OR state = 'running');
CREATE TABLE nodes (
    name         TEXT    PRIMARY KEY,
    url          TEXT    NOT NULL,              -- the URL it advertises to the others
    started_at   INTEGER NOT NULL,              -- wall ms
    heartbeat_at INTEGER NOT NULL,              -- wall ms of the last renewal
    version      TEXT    NOT NULL,              -- spawnpool --version of that node
    epoch        INTEGER NOT NULL DEFAULT 1,
    rescued_at   INTEGER                        -- wall ms it was declared dead; NULL: alive
);
