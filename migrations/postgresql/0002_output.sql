-- PostgreSQL only (issue 15, point 5: a job's output readable from any node): a job's captured
-- output as chunks, copied from the output files of the node that runs it by that node's
-- shipper (server/output_ship.c) about every 500 ms, and read by the other nodes
-- (server/store_output.c, api/output_chunks.c). SQLite has one node, which reads its files.
--
-- A chunk is bytes [pos, pos + length(data)) of one stream of one attempt of the job (a retry
-- starts its output afresh, as its file does); an attempt's chunks are contiguous from 0. A
-- chunk with no data marks the end: the attempt's stream is complete there (its node shipped
-- the file's final size). A dead node's attempt has no end mark: readers stop waiting for it
-- a little after the job has ended. Deleting a job deletes its chunks.
CREATE TABLE job_output (
    job_id  BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    stream  TEXT COLLATE "C" NOT NULL CHECK (stream IN ('stdout','stderr')),
    pos     BIGINT NOT NULL,
    data    BYTEA  NOT NULL,
    PRIMARY KEY (job_id, attempt, stream, pos)
);
