-- Migration 0006 (MySQL 8 / MariaDB): keygate's keys for signing ID tokens (OpenID Connect),
-- shared by every instance through the database. The private key is stored encrypted
-- (AES-256-GCM) under a key derived from KEYGATE_SECRET. docs/storage.md.
-- A statement whose table exists already counts as done (a re-run).

CREATE TABLE signing_keys (
  kid         VARCHAR(64) NOT NULL PRIMARY KEY,
  alg         VARCHAR(16) NOT NULL CHECK (alg IN ('ES256', 'RS256')),
  public_jwk  TEXT        NOT NULL,
  private_jwk TEXT        NOT NULL,
  created_at  BIGINT      NOT NULL,
  sign_from   BIGINT      NOT NULL,
  retire_at   BIGINT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};
