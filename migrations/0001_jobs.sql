-- Jobs and their state transitions. Times are integer milliseconds since the Unix epoch.
-- argv and env are NUL-separated strings back to back (blobs), exec'd without a shell.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    name            TEXT,
    queue           TEXT    NOT NULL DEFAULT 'default',
    priority        INTEGER NOT NULL DEFAULT 0,
    argv            BLOB    NOT NULL,
    command         TEXT,                               -- set when submitted as "command"
    env             BLOB    NOT NULL DEFAULT x'',
    cwd             TEXT    NOT NULL,
    stdin           BLOB,
    timeout         REAL,                               -- seconds, NULL: none
    state           TEXT    NOT NULL CHECK (state IN ('queued','running','succeeded','failed',
                              'terminated','timed_out','canceled','lost')),
    exit_code       INTEGER,
    signal          INTEGER,
    error           TEXT,
    pid             INTEGER,
    worker          INTEGER,
    attempt         INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 1,
    not_before      INTEGER,                            -- retry backoff: not started before
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    stdout_bytes    INTEGER NOT NULL DEFAULT 0,
    stderr_bytes    INTEGER NOT NULL DEFAULT 0,
    truncated       INTEGER NOT NULL DEFAULT 0,
    user_us         INTEGER,                            -- CPU time of the job's main process
    system_us       INTEGER,
    maxrss_kb       INTEGER,
    -- for the coordination features (templates, keys, groups, pipes, callbacks)
    task            TEXT,
    params          TEXT,                               -- JSON object
    concurrency_key TEXT,
    concurrency_limit INTEGER,
    group_name      TEXT,
    group_size      INTEGER,
    pipeline        TEXT,                               -- JSON array of argv arrays
    stdin_from      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    notify_url      TEXT,
    idempotency_key TEXT
);
CREATE INDEX jobs_by_state ON jobs(state, id);
CREATE INDEX jobs_by_queue ON jobs(queue, id);
CREATE INDEX jobs_by_name ON jobs(name, id) WHERE name IS NOT NULL;
CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE job_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    from_state TEXT,                                    -- NULL for the submission
    to_state   TEXT    NOT NULL,
    detail     TEXT
);
CREATE INDEX job_events_by_job ON job_events(job_id, id);

CREATE TABLE job_dependencies (
    job_id     INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    depends_on INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, depends_on)
) WITHOUT ROWID;

CREATE TABLE queues (
    name        TEXT PRIMARY KEY,
    concurrency INTEGER,                                -- NULL: unlimited
    paused      INTEGER NOT NULL DEFAULT 0
);
