-- Every admin change: who did what to which key, and which fields changed.
CREATE TABLE audit_log (
  id      TEXT PRIMARY KEY,      -- aud_<ULID>, time-ordered
  at      INTEGER NOT NULL,      -- ms since epoch
  actor   TEXT NOT NULL,         -- 'admin_token' or the id of an admin-scoped key
  action  TEXT NOT NULL,         -- create | update | activate | deactivate | revoke | rotate | delete | extend
  key_id  TEXT,
  changes TEXT NOT NULL DEFAULT '[]' -- JSON array of changed field names
);
CREATE INDEX audit_key ON audit_log (key_id, id);

-- Idempotent admin operations (rotation): the first result is replayed for a retried key.
CREATE TABLE idempotency (
  key        TEXT PRIMARY KEY,   -- '<action>:<key id>:<Idempotency-Key header>'
  response   TEXT NOT NULL,      -- JSON of the first successful response
  created_at INTEGER NOT NULL
);
