-- keygate system of record. See docs/storage.md for every column and an example row.
CREATE TABLE keys (
  id               TEXT PRIMARY KEY,                 -- key_<ULID>, time-ordered
  digest           TEXT NOT NULL UNIQUE,             -- SHA-256 hex of the plaintext key
  prefix           TEXT NOT NULL,                    -- e.g. kg_live
  display_start    TEXT NOT NULL,                    -- first 4 chars of the random part
  display_end      TEXT NOT NULL,                    -- last 4 chars of the random part
  name             TEXT NOT NULL DEFAULT '',
  description      TEXT NOT NULL DEFAULT '',
  owner            TEXT,
  type             TEXT NOT NULL DEFAULT 'user' CHECK (type IN ('user', 'service', 'system')),
  scopes           TEXT NOT NULL DEFAULT '[]',       -- JSON array of scope names
  tags             TEXT NOT NULL DEFAULT '[]',       -- JSON array
  metadata         TEXT NOT NULL DEFAULT '{}',       -- JSON object, size-bounded by the API
  allowed_ips      TEXT NOT NULL DEFAULT '[]',       -- JSON array of CIDRs
  allowed_referers TEXT NOT NULL DEFAULT '[]',       -- JSON array of host patterns
  limits           TEXT NOT NULL DEFAULT '{}',       -- JSON {limits, model_limits, budget}
  expires_at       INTEGER,                          -- ms since epoch
  is_active        INTEGER NOT NULL DEFAULT 1,
  revoked_at       INTEGER,
  revoked_reason   TEXT,
  last_used_at     INTEGER,
  rotated_to       TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX keys_owner ON keys (owner, id);
CREATE INDEX keys_display ON keys (display_start, display_end);
CREATE INDEX keys_expires ON keys (expires_at) WHERE expires_at IS NOT NULL AND revoked_at IS NULL;
