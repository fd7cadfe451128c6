-- Migration 0003 (MySQL 8 / MariaDB): keygate's facts about the keys it mints into a
-- product's own key table (KEYGATE_KEYS_TABLE): the OAuth client, the code's grant id
-- (UNIQUE: the single-use check), the resource, the connection, and the refresh tokens. The
-- product's table gains nothing. docs/storage.md.
-- A statement whose table exists already counts as done (a re-run).

CREATE TABLE key_grants (
  key_id         VARCHAR(64)  NOT NULL PRIMARY KEY, -- the product's key id, as text
  account_id     BIGINT       NOT NULL,
  user_id        BIGINT       NOT NULL,             -- who made the key or approved the grant
  display_prefix TEXT         NOT NULL,
  resource       TEXT,
  client_id      VARCHAR(512),
  grant_id       VARCHAR(128) UNIQUE,
  family_id      VARCHAR(128),
  created_at     BIGINT       NOT NULL,
  FOREIGN KEY (client_id) REFERENCES oauth_clients(client_id),
  FOREIGN KEY (user_id, account_id) REFERENCES memberships(user_id, account_id),
  INDEX key_grants_user_client (user_id, client_id),
  INDEX key_grants_account (account_id, user_id),
  INDEX key_grants_family (family_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};

CREATE TABLE key_grant_refresh_tokens (
  token_hash VARCHAR(128) NOT NULL PRIMARY KEY,
  family_id  VARCHAR(128) NOT NULL,
  key_id     VARCHAR(64)  NOT NULL,
  client_id  VARCHAR(512) NOT NULL,
  created_at BIGINT       NOT NULL,
  expires_at BIGINT       NOT NULL,
  rotated_at BIGINT,
  FOREIGN KEY (key_id) REFERENCES key_grants(key_id),
  FOREIGN KEY (client_id) REFERENCES oauth_clients(client_id),
  INDEX key_grant_refresh_tokens_family (family_id),
  INDEX key_grant_refresh_tokens_key (key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={{exact}};
