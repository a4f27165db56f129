-- Webhook signing secrets sealed at rest, like signing_secrets: AES-256-GCM under
-- SECRETS_MASTER_KEY (src/lib/secret-box.ts), the endpoint id as additional data. SQL cannot
-- encrypt, so this migration only makes room: rows created before it keep their plaintext in
-- `secret` until the Worker seals them (src/webhooks/secrets.ts), at their next delivery or by
-- the cron's sweep, whichever comes first. `secret` becomes nullable, so the table is rebuilt
-- (nothing references it by foreign key).
CREATE TABLE webhook_endpoints_new (
  id              TEXT PRIMARY KEY,  -- whe_<ULID>
  url             TEXT NOT NULL,
  description     TEXT NOT NULL DEFAULT '',
  events          TEXT NOT NULL,     -- JSON array of event types
  secret          TEXT,              -- legacy plaintext whsec_: only rows not sealed yet; NULL once sealed
  sealed_secret   TEXT,              -- base64url(iv || AES-GCM ciphertext), additional data = id
  master_version  TEXT,              -- fingerprint of the master key that sealed it (rotation)
  enabled         INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT,              -- gone (410) | failing (consecutive failed deliveries) | admin
  failure_count   INTEGER NOT NULL DEFAULT 0, -- consecutive deliveries that failed every attempt
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  CHECK ((secret IS NULL) <> (sealed_secret IS NULL)),
  CHECK ((sealed_secret IS NULL) = (master_version IS NULL))
);
INSERT INTO webhook_endpoints_new (id, url, description, events, secret, enabled, disabled_reason, failure_count, created_at, updated_at)
  SELECT id, url, description, events, secret, enabled, disabled_reason, failure_count, created_at, updated_at FROM webhook_endpoints;
DROP TABLE webhook_endpoints;
ALTER TABLE webhook_endpoints_new RENAME TO webhook_endpoints;
