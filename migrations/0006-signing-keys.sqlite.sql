-- Migration 0006 (SQLite): keygate's keys for signing ID tokens (OpenID Connect), shared by
-- every instance through the database. The private key is stored encrypted (AES-256-GCM)
-- under a key derived from KEYGATE_SECRET. docs/storage.md.

CREATE TABLE signing_keys (
  kid         TEXT    PRIMARY KEY,
  alg         TEXT    NOT NULL CHECK (alg IN ('ES256', 'RS256')),
  public_jwk  TEXT    NOT NULL, -- JSON
  private_jwk TEXT    NOT NULL, -- encrypted: secret kid . iv . ciphertext . tag (base64url)
  created_at  INTEGER NOT NULL,
  sign_from   INTEGER NOT NULL, -- signs from this time (published from created_at)
  retire_at   INTEGER           -- no longer published from this time; NULL: not retired
);
