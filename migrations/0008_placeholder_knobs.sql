-- Placeholder on branch knobs only: number 0008 belongs to another part of issue 13, and
-- migrations must be numbered without gaps. Drop this file when merging that part's 0008.
SELECT 1;
