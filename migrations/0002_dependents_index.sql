-- Finding the dependents of a job that ended (every job end looks) needs this index; the
-- primary key (job_id, depends_on) only serves the other direction.
CREATE INDEX job_dependencies_by_dependency ON job_dependencies(depends_on, job_id);
