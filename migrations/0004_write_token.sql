-- A random token written by every guarded update, so statements later in the same D1 batch
-- (audit entries, rotation inserts) can tell whether THIS attempt's update applied.
ALTER TABLE keys ADD COLUMN write_token TEXT;
