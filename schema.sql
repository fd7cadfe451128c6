-- keygate schema (SQLite). Applied idempotently at every start-up, with WAL and foreign
-- keys on. Times are Unix seconds (INTEGER). Every statement here is IF NOT EXISTS so
-- running it twice changes nothing.

-- users: people who sign in to the dashboard and approve OAuth consents.
-- Rows live as long as the person has an account; password_hash is scrypt (see README).
CREATE TABLE IF NOT EXISTS users (
  id            INTEGER PRIMARY KEY,
  email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  name          TEXT    NOT NULL,
  password_hash TEXT    NOT NULL,
  created_at    INTEGER NOT NULL
);

-- accounts: what keys and data belong to. Every user gets a personal account; teams
-- are shared accounts. Rows live as long as the account exists.
CREATE TABLE IF NOT EXISTS accounts (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  kind       TEXT    NOT NULL CHECK (kind IN ('personal', 'team')),
  created_at INTEGER NOT NULL
);

-- memberships: who belongs to which account, and with what role. Consents and keys
-- reference (user_id, account_id) here, so the database itself refuses a grant or a key
-- for an account the user does not belong to.
CREATE TABLE IF NOT EXISTS memberships (
  user_id    INTEGER NOT NULL REFERENCES users(id),
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  role       TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, account_id)
);

-- oauth_clients: OAuth clients, from dynamic registration (RFC 7591), the CLI or config.
-- Clients cache their client_id for months, so rows are kept until an operator removes
-- them. metadata is the accepted registration metadata, echoed back as registered.
-- fingerprint is set for public DCR clients only: identical registrations share one row.
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

-- consents: one row per (user, client): which account and scopes the user approved.
-- Re-approving updates the row; disconnecting the app deletes it (and revokes its keys).
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

-- api_keys: the product's API keys, and keygate's OAuth access tokens: a token IS a key.
-- Only SHA-256 of the key is stored. grant_id holds the authorization code's jti for keys
-- minted at /token: it is UNIQUE, so inserting the row is the single-use check of the code.
-- client_id is NULL for keys made by hand (dashboard, CLI). Rows are never deleted while
-- the key could still be presented; revocation sets revoked_at.
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

-- refresh_tokens: only with KEYGATE_ACCESS_TTL set (expiring keys). Stored as SHA-256. Each
-- refresh mints a new key in the same family and a new refresh token; the used one keeps
-- working for KEYGATE_REFRESH_GRACE_SECONDS after rotated_at (concurrent refreshes), and
-- reuse after that revokes the family. Rows are deleted by the periodic clean-up once
-- expired, or once rotated and past the grace window.
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

-- audit_events: security-relevant events (keys, consents, replays, failed sign-ins) for
-- the dashboard's audit log. account_id is NULL for events tied to no account (a failed
-- sign-in for an unknown email). Kept indefinitely; prune by created_at if needed.
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

-- signin_attempts: the sign-in throttle (README, "Security"). One row per bucket: the
-- email together with the client address (lock-out), and the email alone (a ceiling that
-- slows rather than locks). Buckets are SHA-256 of their parts, so a password typed into
-- the email field is never stored. An attempt is counted before the password is checked,
-- atomically, so parallel guesses cannot outrun the limit, on any number of instances.
-- Rows matter for one window; the periodic clean-up deletes older ones.
CREATE TABLE IF NOT EXISTS signin_attempts (
  bucket       TEXT    PRIMARY KEY,
  window_start INTEGER NOT NULL,
  attempts     INTEGER NOT NULL,
  last_at      INTEGER NOT NULL
);

-- session_epochs: "sessions valid after" per user. Signing out sets it, ending every
-- session cookie issued to that user before (sign out everywhere) without a session table:
-- only pages read it, never /mcp. One row per user that ever signed out.
CREATE TABLE IF NOT EXISTS session_epochs (
  user_id     INTEGER PRIMARY KEY REFERENCES users(id),
  valid_after INTEGER NOT NULL -- milliseconds since the epoch
);

-- notes: the built-in demo API's data (/api/v1/notes). Notes belong to accounts.
CREATE TABLE IF NOT EXISTS notes (
  id         INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  title      TEXT    NOT NULL,
  body       TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_account ON notes(account_id, id);
