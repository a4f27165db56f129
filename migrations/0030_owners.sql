-- Owners as limit holders: an owner's own windows, model windows and budget, shared by all
-- of its keys (keys.owner names it). See docs/storage.md.
CREATE TABLE owners (
  owner        TEXT PRIMARY KEY,                 -- the keys.owner string, 1-200 printable ASCII
  policy       TEXT NOT NULL DEFAULT '{}',       -- JSON {limits, model_limits, budget}
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
-- A deleted key's marker retry also writes the copy in its owner's limit shard.
ALTER TABLE outbox ADD COLUMN owner TEXT;
