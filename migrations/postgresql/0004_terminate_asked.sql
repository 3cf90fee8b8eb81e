-- A terminate asked for a job that runs: the signal it was asked with, so that a rescue or a
-- restart recovery ends the job rather than run it again (migrations/0013_terminate_asked.sql).
ALTER TABLE jobs ADD COLUMN terminate_signal BIGINT;
