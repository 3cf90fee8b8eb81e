-- The time filters of GET /v1/jobs (created_after, created_before, finished_after) read these
-- indexes, so no filter scans the whole jobs table (tests/unit/test_list_plan.c checks the
-- plan of every combination). created_at is indexed rather than mapped to id bounds: ids
-- follow the wall clock only as long as it never steps back. A job that has not ended has
-- no finished_at, and is left out of that index.
CREATE INDEX jobs_by_created ON jobs(created_at);
CREATE INDEX jobs_by_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
