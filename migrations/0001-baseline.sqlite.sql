-- Migration 0001 (SQLite): keygate 0.1.0's schema. The one migration written IF NOT
-- EXISTS, so that a database keygate 0.1.0 created is adopted as it stands
-- (docs/storage.md says what each table is for).

CREATE TABLE IF NOT EXISTS users (
  id            INTEGER PRIMARY KEY,
  email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  name          TEXT    NOT NULL,
  password_hash TEXT    NOT NULL,
  created_at    INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS accounts (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  kind       TEXT    NOT NULL CHECK (kind IN ('personal', 'team')),
  created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS memberships (
  user_id    INTEGER NOT NULL REFERENCES users(id),
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  role       TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, account_id)
);

CREATE TABLE IF NOT EXISTS oauth_clients (
  client_id                  TEXT    PRIMARY KEY,
  client_name                TEXT    NOT NULL,
  redirect_uris              TEXT    NOT NULL, -- JSON array of strings
  token_endpoint_auth_method TEXT    NOT NULL CHECK (token_endpoint_auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
  client_secret_hash         TEXT,             -- SHA-256 hex; NULL for public clients
  metadata                   TEXT    NOT NULL, -- JSON object
  fingerprint                TEXT    UNIQUE,
  source                     TEXT    NOT NULL CHECK (source IN ('dcr', 'cli', 'config', 'cimd')),
  created_at                 INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS consents (
  user_id    INTEGER NOT NULL,
  client_id  TEXT    NOT NULL REFERENCES oauth_clients(client_id),
  account_id INTEGER NOT NULL,
  scopes     TEXT    NOT NULL, -- space-separated
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id),
  FOREIGN KEY (user_id, account_id) REFERENCES memberships(user_id, account_id)
);

CREATE TABLE IF NOT EXISTS api_keys (
  id             INTEGER PRIMARY KEY,
  account_id     INTEGER NOT NULL,
  user_id        INTEGER NOT NULL, -- the creator: who made the key or approved the grant
  name           TEXT    NOT NULL,
  key_hash       TEXT    NOT NULL UNIQUE,
  display_prefix TEXT    NOT NULL,
  scopes         TEXT    NOT NULL, -- space-separated
  resource       TEXT,             -- audience (RFC 8707); NULL = any resource of ours
  client_id      TEXT    REFERENCES oauth_clients(client_id),
  grant_id       TEXT    UNIQUE,
  family_id      TEXT,             -- the connection: the code's jti, shared by keys minted by refresh
  created_at     INTEGER NOT NULL,
  last_used_at   INTEGER,
  expires_at     INTEGER,
  revoked_at     INTEGER,
  FOREIGN KEY (user_id, account_id) REFERENCES memberships(user_id, account_id)
);
CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys(account_id);
CREATE INDEX IF NOT EXISTS api_keys_user_client ON api_keys(user_id, client_id);
CREATE INDEX IF NOT EXISTS api_keys_family ON api_keys(family_id);
CREATE INDEX IF NOT EXISTS api_keys_expires ON api_keys(expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash TEXT    PRIMARY KEY,
  family_id  TEXT    NOT NULL,
  key_id     INTEGER NOT NULL REFERENCES api_keys(id),
  client_id  TEXT    NOT NULL REFERENCES oauth_clients(client_id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  rotated_at INTEGER
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_key ON refresh_tokens(key_id);

CREATE TABLE IF NOT EXISTS audit_events (
  id            INTEGER PRIMARY KEY,
  created_at    INTEGER NOT NULL,
  event         TEXT    NOT NULL,
  account_id    INTEGER REFERENCES accounts(id),
  actor_user_id INTEGER REFERENCES users(id),
  subject       TEXT,   -- what the event is about: an email, a key id, a client id
  ip            TEXT,
  detail        TEXT    -- JSON object
);
CREATE INDEX IF NOT EXISTS audit_events_account ON audit_events(account_id, id);
CREATE INDEX IF NOT EXISTS audit_events_subject ON audit_events(event, subject, created_at);

CREATE TABLE IF NOT EXISTS signin_attempts (
  bucket       TEXT    PRIMARY KEY,
  window_start INTEGER NOT NULL,
  attempts     INTEGER NOT NULL,
  last_at      INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS session_epochs (
  user_id     INTEGER PRIMARY KEY REFERENCES users(id),
  valid_after INTEGER NOT NULL -- milliseconds since the epoch
);

CREATE TABLE IF NOT EXISTS notes (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  title      TEXT    NOT NULL,
  body       TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_account ON notes(account_id, id);
