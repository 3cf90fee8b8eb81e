-- One row the server writes when a batch of only submits failed to commit (a full disk, a
-- lock held by another process): retrying that write tells when the database can commit
-- again, so the store stays "degraded" (submits refused at once) until it really can.
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL -- wall ms of the failed batch
);
