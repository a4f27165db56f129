-- Side effects of an admin change that must follow its D1 commit: the KV snapshot and the
-- limit store's revocation marker. A row is written in the same batch as the change and
-- deleted once both are written; while it stays, the change is "pending" and every admin
-- call and the cron retry it from the key's current D1 state.
CREATE TABLE outbox (
  key_id     TEXT PRIMARY KEY,       -- the key whose snapshot and marker must be written
  digest     TEXT NOT NULL,          -- its digest, so a deleted key's snapshot can still be removed
  token      TEXT NOT NULL,          -- random per write: only the writer that inserted it deletes it
  created_at INTEGER NOT NULL,       -- ms since epoch
  attempts   INTEGER NOT NULL DEFAULT 0,
  last_error TEXT                    -- 'kv' | 'marker' | 'kv,marker'
);
