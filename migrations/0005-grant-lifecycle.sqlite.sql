-- Migration 0005 (SQLite): the grant lifecycle. A key's installation (the redirect URI of a
-- client many installations share; NULL for a client registered by one) names its
-- connection, so that approving an app again replaces the keys of that connection. Clients
-- and users an operator disabled. docs/storage.md.

ALTER TABLE api_keys ADD COLUMN installation TEXT;
ALTER TABLE key_grants ADD COLUMN installation TEXT;
ALTER TABLE oauth_clients ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
