-- Migration 0002 (PostgreSQL): people and accounts that come from the product (KEYGATE_LOGIN
-- handoff): the product's ids beside keygate's own, memberships the product ended, and the
-- assertions already used (single use across instances). docs/storage.md.

ALTER TABLE users ADD COLUMN external_issuer TEXT;
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external ON users (external_issuer, external_id);

ALTER TABLE accounts ADD COLUMN external_issuer TEXT;
ALTER TABLE accounts ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX accounts_external ON accounts (external_issuer, external_id);

ALTER TABLE memberships ADD COLUMN removed_at BIGINT;

CREATE TABLE used_assertions (
  issuer     TEXT    NOT NULL,
  jti        TEXT    NOT NULL,
  expires_at BIGINT  NOT NULL,
  PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_assertions_expires ON used_assertions (expires_at);
