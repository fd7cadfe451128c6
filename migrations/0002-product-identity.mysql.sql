-- Migration 0002 (MySQL 8 / MariaDB): people and accounts that come from the product
-- (KEYGATE_LOGIN handoff): the product's ids beside keygate's own, memberships the product
-- ended, and the assertions already used (single use across instances). docs/storage.md.
-- A statement whose column, index or table exists already counts as done (a re-run).

ALTER TABLE users ADD COLUMN external_issuer VARCHAR(255), ADD COLUMN external_id VARCHAR(255);
CREATE UNIQUE INDEX users_external ON users (external_issuer, external_id);

ALTER TABLE accounts ADD COLUMN external_issuer VARCHAR(255), ADD COLUMN external_id VARCHAR(255);
CREATE UNIQUE INDEX accounts_external ON accounts (external_issuer, external_id);

ALTER TABLE memberships ADD COLUMN removed_at BIGINT;

CREATE TABLE used_assertions (
  issuer     VARCHAR(255) NOT NULL,
  jti        VARCHAR(255) NOT NULL,
  expires_at BIGINT       NOT NULL,
  PRIMARY KEY (issuer, jti),
  INDEX used_assertions_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};
