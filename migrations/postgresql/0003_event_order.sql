-- Events in commit order across nodes (issue 15). An event's id comes from a sequence when it
-- is inserted, not when its transaction commits: with several nodes writing, an event with a
-- smaller id may become visible after one with a larger id, and a stream that went past the
-- larger one (GET /v1/events, Last-Event-ID) would never send it. Each event keeps the id of
-- the transaction that wrote it; a stream reads only events whose transaction is older than
-- every transaction still in progress (pg_snapshot_xmin), so whatever it has not seen yet
-- gets an id above what it sent. (SQLite has one writer: commit order is id order there.)
ALTER TABLE job_events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
