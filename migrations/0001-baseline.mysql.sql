-- Migration 0001 (MySQL 8 / MariaDB): keygate's schema as 0.1.0 had it on SQLite and
-- PostgreSQL (docs/storage.md says what each table is for). {{exact}} and {{caseless}}
-- are the server's NO PAD collations, exact and case-insensitive (src/store/migrate.ts):
-- identifiers and hashes compare byte for byte, and 'abc ' is not 'abc'. Indexed text is
-- VARCHAR (an index holds at most 3,072 bytes, 768 characters of utf8mb4). MySQL's DDL is
-- not transactional: every statement here can run again (IF NOT EXISTS, indexes inside
-- their table), so a start after a failure half-way finishes the migration.

CREATE TABLE IF NOT EXISTS users (
  id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email         VARCHAR(320) COLLATE {{caseless}} NOT NULL UNIQUE,
  name          TEXT         NOT NULL,
  password_hash TEXT         NOT NULL,
  created_at    BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS accounts (
  id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       TEXT        NOT NULL,
  kind       VARCHAR(16) NOT NULL CHECK (kind IN ('personal', 'team')),
  created_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS memberships (
  user_id    BIGINT      NOT NULL,
  account_id BIGINT      NOT NULL,
  role       VARCHAR(16) NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at BIGINT      NOT NULL,
  PRIMARY KEY (user_id, account_id),
  FOREIGN KEY (user_id) REFERENCES users(id),
  FOREIGN KEY (account_id) REFERENCES accounts(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS oauth_clients (
  client_id                  VARCHAR(512) NOT NULL PRIMARY KEY,
  client_name                TEXT         NOT NULL,
  redirect_uris              MEDIUMTEXT   NOT NULL, -- JSON array of strings
  token_endpoint_auth_method VARCHAR(32)  NOT NULL CHECK (token_endpoint_auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
  client_secret_hash         VARCHAR(128),          -- SHA-256 hex; NULL for public clients
  metadata                   MEDIUMTEXT   NOT NULL, -- JSON object
  fingerprint                VARCHAR(128) UNIQUE,
  source                     VARCHAR(16)  NOT NULL CHECK (source IN ('dcr', 'cli', 'config', 'cimd')),
  created_at                 BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS consents (
  user_id    BIGINT       NOT NULL,
  client_id  VARCHAR(512) NOT NULL,
  account_id BIGINT       NOT NULL,
  scopes     TEXT         NOT NULL, -- space-separated
  created_at BIGINT       NOT NULL,
  updated_at BIGINT       NOT NULL,
  PRIMARY KEY (user_id, client_id),
  FOREIGN KEY (client_id) REFERENCES oauth_clients(client_id),
  FOREIGN KEY (user_id, account_id) REFERENCES memberships(user_id, account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS api_keys (
  id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id     BIGINT       NOT NULL,
  user_id        BIGINT       NOT NULL, -- the creator: who made the key or approved the grant
  name           TEXT         NOT NULL,
  key_hash       VARCHAR(128) NOT NULL UNIQUE,
  display_prefix TEXT         NOT NULL,
  scopes         TEXT         NOT NULL, -- space-separated
  resource       TEXT,                  -- audience (RFC 8707); NULL = any resource of ours
  client_id      VARCHAR(512),
  grant_id       VARCHAR(128) UNIQUE,
  family_id      VARCHAR(128),          -- the connection: the code's jti, shared by keys minted by refresh
  created_at     BIGINT       NOT NULL,
  last_used_at   BIGINT,
  expires_at     BIGINT,
  revoked_at     BIGINT,
  FOREIGN KEY (client_id) REFERENCES oauth_clients(client_id),
  FOREIGN KEY (user_id, account_id) REFERENCES memberships(user_id, account_id),
  INDEX api_keys_account (account_id),
  INDEX api_keys_user_client (user_id, client_id),
  INDEX api_keys_family (family_id),
  INDEX api_keys_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash VARCHAR(128) NOT NULL PRIMARY KEY,
  family_id  VARCHAR(128) NOT NULL,
  key_id     BIGINT       NOT NULL,
  client_id  VARCHAR(512) NOT NULL,
  created_at BIGINT       NOT NULL,
  expires_at BIGINT       NOT NULL,
  rotated_at BIGINT,
  FOREIGN KEY (key_id) REFERENCES api_keys(id),
  FOREIGN KEY (client_id) REFERENCES oauth_clients(client_id),
  INDEX refresh_tokens_family (family_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS audit_events (
  id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at    BIGINT       NOT NULL,
  event         VARCHAR(64)  NOT NULL,
  account_id    BIGINT,
  actor_user_id BIGINT,
  subject       TEXT,   -- what the event is about: an email, a key id, a client id
  ip            TEXT,
  detail        MEDIUMTEXT, -- JSON object
  FOREIGN KEY (account_id) REFERENCES accounts(id),
  FOREIGN KEY (actor_user_id) REFERENCES users(id),
  INDEX audit_events_account (account_id, id),
  INDEX audit_events_subject (event, subject(255), created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS signin_attempts (
  bucket       VARCHAR(128) NOT NULL PRIMARY KEY,
  window_start BIGINT       NOT NULL,
  attempts     BIGINT       NOT NULL,
  last_at      BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS session_epochs (
  user_id     BIGINT NOT NULL PRIMARY KEY,
  valid_after BIGINT NOT NULL, -- milliseconds since the epoch
  FOREIGN KEY (user_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE IF NOT EXISTS notes (
  id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT NOT NULL,
  title      TEXT   NOT NULL,
  body       TEXT   NOT NULL,
  created_at BIGINT NOT NULL,
  FOREIGN KEY (account_id) REFERENCES accounts(id),
  INDEX notes_account (account_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};
