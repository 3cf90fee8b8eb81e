-- Retention and bulk delete (issue 13): deleting a job sets the stdin_from of the jobs it fed
-- to NULL (the foreign key), which without an index would read the whole table for every job
-- deleted. (The oldest finished jobs are found through jobs_by_finished of 0008: its entries
-- end with the rowid, so one index walk per slice reads them in (finished_at, id) order.)
CREATE INDEX jobs_by_stdin_from ON jobs(stdin_from) WHERE stdin_from IS NOT NULL;
