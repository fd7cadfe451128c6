// OAuth clients, consents and API keys on SQLite.

import {
  type ClientRow,
  type ConsentRow,
  type KeyRow,
  type RefreshRow,
  toClient,
  toConsent,
  toKey,
  toRefresh,
} from '../rows.js'
import type {
  ClientStore,
  ConsentListing,
  ConsentStore,
  KeyListing,
  KeyStore,
  NewApiKey,
  RefreshStore,
} from '../types.js'
import { type ConsentCondition, consentStands, type InsertKeyResult } from '../types.js'
import { type Db, mapConstraint } from './db.js'

export function sqliteClients(db: Db): ClientStore {
  const insert = db.prepare<unknown[], ClientRow>(
    `INSERT INTO oauth_clients (client_id, client_name, redirect_uris, token_endpoint_auth_method,
       client_secret_hash, metadata, fingerprint, source, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING RETURNING *`,
  )
  const byFingerprint = db.prepare<[string], ClientRow>('SELECT * FROM oauth_clients WHERE fingerprint = ?')
  const byId = db.prepare<[string], ClientRow>('SELECT * FROM oauth_clients WHERE client_id = ?')
  const upsert = db.prepare<unknown[], ClientRow>(
    `INSERT INTO oauth_clients (client_id, client_name, redirect_uris, token_endpoint_auth_method,
       client_secret_hash, metadata, fingerprint, source, created_at)
     VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)
     ON CONFLICT (client_id) DO UPDATE SET client_name = excluded.client_name, redirect_uris = excluded.redirect_uris,
       token_endpoint_auth_method = excluded.token_endpoint_auth_method, client_secret_hash = excluded.client_secret_hash,
       metadata = excluded.metadata, source = excluded.source
     RETURNING *`,
  )
  return {
    async upsert(c, now) {
      return toClient(
        upsert.get(
          c.clientId,
          c.clientName,
          JSON.stringify(c.redirectUris),
          c.tokenEndpointAuthMethod,
          c.clientSecretHash,
          JSON.stringify(c.metadata),
          c.source,
          now,
        )!,
      )
    },
    async register(c, createdAt) {
      const row = mapConstraint(() =>
        insert.get(
          c.clientId,
          c.clientName,
          JSON.stringify(c.redirectUris),
          c.tokenEndpointAuthMethod,
          c.clientSecretHash,
          JSON.stringify(c.metadata),
          c.fingerprint,
          c.source,
          createdAt,
        ),
      )
      if (row) return toClient(row)
      return toClient(byFingerprint.get(c.fingerprint!)!)
    },
    async byId(clientId) {
      const row = byId.get(clientId)
      return row && toClient(row)
    },
  }
}

export function sqliteConsents(db: Db): ConsentStore {
  const upsert = db.prepare<[number, string, number, string, number, number], ConsentRow>(
    `INSERT INTO consents (user_id, client_id, account_id, scopes, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (user_id, client_id) DO UPDATE
       SET account_id = excluded.account_id, scopes = excluded.scopes, updated_at = excluded.updated_at
     RETURNING *`,
  )
  const get = db.prepare<[number, string], ConsentRow>('SELECT * FROM consents WHERE user_id = ? AND client_id = ?')
  const listForUser = db.prepare<
    [number],
    ConsentRow & { client_name: string; redirect_uris: string; account_name: string; last_used_at: number | null }
  >(
    `SELECT c.*, oc.client_name, oc.redirect_uris, a.name AS account_name,
       (SELECT max(k.last_used_at) FROM api_keys k WHERE k.user_id = c.user_id AND k.client_id = c.client_id) AS last_used_at
     FROM consents c JOIN oauth_clients oc ON oc.client_id = c.client_id JOIN accounts a ON a.id = c.account_id
     WHERE c.user_id = ? ORDER BY c.updated_at DESC`,
  )
  const remove = db.prepare<[number, string]>('DELETE FROM consents WHERE user_id = ? AND client_id = ?')
  const revokeClientKeys = db.prepare<[number, number, string]>(
    'UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL',
  )
  const disconnect = db.transaction((userId: number, clientId: string, now: number) => ({
    revokedKeys: revokeClientKeys.run(now, userId, clientId).changes,
    deleted: remove.run(userId, clientId).changes === 1,
  }))
  return {
    async upsert(c, now) {
      return toConsent(
        mapConstraint(() => upsert.get(c.userId, c.clientId, c.accountId, c.scopes.join(' '), now, now)!),
      )
    },
    async get(userId, clientId) {
      const row = get.get(userId, clientId)
      return row && toConsent(row)
    },
    async listForUser(userId) {
      return listForUser.all(userId).map(
        (r): ConsentListing => ({
          ...toConsent(r),
          clientName: r.client_name,
          redirectUris: JSON.parse(r.redirect_uris) as string[],
          accountName: r.account_name,
          lastUsedAt: r.last_used_at,
        }),
      )
    },
    async disconnect(userId, clientId, now) {
      return disconnect(userId, clientId, now)
    },
  }
}

