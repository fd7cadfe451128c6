// The PostgreSQL store, for several instances on several machines. Same contract and same
// atomicity as the SQLite store: the UNIQUE grant_id makes code redemption single-use
// across instances (ON CONFLICT DO NOTHING: no error text is read), consent upserts use ON CONFLICT, refresh rotation a conditional UPDATE.
import type pg from 'pg'
import {
  type AccountRow,
  type AuditRow,
  type ClientRow,
  type ConsentRow,
  type KeyRow,
  type NoteRow,
  type RefreshRow,
  toAccount,
  toClient,
  toConsent,
  toEvent,
  toKey,
  toNote,
  toRefresh,
  toUser,
  type UserRow,
} from '../rows.js'
import { type AttemptCounter, judgeAttempt } from '../signin-rule.js'
import { consentStands, type InsertKeyResult, type Membership, type Role, type Store } from '../types.js'
import { all, mapConstraint, one, openPool, transaction } from './db.js'

const LISTING = `SELECT k.*, oc.client_name, u.email AS creator_email FROM api_keys k
  LEFT JOIN oauth_clients oc ON oc.client_id = k.client_id JOIN users u ON u.id = k.user_id
  WHERE (k.family_id IS NULL OR k.id = (SELECT max(f.id) FROM api_keys f WHERE f.family_id = k.family_id))`

/**
 * PostgreSQL text cannot hold U+0000 (the query fails); no stored value holds one, so a
 * lookup by such a client-sent string finds nothing, as it does on SQLite.
 */
const holdsNul = (text: string): boolean => text.includes('\u0000')

