-- Signing secrets of key/secret pairs (signed requests, `Authorization: JWT`). HMAC needs the
-- secret itself, so it is kept AES-GCM-encrypted under SECRETS_MASTER_KEY (src/lib/secret-box.ts),
-- never in plaintext and never in KV. One secret per key; rotation overwrites it.
CREATE TABLE signing_secrets (
  key_id         TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
  sealed         TEXT NOT NULL,      -- base64url(iv || AES-GCM ciphertext), additional data = key id
  master_version TEXT NOT NULL,      -- fingerprint of the master key that sealed it (rotation)
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