export function sqliteKeys(db: Db): KeyStore {
  const insert = db.prepare<unknown[], KeyRow>(
    `INSERT INTO api_keys (account_id, user_id, name, key_hash, display_prefix, scopes, resource,
       client_id, grant_id, family_id, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (grant_id) DO NOTHING RETURNING *`,
  )
  const insertRefresh = db.prepare<[string, string, number, string, number, number]>(
    'INSERT INTO refresh_tokens (token_hash, family_id, key_id, client_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
  )
  const consentOf = db.prepare<[number, string], ConsentRow>(
    'SELECT * FROM consents WHERE user_id = ? AND client_id = ?',
  )
  const insertBoth = db.transaction(
    (k: NewApiKey, refresh?: { tokenHash: string; expiresAt: number }, consent?: ConsentCondition): InsertKeyResult => {
      if (consent) {
        const current = consentOf.get(consent.userId, consent.clientId)
        if (!consentStands(current && toConsent(current), consent)) return { ok: false, reason: 'consent_gone' }
      }
      const row = insert.get(
        k.accountId,
        k.userId,
        k.name,
        k.keyHash,
        k.displayPrefix,
        k.scopes.join(' '),
        k.resource,
        k.clientId,
        k.grantId,
        k.familyId,
        k.createdAt,
        k.expiresAt,
      )
      // No row: the grant id is taken, whatever its index is called (RFC 6749 §4.1.2, single use).
      if (!row) return { ok: false, reason: 'grant_used' }
      if (refresh)
        insertRefresh.run(refresh.tokenHash, k.familyId!, row.id, k.clientId!, k.createdAt, refresh.expiresAt)
      return { ok: true, key: toKey(row) }
    },
  )
  const revokeFamily = db.prepare<[number, string]>(
    'UPDATE api_keys SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL',
  )
  const deleteExpired = db.prepare<[number, number]>(
    `DELETE FROM api_keys WHERE id IN (
       SELECT k.id FROM api_keys k WHERE k.expires_at < ? AND k.family_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.key_id = k.id)
       LIMIT ?)`,
  )
  const byHash = db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE key_hash = ?')
  const byId = db.prepare<[number], KeyRow>('SELECT * FROM api_keys WHERE id = ?')
  const listAll = db.prepare<[], KeyRow>('SELECT * FROM api_keys ORDER BY id')
  const listAccount = db.prepare<[number], KeyRow>('SELECT * FROM api_keys WHERE account_id = ? ORDER BY id DESC')
  const listAccountUser = db.prepare<[number, number], KeyRow>(
    'SELECT * FROM api_keys WHERE account_id = ? AND user_id = ? ORDER BY id DESC',
  )
  const listUser = db.prepare<[number], KeyRow>('SELECT * FROM api_keys WHERE user_id = ? ORDER BY id DESC')
  type ListingRow = KeyRow & { client_name: string | null; creator_email: string }
  // One row per connection: of the keys a refresh minted, only the newest is listed.
  const listing = `SELECT k.*, oc.client_name, u.email AS creator_email FROM api_keys k
     LEFT JOIN oauth_clients oc ON oc.client_id = k.client_id JOIN users u ON u.id = k.user_id
     WHERE (k.family_id IS NULL OR k.id = (SELECT max(f.id) FROM api_keys f WHERE f.family_id = k.family_id))`
  const listingAccount = db.prepare<[number], ListingRow>(`${listing} AND k.account_id = ? ORDER BY k.id DESC`)
  const listingAccountUser = db.prepare<[number, number], ListingRow>(
    `${listing} AND k.account_id = ? AND k.user_id = ? ORDER BY k.id DESC`,
  )
  const toListing = (r: ListingRow): KeyListing => ({
    ...toKey(r),
    clientName: r.client_name,
    creatorEmail: r.creator_email,
  })
  const revoke = db.prepare<[number, number]>('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
  // The whole connection minted from the code: its first key and any refreshed ones.
  const revokeByGrant = db.prepare<[number, string], KeyRow>(
    'UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE family_id = ? RETURNING *',
  )
  const touch = db.prepare<[number, number, number]>(
    'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)',
  )
  return {
    async insert(k, refresh, consent) {
      // IMMEDIATE: the consent is read under the write lock, so a reader never has to upgrade
      // (SQLITE_BUSY_SNAPSHOT when another process wrote in between).
      return mapConstraint(() => insertBoth.immediate(k, refresh, consent))
    },
    async byHash(keyHash) {
      const row = byHash.get(keyHash)
      return row && toKey(row)
    },
    async byId(id) {
      const row = byId.get(id)
      return row && toKey(row)
    },
    async list({ accountId, userId }) {
      if (accountId !== undefined && userId !== undefined) return listAccountUser.all(accountId, userId).map(toKey)
      if (accountId !== undefined) return listAccount.all(accountId).map(toKey)
      if (userId !== undefined) return listUser.all(userId).map(toKey)
      return listAll.all().map(toKey)
    },
    async listForAccount(accountId, userId) {
      return (userId === undefined ? listingAccount.all(accountId) : listingAccountUser.all(accountId, userId)).map(
        toListing,
      )
    },
    async revoke(id, now) {
      return revoke.run(now, id).changes === 1
    },
    async revokeByGrant(grantId, now) {
      const rows = revokeByGrant.all(now, grantId).map(toKey)
      return rows.find((k) => k.grantId === grantId) ?? rows[0]
    },
    async revokeFamily(key, now) {
      if (key.familyId === null) return revoke.run(now, key.id).changes
      return revokeFamily.run(now, key.familyId).changes
    },
    async deleteExpired(expiredBefore, limit) {
      return deleteExpired.run(expiredBefore, limit).changes
    },
    async touch(id, now, minInterval) {
      touch.run(now, id, now - minInterval)
    },
  }
}

export function sqliteRefresh(db: Db): RefreshStore {
  const byHash = db.prepare<[string], RefreshRow>('SELECT * FROM refresh_tokens WHERE token_hash = ?')
  const rotate = db.prepare<[number, string]>(
    'UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL',
  )
  const deleteStale = db.prepare<[number, number, number]>(
    `DELETE FROM refresh_tokens WHERE token_hash IN (
       SELECT token_hash FROM refresh_tokens WHERE expires_at <= ? OR rotated_at < ? LIMIT ?)`,
  )
  return {
    async byHash(tokenHash) {
      const row = byHash.get(tokenHash)
      return row && toRefresh(row)
    },
    async markRotated(tokenHash, now) {
      // The conditional UPDATE is the race: exactly one caller sees changes === 1.
      if (rotate.run(now, tokenHash).changes === 1) return { first: true, rotatedAt: now }
      return { first: false, rotatedAt: byHash.get(tokenHash)?.rotated_at ?? 0 }
    },
    async deleteStale(now, rotatedBefore, limit) {
      return deleteStale.run(now, rotatedBefore, limit).changes
    },
  }
}