export async function createPgStore(url: string, schema?: string): Promise<Store> {
  const pool: pg.Pool = await openPool(url, schema)
  return {
    users: {
      async create(u) {
        return toUser(
          (await mapConstraint(() =>
            one<UserRow>(
              pool,
              'INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
              [u.email, u.name, u.passwordHash, u.createdAt],
            ),
          ))!,
        )
      },
      async byEmail(email) {
        if (holdsNul(email)) return undefined
        const row = await one<UserRow>(pool, 'SELECT * FROM users WHERE lower(email) = lower($1)', [email])
        return row && toUser(row)
      },
      async byId(id) {
        const row = await one<UserRow>(pool, 'SELECT * FROM users WHERE id = $1', [id])
        return row && toUser(row)
      },
    },
    accounts: {
      async create(a) {
        return mapConstraint(() =>
          transaction(pool, async (c) => {
            const row = (await one<AccountRow>(
              c,
              'INSERT INTO accounts (name, kind, created_at) VALUES ($1, $2, $3) RETURNING *',
              [a.name, a.kind, a.createdAt],
            ))!
            await c.query('INSERT INTO memberships (user_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)', [
              a.ownerId,
              row.id,
              'owner',
              a.createdAt,
            ])
            return toAccount(row)
          }),
        )
      },
      async byId(id) {
        const row = await one<AccountRow>(pool, 'SELECT * FROM accounts WHERE id = $1', [id])
        return row && toAccount(row)
      },
      async byName(name) {
        return (await all<AccountRow>(pool, 'SELECT * FROM accounts WHERE name = $1 ORDER BY id', [name])).map(
          toAccount,
        )
      },
      async addMember(accountId, userId, role, createdAt) {
        await mapConstraint(() =>
          pool.query('INSERT INTO memberships (user_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)', [
            userId,
            accountId,
            role,
            createdAt,
          ]),
        )
      },
      async membershipsOf(userId) {
        const rows = await all<AccountRow & { role: Role }>(
          pool,
          `SELECT a.*, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
          WHERE m.user_id = $1 ORDER BY a.kind = 'team', a.name, a.id`,
          [userId],
        )
        return rows.map((r): Membership => ({ account: toAccount(r), role: r.role }))
      },
      async roleOf(userId, accountId) {
        return (
          await one<{ role: Role }>(pool, 'SELECT role FROM memberships WHERE user_id = $1 AND account_id = $2', [
            userId,
            accountId,
          ])
        )?.role
      },
    },
    clients: {
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
    },
    consents: {
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
          const deleted = await c.query('DELETE FROM consents WHERE user_id = $1 AND client_id = $2', [
            userId,
            clientId,
          ])
          return { revokedKeys: revoked.rowCount ?? 0, deleted: deleted.rowCount === 1 }
        })
      },
    },
    keys: {
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
            ? await pool.query('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [
                now,
                key.id,
              ])
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
    },
    refresh: {
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
    },
    audit: {
      async record(e) {
        await pool.query(
          `INSERT INTO audit_events (created_at, event, account_id, actor_user_id, subject, ip, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [e.createdAt, e.event, e.accountId, e.actorUserId, e.subject, e.ip, JSON.stringify(e.detail)],
        )
      },
      async count(event, subject, since) {
        return (await one<{ n: number }>(
          pool,
          'SELECT count(*)::int AS n FROM audit_events WHERE event = $1 AND subject = $2 AND created_at >= $3',
          [event, subject, since],
        ))!.n
      },
      async list(accountId, { before, limit }) {
        const rows = await all<AuditRow & { actor_email: string | null }>(
          pool,
          `SELECT e.*, u.email AS actor_email FROM audit_events e
          LEFT JOIN users u ON u.id = e.actor_user_id WHERE e.account_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3`,
          [accountId, before ?? Number.MAX_SAFE_INTEGER, limit],
        )
        return rows.map((r) => ({ ...toEvent(r), actorEmail: r.actor_email }))
      },
    },
    notes: {
      async list(accountId) {
        return (await all<NoteRow>(pool, 'SELECT * FROM notes WHERE account_id = $1 ORDER BY id', [accountId])).map(
          toNote,
        )
      },
      async get(accountId, id) {
        const row = await one<NoteRow>(pool, 'SELECT * FROM notes WHERE account_id = $1 AND id = $2', [accountId, id])
        return row && toNote(row)
      },
      async create(n) {
        return toNote(
          (await one<NoteRow>(
            pool,
            'INSERT INTO notes (account_id, title, body, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
            [n.accountId, n.title, n.body, n.createdAt],
          ))!,
        )
      },
      async remove(accountId, id) {
        return (await pool.query('DELETE FROM notes WHERE account_id = $1 AND id = $2', [accountId, id])).rowCount === 1
      },
    },
    signins: {
      async attempt(buckets, now, limits) {
        return transaction(pool, async (c) => {
          const keys = [buckets.address, buckets.email]
          await c.query(
            'INSERT INTO signin_attempts (bucket, window_start, attempts, last_at) SELECT unnest($1::text[]), $2, 0, 0 ON CONFLICT (bucket) DO NOTHING',
            [keys, now],
          )
          // Row locks in a fixed order: parallel attempts queue here instead of racing.
          const rows = await all<{ bucket: string; window_start: number; attempts: number; last_at: number }>(
            c,
            'SELECT * FROM signin_attempts WHERE bucket = ANY($1::text[]) ORDER BY bucket FOR UPDATE',
            [keys],
          )
          const counter = (bucket: string): AttemptCounter | undefined => {
            const r = rows.find((x) => x.bucket === bucket)
            return r && { windowStart: r.window_start, attempts: r.attempts, lastAt: r.last_at }
          }
          const { verdict, next } = judgeAttempt(counter(buckets.address), counter(buckets.email), now, limits)
          if (next) {
            for (const [bucket, n] of [
              [buckets.address, next.address],
              [buckets.email, next.email],
            ] as const) {
              await c.query(
                'UPDATE signin_attempts SET window_start = $2, attempts = $3, last_at = $4 WHERE bucket = $1',
                [bucket, n.windowStart, n.attempts, n.lastAt],
              )
            }
          }
          return verdict
        })
      },
      async succeeded(buckets) {
        await pool.query('DELETE FROM signin_attempts WHERE bucket = $1', [buckets.address])
        await pool.query('UPDATE signin_attempts SET attempts = greatest(attempts - 1, 0) WHERE bucket = $1', [
          buckets.email,
        ])
      },
      async deleteStale(before, limit) {
        return (
          (
            await pool.query(
              'DELETE FROM signin_attempts WHERE bucket IN (SELECT bucket FROM signin_attempts WHERE window_start < $1 LIMIT $2)',
              [before, limit],
            )
          ).rowCount ?? 0
        )
      },
    },
    sessions: {
      async validAfter(userId) {
        return (
          (
            await one<{ valid_after: number }>(pool, 'SELECT valid_after FROM session_epochs WHERE user_id = $1', [
              userId,
            ])
          )?.valid_after ?? 0
        )
      },
      async endAll(userId, nowMs) {
        await pool.query(
          `INSERT INTO session_epochs (user_id, valid_after) VALUES ($1, $2)
          ON CONFLICT (user_id) DO UPDATE SET valid_after = greatest(session_epochs.valid_after, excluded.valid_after)`,
          [userId, nowMs],
        )
      },
    },
    async ping() {
      return (await pool.query('SELECT 1')).rowCount === 1
    },
    async close() {
      if (pool.ending) return // closing twice is harmless, as with SQLite
      await pool.end()
    },
  }
}
