-- notify_url callbacks not delivered yet: kept across restarts, retried with backoff.
CREATE TABLE notifications (
    job_id     INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    url        TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,                        -- wall ms
    last_error TEXT
);
