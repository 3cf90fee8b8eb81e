-- A terminate asked for a job that runs (issue 15): the signal it was asked with. The node
-- that runs the job kills it; but when that node dies (or this server stops) before the job's
-- end is recorded, the recovery must not run the job again: it ends terminated, or canceled
-- if it never started. migrations/postgresql/0004_terminate_asked.sql has the same.
ALTER TABLE jobs ADD COLUMN terminate_signal INTEGER;
