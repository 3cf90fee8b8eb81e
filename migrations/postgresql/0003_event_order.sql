-- Events in commit order across nodes (issue 15). An event's id comes from a sequence when it
-- is inserted, not when its transaction commits: with several nodes writing, an event with a
-- smaller id may become visible after one with a larger id, and a stream that went past the
-- larger one (GET /v1/events, Last-Event-ID) would never send it. Each event keeps when it was
-- written, by the database's clock; a stream sends events only up to the first id missing
-- (its transaction is still open) unless the events after that gap were written long enough
-- ago that the missing id is no event (a transaction rolled back: server/store_read.c).
-- (SQLite has one writer: commit order is id order there.)
ALTER TABLE job_events
    ADD COLUMN written BIGINT NOT NULL DEFAULT CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT);
