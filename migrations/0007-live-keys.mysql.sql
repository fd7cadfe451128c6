-- Migration 0007 (MySQL 8 / MariaDB): the live keys of a user and client, read without the
-- ended ones. A new grant reads the keys it replaces in the mint's transaction; through the
-- index of all the user's keys of the client it also read every key ever revoked there, and
-- these are kept, one more per reconnection. For keys in the product's own table, keygate
-- marks a grant ended (key_grants.ended_at) when it revokes the key or finds it revoked,
-- expired or gone. No partial indexes here: the revocation or end is the index's last
-- column, and "IS NULL" is a lookup in it. docs/storage.md.
-- An index or column that exists already counts as done (a re-run).

CREATE INDEX api_keys_live_user_client ON api_keys(user_id, client_id, revoked_at);
ALTER TABLE key_grants ADD COLUMN ended_at BIGINT;
CREATE INDEX key_grants_live_user_client ON key_grants(user_id, client_id, ended_at);
