-- Delayed jobs and schedules (issue 13, part 2).
--
-- A job submitted with run_at / delay is 'scheduled' until then: the state's CHECK gains the
-- value. SQLite cannot ALTER a CHECK; this is its documented edit of the table's stored SQL
-- (https://www.sqlite.org/lang_altertable.html, "simpler procedure": allowing one more value
-- changes nothing on disk), then RESET reloads the schema, so this connection sees it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''canceled'',''lost''))',
                                       '''canceled'',''lost'',''scheduled''))')
 WHERE type = 'table' AND name = 'jobs';
PRAGMA writable_schema = RESET;
ALTER TABLE jobs ADD COLUMN run_at INTEGER;   -- wall ms: scheduled until then (kept after)
ALTER TABLE jobs ADD COLUMN schedule TEXT;    -- the schedule that made it (no foreign key:
                                              -- its jobs outlive a deleted schedule)
CREATE INDEX jobs_by_schedule ON jobs(schedule, id) WHERE schedule IS NOT NULL;

-- A schedule makes a job from `job` (a submit body) at each time `cron` names in `timezone`.
CREATE TABLE schedules (
    name        TEXT    PRIMARY KEY,
    cron        TEXT    NOT NULL,
    timezone    TEXT    NOT NULL DEFAULT 'UTC',
    job         TEXT    NOT NULL,                   -- JSON: the submit body of each run
    overlap     TEXT    NOT NULL DEFAULT 'allow' CHECK (overlap IN ('allow','skip','replace')),
    paused      INTEGER NOT NULL DEFAULT 0,
    catch_up    INTEGER NOT NULL DEFAULT 1,         -- after downtime: run one missed time
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    next_run_at INTEGER,                            -- wall ms; NULL: paused, or never again
    last_run_at INTEGER,                            -- the last time that came (run or skipped)
    last_job_id INTEGER,                            -- the job it made then
    runs        INTEGER NOT NULL DEFAULT 0,         -- jobs made
    skipped     INTEGER NOT NULL DEFAULT 0          -- times skipped (overlap "skip")
) WITHOUT ROWID;
