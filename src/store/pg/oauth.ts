// OAuth clients, consents, keys and refresh tokens on PostgreSQL. The UNIQUE grant_id makes
// code redemption single-use across instances (ON CONFLICT DO NOTHING: no error text is
// read); consent upserts use ON CONFLICT; refresh rotation is a conditional UPDATE.
import type pg from 'pg'
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
import {
  type ClientStore,
  type ConsentStore,
  consentStands,
  type InsertKeyResult,
  type KeyStore,
  type RefreshStore,
} from '../types.js'
import { all, holdsNul, mapConstraint, one, transaction } from './db.js'

const LISTING = `SELECT k.*, oc.client_name, u.email AS creator_email FROM api_keys k
  LEFT JOIN oauth_clients oc ON oc.client_id = k.client_id JOIN users u ON u.id = k.user_id
  WHERE (k.family_id IS NULL OR k.id = (SELECT max(f.id) FROM api_keys f WHERE f.family_id = k.family_id))`

export function pgClients(pool: pg.Pool): ClientStore {
  return {
    async register(c, createdAt) {
      const row = await mapConstraint(() =>
        one<ClientRow>(
          pool,
          `INSERT INTO oauth_clients (client_id, client_name, redirect_uris, token_endpoint_auth_method,
          client_secret_hash, metadata, fingerprint, source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (fingerprint) DO NOTHING RETURNING *`,
          [
            c.clientId,
            c.clientName,
            JSON.stringify(c.redirectUris),
            c.tokenEndpointAuthMethod,
            c.clientSecretHash,
            JSON.stringify(c.metadata),
            c.fingerprint,
            c.source,
            createdAt,
          ],
        ),
      )
      return toClient(
        row ?? (await one<ClientRow>(pool, 'SELECT * FROM oauth_clients WHERE fingerprint = $1', [c.fingerprint]))!,
      )
    },
    async byId(clientId) {
      if (holdsNul(clientId)) return undefined
      const row = await one<ClientRow>(pool, 'SELECT * FROM oauth_clients WHERE client_id = $1', [clientId])
      return row && toClient(row)
    },
    async upsert(c, now) {
      return toClient(
        (await one<ClientRow>(
          pool,
          `INSERT INTO oauth_clients (client_id, client_name, redirect_uris, token_endpoint_auth_method,
          client_secret_hash, metadata, fingerprint, source, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8)
        ON CONFLICT (client_id) DO UPDATE SET client_name = excluded.client_name, redirect_uris = excluded.redirect_uris,
          token_endpoint_auth_method = excluded.token_endpoint_auth_method, client_secret_hash = excluded.client_secret_hash,
          metadata = excluded.metadata, source = excluded.source RETURNING *`,
          [
            c.clientId,
            c.clientName,
            JSON.stringify(c.redirectUris),
            c.tokenEndpointAuthMethod,
            c.clientSecretHash,
            JSON.stringify(c.metadata),
            c.source,
            now,
          ],
        ))!,
      )
    },
  }
}

export function pgConsents(pool: pg.Pool): ConsentStore {
  return {
    async upsert(c, now) {
      return toConsent(
        (await mapConstraint(() =>
          one<ConsentRow>(
            pool,
            `INSERT INTO consents (user_id, client_id, account_id, scopes, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (user_id, client_id) DO UPDATE
        SET account_id = excluded.account_id, scopes = excluded.scopes, updated_at = excluded.updated_at RETURNING *`,
            [c.userId, c.clientId, c.accountId, c.scopes.join(' '), now],
          ),
        ))!,
      )
    },
    async get(userId, clientId) {
      const row = await one<ConsentRow>(pool, 'SELECT * FROM consents WHERE user_id = $1 AND client_id = $2', [
        userId,
        clientId,
      ])
      return row && toConsent(row)
    },
    async listForUser(userId) {
      const rows = await all<
        ConsentRow & { client_name: string; redirect_uris: string; account_name: string; last_used_at: number | null }
      >(
        pool,
        `SELECT c.*, oc.client_name, oc.redirect_uris, a.name AS account_name,
           (SELECT max(k.last_used_at) FROM api_keys k WHERE k.user_id = c.user_id AND k.client_id = c.client_id) AS last_used_at
         FROM consents c JOIN oauth_clients oc ON oc.client_id = c.client_id JOIN accounts a ON a.id = c.account_id
         WHERE c.user_id = $1 ORDER BY c.updated_at DESC`,
        [userId],
      )
      return rows.map((r) => ({
        ...toConsent(r),
        clientName: r.client_name,
        redirectUris: JSON.parse(r.redirect_uris) as string[],
        accountName: r.account_name,
        lastUsedAt: r.last_used_at,
      }))
    },
    async disconnect(userId, clientId, now) {
      return transaction(pool, async (c) => {
        const revoked = await c.query(
          'UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND client_id = $3 AND revoked_at IS NULL',
          [now, userId, clientId],
        )
        const deleted = await c.query('DELETE FROM consents WHERE user_id = $1 AND client_id = $2', [userId, clientId])
        return { revokedKeys: revoked.rowCount ?? 0, deleted: deleted.rowCount === 1 }
      })
    },
  }
}

