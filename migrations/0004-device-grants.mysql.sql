-- Migration 0004 (MySQL 8 / MariaDB): device authorization grants (RFC 8628), the one
-- piece of OAuth state keygate stores before a key exists: a device polls for minutes while
-- its user approves elsewhere, and the approval must be seen by whichever instance answers
-- the next poll. docs/storage.md.
-- A statement whose table exists already counts as done (a re-run).

CREATE TABLE device_grants (
  id                 VARCHAR(64)  NOT NULL PRIMARY KEY,
  device_code_hash   VARCHAR(128) NOT NULL UNIQUE,
  user_code          VARCHAR(16)  NOT NULL UNIQUE,
  client_id          VARCHAR(512) NOT NULL,
  scopes             TEXT         NOT NULL,
  resource           TEXT         NOT NULL,
  created_at         BIGINT       NOT NULL,
  expires_at         BIGINT       NOT NULL,
  interval_seconds   BIGINT       NOT NULL,
  polled_at          BIGINT,
  status             VARCHAR(16)  NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  user_id            BIGINT,
  account_id         BIGINT,
  granted_scopes     TEXT,
  consent_created_at BIGINT,
  FOREIGN KEY (client_id) REFERENCES oauth_clients(client_id),
  INDEX device_grants_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};
