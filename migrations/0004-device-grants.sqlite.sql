-- Migration 0004 (SQLite): device authorization grants (RFC 8628), the one piece of OAuth
-- state keygate stores before a key exists: a device polls for minutes while its user
-- approves elsewhere, and the approval must be seen by whichever instance answers the
-- next poll. docs/storage.md.

CREATE TABLE device_grants (
  id                 TEXT    PRIMARY KEY, -- also the minted key's grant id (device:<id>)
  device_code_hash   TEXT    NOT NULL UNIQUE,
  user_code          TEXT    NOT NULL UNIQUE, -- 8 characters, stored without the dash
  client_id          TEXT    NOT NULL REFERENCES oauth_clients(client_id),
  scopes             TEXT    NOT NULL,    -- requested, space-separated
  resource           TEXT    NOT NULL,
  created_at         INTEGER NOT NULL,
  expires_at         INTEGER NOT NULL,
  interval_seconds   INTEGER NOT NULL,
  polled_at          INTEGER,
  status             TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  user_id            INTEGER,
  account_id         INTEGER,
  granted_scopes     TEXT,
  consent_created_at INTEGER
);
CREATE INDEX device_grants_expires ON device_grants(expires_at);
