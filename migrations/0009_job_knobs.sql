-- Per-job knobs that were server-wide (issue 13, part 6), resolved at submit and kept with
-- the job: bytes of output kept per stream (at most --max-output) and the seconds before the
-- first retry (doubling up to --retry-backoff-max). NULL for jobs stored before: the
-- server's settings apply. (limits.cpu travels in the limits column.)
ALTER TABLE jobs ADD COLUMN max_output INTEGER;
ALTER TABLE jobs ADD COLUMN retry_backoff REAL;
-- Where the usage figures came from (issue 13, part 4): bit 1, the CPU from the job's cgroup
-- leaf (cpu.stat: the whole tree); bit 2, the peak memory (memory.peak); a clear bit: rusage
-- of the main process and what it waited for. NULL: rusage (or no usage at all).
ALTER TABLE jobs ADD COLUMN usage_from INTEGER;
