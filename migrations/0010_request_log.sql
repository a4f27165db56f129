-- One row per proxied request whose key was identified (admitted or refused), written by the
-- queue consumer. Never key material, bodies or credential headers.
CREATE TABLE request_log (
  id            TEXT PRIMARY KEY,  -- log_<ULID of the request time>: time-ordered, the cursor
  at            INTEGER NOT NULL,  -- ms since epoch
  request_id    TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  owner         TEXT,
  route         TEXT,              -- the matched route's path, e.g. /llm
  method        TEXT NOT NULL,
  path          TEXT NOT NULL,     -- without the query string
  status        INTEGER NOT NULL,
  outcome       TEXT NOT NULL,     -- ok, or the error code of the refusal
  ip            TEXT,
  user_agent    TEXT,
  referer       TEXT,
  key_ms        REAL,
  store_ms      REAL,
  upstream_ms   REAL,
  total_ms      REAL,
  model         TEXT,
  input_tokens  INTEGER,
  output_tokens INTEGER,
  cost_micros   INTEGER,           -- USD millionths
  store         TEXT               -- durable_object | upstash, null when no store call was made
);
CREATE INDEX request_log_key ON request_log (key_id, id);

-- Hourly totals per key, added in the same transaction as the rows they count (each once). Latency is a histogram
-- (lat_0..lat_11, upper bounds in ROLLUP_BUCKETS_MS in src/events/rollups.ts) so hours add up.
CREATE TABLE request_rollups (
  key_id        TEXT NOT NULL,
  hour          INTEGER NOT NULL,  -- ms since epoch at the start of the UTC hour
  requests      INTEGER NOT NULL DEFAULT 0,
  errors        INTEGER NOT NULL DEFAULT 0,  -- status >= 400, refusals included
  rate_limited  INTEGER NOT NULL DEFAULT 0,
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_micros   INTEGER NOT NULL DEFAULT 0,
  lat_0 INTEGER NOT NULL DEFAULT 0, lat_1 INTEGER NOT NULL DEFAULT 0, lat_2 INTEGER NOT NULL DEFAULT 0,
  lat_3 INTEGER NOT NULL DEFAULT 0, lat_4 INTEGER NOT NULL DEFAULT 0, lat_5 INTEGER NOT NULL DEFAULT 0,
  lat_6 INTEGER NOT NULL DEFAULT 0, lat_7 INTEGER NOT NULL DEFAULT 0, lat_8 INTEGER NOT NULL DEFAULT 0,
  lat_9 INTEGER NOT NULL DEFAULT 0, lat_10 INTEGER NOT NULL DEFAULT 0, lat_11 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, hour)
);
CREATE INDEX request_rollups_hour ON request_rollups (hour);

-- Messages the queue gave up on (dead-letter queue), kept for an operator to inspect.
CREATE TABLE dead_letters (
  id         TEXT PRIMARY KEY,     -- the queue message id
  queue      TEXT NOT NULL,
  body       TEXT NOT NULL,        -- JSON of the message (request events carry no key material)
  created_at INTEGER NOT NULL
);
