-- The identity a key's limit windows and budget are counted under in the limit store. NULL
-- means the key's own id; a rotation successor carries its predecessor's, so rotation never
-- resets a spent budget or a window. (The revocation marker stays per key id.)
ALTER TABLE keys ADD COLUMN counter_id TEXT;
-- The outbox also needs it for deleted keys, whose row is gone when the marker is retried.
ALTER TABLE outbox ADD COLUMN counter_id TEXT;
