-- Set once the scheduled cleanup has handled a key's expiry (marker written, KV entry
-- removed); any later change to the key resets it.
ALTER TABLE keys ADD COLUMN expiry_handled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX keys_expiry_pending ON keys (expires_at) WHERE expiry_handled = 0 AND revoked_at IS NULL AND expires_at IS NOT NULL;
