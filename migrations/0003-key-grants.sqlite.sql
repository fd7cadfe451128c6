-- Migration 0003 (SQLite): keygate's facts about the keys it mints into a product's own key
-- table (KEYGATE_KEYS_TABLE): the OAuth client, the code's grant id (UNIQUE: the single-use
-- check), the resource, the connection, and the refresh tokens. The product's table gains
-- nothing. docs/storage.md.

CREATE TABLE key_grants (
  key_id         TEXT    PRIMARY KEY, -- the product's key id, as text
  account_id     INTEGER NOT NULL,
  user_id        INTEGER NOT NULL,    -- who made the key or approved the grant
  display_prefix TEXT    NOT NULL,
  resource       TEXT,
  client_id      TEXT    REFERENCES oauth_clients(client_id),
  grant_id       TEXT    UNIQUE,
  family_id      TEXT,
  created_at     INTEGER NOT NULL,
  FOREIGN KEY (user_id, account_id) REFERENCES memberships(user_id, account_id)
);
CREATE INDEX key_grants_user_client ON key_grants(user_id, client_id);
CREATE INDEX key_grants_account ON key_grants(account_id, user_id);
CREATE INDEX key_grants_family ON key_grants(family_id);

CREATE TABLE key_grant_refresh_tokens (
  token_hash TEXT    PRIMARY KEY,
  family_id  TEXT    NOT NULL,
  key_id     TEXT    NOT NULL REFERENCES key_grants(key_id),
  client_id  TEXT    NOT NULL REFERENCES oauth_clients(client_id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  rotated_at INTEGER
);
CREATE INDEX key_grant_refresh_tokens_family ON key_grant_refresh_tokens(family_id);
CREATE INDEX key_grant_refresh_tokens_key ON key_grant_refresh_tokens(key_id);
