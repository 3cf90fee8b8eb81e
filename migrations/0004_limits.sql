-- Per-job resource limits as resolved at submit (defaults, template, job):
-- "nofile=256,memory=1073741824"; NULL: none.
ALTER TABLE jobs ADD COLUMN limits TEXT;
