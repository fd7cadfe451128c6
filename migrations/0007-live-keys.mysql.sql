-- Migration 0007 (MySQL 8 / MariaDB): an index of the live keys of a user and client. A new
-- grant reads them (the keys it replaces) in the mint's transaction; through the index of all
-- the user's keys of the client it also read every key ever revoked there, which grow with
-- each reconnection and are kept. No partial indexes here: revoked_at is the index's last
-- column, and "revoked_at IS NULL" is a lookup in it. docs/storage.md.
-- An index that exists already counts as done (a re-run).

CREATE INDEX api_keys_live_user_client ON api_keys(user_id, client_id, revoked_at);
