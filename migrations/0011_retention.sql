-- Retention and bulk delete (issue 13): the oldest finished jobs are found in the order they
-- finished (one index walk per slice, never a scan of the table), and deleting a job sets the
-- stdin_from of the jobs it fed to NULL (the foreign key), which without an index would read
-- the whole table for every job deleted.
CREATE INDEX jobs_by_finished_at ON jobs(finished_at, id) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_by_stdin_from ON jobs(stdin_from) WHERE stdin_from IS NOT NULL;
