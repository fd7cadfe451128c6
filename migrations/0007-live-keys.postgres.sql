-- Migration 0007 (PostgreSQL): an index of the live keys of a user and client. A new grant
-- reads them (the keys it replaces) in the mint's transaction; through the index of all the
-- user's keys of the client it also read every key ever revoked there, which grow with each
-- reconnection and are kept. docs/storage.md.

CREATE INDEX api_keys_live_user_client ON api_keys(user_id, client_id) WHERE revoked_at IS NULL;
