-- What an idempotency key stands for: the SHA-256 (hex) of the submitted job as canonical
-- JSON (keys sorted, no spaces, the key itself left out). The same key with another request
-- is refused (409 idempotency_mismatch). NULL for jobs stored before: they match any request.
ALTER TABLE jobs ADD COLUMN idempotency_fingerprint TEXT;
