-- A job made by POST /v1/jobs/{id}/rerun says which job it reruns (no foreign key: the first
-- job may be deleted, the rerun still says where it came from). Indexed for the rerun_of
-- filter.
ALTER TABLE jobs ADD COLUMN rerun_of INTEGER;
CREATE INDEX jobs_by_rerun_of ON jobs(rerun_of, id) WHERE rerun_of IS NOT NULL;
