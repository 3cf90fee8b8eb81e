-- Reserved: number 0008 belongs to another part of issue 13 (the lead merges its migration
-- here). This placeholder only keeps the numbers in sequence on the retention branch, so that
-- 0011 can be built and tested; it changes nothing. Drop it at the merge.
SELECT 1;