export function pgKeys(pool: pg.Pool): KeyStore {
  return {
    async insert(k, refresh, consent) {
      return mapConstraint(() =>
        transaction(pool, async (c): Promise<InsertKeyResult> => {
          if (consent) {
            // FOR SHARE: a concurrent disconnect (DELETE) waits for this insert, or this waits for it.
            const current = await one<ConsentRow>(
              c,
              'SELECT * FROM consents WHERE user_id = $1 AND client_id = $2 FOR SHARE',
              [consent.userId, consent.clientId],
            )
            if (!consentStands(current && toConsent(current), consent)) return { ok: false, reason: 'consent_gone' }
          }
          const key = await one<KeyRow>(
            c,
            `INSERT INTO api_keys (account_id, user_id, name, key_hash, display_prefix, scopes, resource,
              client_id, grant_id, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
              ON CONFLICT (grant_id) DO NOTHING RETURNING *`,
            [
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
            ],
          )
          // No row: the grant id is taken, whatever its index is called (a concurrent insert
          // of the same id waits for the first to commit, then finds it).
          if (!key) return { ok: false, reason: 'grant_used' }
          if (refresh) {
            await c.query(
              'INSERT INTO refresh_tokens (token_hash, family_id, key_id, client_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
              [refresh.tokenHash, k.familyId, key.id, k.clientId, k.createdAt, refresh.expiresAt],
            )
          }
          return { ok: true, key: toKey(key) }
        }),
      )
    },
    async byHash(keyHash) {
      const row = await one<KeyRow>(pool, 'SELECT * FROM api_keys WHERE key_hash = $1', [keyHash])
      return row && toKey(row)
    },
    async byId(id) {
      const row = await one<KeyRow>(pool, 'SELECT * FROM api_keys WHERE id = $1', [id])
      return row && toKey(row)
    },
    async list({ accountId, userId }) {
      const rows = await all<KeyRow>(
        pool,
        `SELECT * FROM api_keys WHERE ($1::bigint IS NULL OR account_id = $1) AND ($2::bigint IS NULL OR user_id = $2)
        ORDER BY id ${accountId === undefined && userId === undefined ? 'ASC' : 'DESC'}`,
        [accountId ?? null, userId ?? null],
      )
      return rows.map(toKey)
    },
    async listForAccount(accountId, userId) {
      const rows = await all<KeyRow & { client_name: string | null; creator_email: string }>(
        pool,
        `${LISTING} AND k.account_id = $1 AND ($2::bigint IS NULL OR k.user_id = $2) ORDER BY k.id DESC`,
        [accountId, userId ?? null],
      )
      return rows.map((r) => ({ ...toKey(r), clientName: r.client_name, creatorEmail: r.creator_email }))
    },
    async revoke(id, now) {
      return (
        (await pool.query('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now, id]))
          .rowCount === 1
      )
    },
    async revokeFamily(key, now) {
      const res =
        key.familyId === null
          ? await pool.query('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now, key.id])
          : await pool.query('UPDATE api_keys SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL', [
              now,
              key.familyId,
            ])
      return res.rowCount ?? 0
    },
    async deleteExpired(expiredBefore, limit) {
      return (
        (
          await pool.query(
            `DELETE FROM api_keys WHERE id IN (SELECT k.id FROM api_keys k WHERE k.expires_at < $1 AND k.family_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.key_id = k.id) LIMIT $2)`,
            [expiredBefore, limit],
          )
        ).rowCount ?? 0
      )
    },
    async revokeByGrant(grantId, now) {
      const rows = (
        await all<KeyRow>(
          pool,
          'UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE family_id = $2 RETURNING *',
          [now, grantId],
        )
      ).map(toKey)
      return rows.find((k) => k.grantId === grantId) ?? rows[0]
    },
    async touch(id, now, minInterval) {
      await pool.query(
        'UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)',
        [now, id, now - minInterval],
      )
    },
  }
}

export function pgRefresh(pool: pg.Pool): RefreshStore {
  return {
    async byHash(tokenHash) {
      const row = await one<RefreshRow>(pool, 'SELECT * FROM refresh_tokens WHERE token_hash = $1', [tokenHash])
      return row && toRefresh(row)
    },
    async markRotated(tokenHash, now) {
      const res = await pool.query(
        'UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL',
        [now, tokenHash],
      )
      if (res.rowCount === 1) return { first: true, rotatedAt: now }
      return {
        first: false,
        rotatedAt:
          (await one<RefreshRow>(pool, 'SELECT * FROM refresh_tokens WHERE token_hash = $1', [tokenHash]))
            ?.rotated_at ?? 0,
      }
    },
    async deleteStale(now, rotatedBefore, limit) {
      return (
        (
          await pool.query(
            `DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens
        WHERE expires_at <= $1 OR rotated_at < $2 LIMIT $3)`,
            [now, rotatedBefore, limit],
          )
        ).rowCount ?? 0
      )
    },
  }
}
