-- Outbound webhooks: endpoints, the messages sent to them, and every delivery attempt.
CREATE TABLE webhook_endpoints (
  id              TEXT PRIMARY KEY,  -- whe_<ULID>
  url             TEXT NOT NULL,
  description     TEXT NOT NULL DEFAULT '',
  events          TEXT NOT NULL,     -- JSON array of event types
  secret          TEXT NOT NULL,     -- whsec_<base64>: signs deliveries; shown once at creation
  enabled         INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT,              -- gone (410) | failing (consecutive failed deliveries) | admin
  failure_count   INTEGER NOT NULL DEFAULT 0, -- consecutive deliveries that failed every attempt
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

-- One message per event; its id is the webhook-id every delivery and retry carries.
CREATE TABLE webhook_messages (
  id         TEXT PRIMARY KEY,       -- msg_<source id>: stable, so re-dispatch inserts nothing
  type       TEXT NOT NULL,          -- key.revoked, limit.exceeded, ...
  payload    TEXT NOT NULL,          -- the signed JSON body
  created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
  id              TEXT PRIMARY KEY,  -- whd_<ULID>
  endpoint_id     TEXT NOT NULL,
  message_id      TEXT NOT NULL,
  status          TEXT NOT NULL,     -- pending | succeeded | failed
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,           -- when pending: the cron re-queues deliveries overdue by 10 minutes
  last_status     INTEGER,           -- HTTP status of the last attempt, null for network errors
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhook_attempts (
  id          TEXT PRIMARY KEY,      -- wha_<ULID>
  delivery_id TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  status      INTEGER,               -- HTTP status, null for network errors and timeouts
  error       TEXT,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
