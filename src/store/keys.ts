// keygate's own api_keys table (no KEYGATE_KEYS_TABLE): keys minted by /token (with their
// refresh token, under the consent they came from) or by hand, looked up on every bearer
// check, revoked, touched and cleaned up.
import { sha256Hex } from '../crypto/compare.js'
import {
  changed,
  compiledOnce,
  type Database,
  type Db,
  deleteSome,
  locking,
  lookupOnce,
  onConflictDoNothing,
  transaction,
} from './database.js'
import { insertWithId } from './identity.js'
import { consentRefusal, type KeyTable, replacedKeys, revokeConnection } from './key-table.js'
import { splitScopes, toKey } from './rows.js'
import type { KeyRow } from './tables.js'
import { ConflictError, type ConsentCondition, type InsertKeyResult, type KeyListing, type NewApiKey } from './types.js'

/** A key id as this table numbers them; undefined for text that is not one. */
const rowId = (id: string): number | undefined => (/^[1-9][0-9]{0,14}$/.test(id) ? Number(id) : undefined)

/** The columns of a new key; keyValues names each of them, no other (checked by its `satisfies`). */
const KEY_COLUMNS = [
  'account_id',
  'user_id',
  'name',
  'key_hash',
  'display_prefix',
  'scopes',
  'resource',
  'client_id',
  'grant_id',
  'family_id',
  'installation',
  'created_at',
  'expires_at',
] as const

const keyValues = (k: NewApiKey) =>
  ({
    account_id: k.accountId,
    user_id: k.userId,
    name: k.name,
    key_hash: k.keyHash,
    display_prefix: k.displayPrefix,
    scopes: k.scopes.join(' '),
    resource: k.resource,
    client_id: k.clientId,
    grant_id: k.grantId,
    family_id: k.familyId,
    installation: k.installation ?? null,
    created_at: k.createdAt,
    expires_at: k.expiresAt,
  }) satisfies Record<(typeof KEY_COLUMNS)[number], unknown>

type Inserter = (trx: Db, k: NewApiKey) => Promise<KeyRow | undefined>

/**
 * Inserts the key unless its grant id is taken; undefined when it was. Told by the
 * database, whatever the unique index is called: ON CONFLICT (grant_id) DO NOTHING
 * RETURNING answers no row (SQLite, PostgreSQL; compiled once, every exchange runs it);
 * on MySQL, ON DUPLICATE KEY UPDATE of a column to itself changes no row, and a locking
 * read says whether the grant id is the duplicate (it could only otherwise be the key
 * hash, a ConflictError).
 */
function insertUnlessGranted(database: Database): Inserter {
  if (database.dialect !== 'mysql') {
    const insert = compiledOnce(KEY_COLUMNS, (p) =>
      onConflictDoNothing(database, database.db.insertInto('api_keys').values(p), ['grant_id']).returningAll(),
    )
    return async (trx, k) => (await insert(trx, keyValues(k)))[0]
  }
  return async (trx, k) => {
    const result = await onConflictDoNothing(database, trx.insertInto('api_keys').values(keyValues(k)), [
      'grant_id',
    ]).executeTakeFirstOrThrow()
    if (Number(result.numInsertedOrUpdatedRows) === 1)
      return trx.selectFrom('api_keys').selectAll().where('id', '=', Number(result.insertId)).executeTakeFirstOrThrow()
    const granted =
      k.grantId !== null &&
      (await locking(
        database,
        trx.selectFrom('api_keys').select('id').where('grant_id', '=', k.grantId),
        'share',
      ).executeTakeFirst())
    if (!granted) throw new ConflictError('api_keys: the key hash exists')
    return undefined
  }
}

/**
 * A user's live keys of a client: what a new grant replaces, read in the mint's transaction
 * (through the api_keys_live_user_client index: migration 0007).
 */
export function liveOfClientQuery(db: Db, userId: number, clientId: string, now: number) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'family_id', 'account_id', 'installation', 'created_at'])
    .where('user_id', '=', userId)
    .where('client_id', '=', clientId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
}

export function keys(database: Database): KeyTable {
  const { db } = database
  const refusal = consentRefusal(database)
  // The bearer check's lookup: compiled once, prepared once per connection.
  const byHash = lookupOnce<KeyRow>(database, db.selectFrom('api_keys').selectAll().where('key_hash', '=', ''))
  const byId = lookupOnce<KeyRow>(database, db.selectFrom('api_keys').selectAll().where('id', '=', 0))
  const insertGranted = insertUnlessGranted(database)
  const liveOfClient = compiledOnce(['userId', 'clientId', 'now'], (p) =>
    liveOfClientQuery(db, p.userId, p.clientId, p.now),
  )
  const revokeOne = (id: number | undefined, now: number) =>
    db
      .updateTable('api_keys')
      .set({ revoked_at: now })
      .where('id', '=', id ?? 0)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
  return {
    unfitId: () => undefined,
    refreshTable: 'refresh_tokens',
    hash: sha256Hex,
    async insert(k, refresh, consent?: ConsentCondition, replace?: { keep: number }) {
      return transaction(database, async (trx): Promise<InsertKeyResult> => {
        const refused = consent && (await refusal(trx, consent))
        if (refused) return { ok: false, reason: refused }
        // No row: the grant id is taken (RFC 6749 §4.1.2, single use).
        const row = await (k.grantId === null
          ? insertWithId(database, trx, 'api_keys', keyValues(k))
          : insertGranted(trx, k))
        if (!row) return { ok: false, reason: 'grant_used' }
        if (replace && k.clientId !== null) {
          const live = await this.liveOfClient(trx, k.userId, k.clientId, k.createdAt)
          const fresh = { familyId: k.familyId, accountId: k.accountId, installation: k.installation ?? null }
          await this.revokeIds(trx, replacedKeys(live, fresh, replace.keep), k.createdAt)
        }
        if (refresh)
          await trx
            .insertInto('refresh_tokens')
            .values({
              token_hash: refresh.tokenHash,
              family_id: k.familyId!,
              key_id: row.id,
              client_id: k.clientId!,
              created_at: k.createdAt,
              expires_at: refresh.expiresAt,
            })
            .execute()
        return { ok: true, key: toKey(row) }
      })
    },
    async byHash(keyHash) {
      // No await when SQLite answered at once: this is every request's lookup.
      const found = byHash(keyHash)
      const row = found instanceof Promise ? await found : found
      return row && toKey(row)
    },
    async byId(id) {
      const n = rowId(id)
      const row = n === undefined ? undefined : await byId(n)
      return row && toKey(row)
    },
    async list({ accountId, userId }) {
      let query = db.selectFrom('api_keys').selectAll()
      if (accountId !== undefined) query = query.where('account_id', '=', accountId)
      if (userId !== undefined) query = query.where('user_id', '=', userId)
      const all = accountId === undefined && userId === undefined
      return (await query.orderBy('id', all ? 'asc' : 'desc').execute()).map(toKey)
    },
    async listForAccount(accountId, userId) {
      // One row per connection (user, client, installation): its newest key. Keys made by hand, one row each.
      let query = db
        .selectFrom('api_keys as k')
        .leftJoin('oauth_clients as oc', 'oc.client_id', 'k.client_id')
        .innerJoin('users as u', 'u.id', 'k.user_id')
        .selectAll('k')
        .select(['oc.client_name', 'u.email as creator_email'])
        .where((eb) =>
          eb.or([
            eb('k.client_id', 'is', null),
            eb(
              'k.id',
              '=',
              eb
                .selectFrom('api_keys as f')
                .select((f) => f.fn.max('f.id').as('newest'))
                .whereRef('f.user_id', '=', 'k.user_id')
                .whereRef('f.client_id', '=', 'k.client_id')
                .whereRef('f.account_id', '=', 'k.account_id')
                .where((f) =>
                  f.or([
                    f.and([f('f.installation', 'is', null), f('k.installation', 'is', null)]),
                    f('f.installation', '=', f.ref('k.installation')),
                  ]),
                ),
            ),
          ]),
        )
        .where('k.account_id', '=', accountId)
      if (userId !== undefined) query = query.where('k.user_id', '=', userId)
      const rows = await query.orderBy('k.id', 'desc').execute()
      return rows.map(
        (r): KeyListing => ({ ...toKey(r as KeyRow), clientName: r.client_name, creatorEmail: r.creator_email }),
      )
    },
    async revoke(id, now) {
      return changed(await revokeOne(rowId(id), now)) === 1
    },
    async revokeFamily(key, now) {
      if (key.familyId === null) return changed(await revokeOne(rowId(key.id), now))
      return changed(
        await db
          .updateTable('api_keys')
          .set({ revoked_at: now })
          .where('family_id', '=', key.familyId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst(),
      )
    },
    async deleteExpired(expiredBefore, limit) {
      // Keys of a connection (OAuth keys) that no refresh token needs.
      return deleteSome(
        db,
        'api_keys',
        'id',
        (eb) =>
          eb.and([
            eb('expires_at', '<', expiredBefore),
            eb('family_id', 'is not', null),
            eb.not(
              eb.exists(
                eb.selectFrom('refresh_tokens as r').select('r.key_id').whereRef('r.key_id', '=', 'api_keys.id'),
              ),
            ),
          ]),
        limit,
      )
    },
    async revokeByGrant(grantId, now) {
      // The whole connection minted from the code: its first key and any refreshed ones.
      const rows = await transaction(database, async (trx) => {
        await trx
          .updateTable('api_keys')
          .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(now)) }))
          .where('family_id', '=', grantId)
          .execute()
        return trx.selectFrom('api_keys').selectAll().where('family_id', '=', grantId).execute()
      })
      const revoked = rows.map(toKey)
      return revoked.find((k) => k.grantId === grantId) ?? revoked[0]
    },
    async touch(id, now, minInterval) {
      await db
        .updateTable('api_keys')
        .set({ last_used_at: now })
        .where('id', '=', rowId(id) ?? 0)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', now - minInterval)]))
        .execute()
    },
    async revokeClient(trx, clientId, now) {
      return changed(
        await trx
          .updateTable('api_keys')
          .set({ revoked_at: now })
          .where('client_id', '=', clientId)
          .where('revoked_at', 'is', null)
          .executeTakeFirst(),
      )
    },
    async forgetClient(trx, clientId) {
      await trx.deleteFrom('refresh_tokens').where('client_id', '=', clientId).execute()
      await trx.deleteFrom('api_keys').where('client_id', '=', clientId).execute()
    },
    async revokeConnection(key, now) {
      return revokeConnection(this, db, key, now)
    },
    async liveOfClient(trx, userId, clientId, now) {
      const rows = await liveOfClient(trx, { userId, clientId, now })
      return rows.map((r) => ({
        id: String(r.id),
        familyId: r.family_id,
        accountId: Number(r.account_id),
        installation: r.installation ?? null,
        createdAt: Number(r.created_at),
      }))
    },
    async revokeOf(trx, who, now) {
      let query = trx
        .updateTable('api_keys')
        .set({ revoked_at: now })
        .where('user_id', '=', who.userId)
        .where('revoked_at', 'is', null)
      if (who.accountId !== undefined) query = query.where('account_id', '=', who.accountId)
      if (who.clientId !== undefined) query = query.where('client_id', '=', who.clientId)
      return changed(await query.executeTakeFirst())
    },
    async liveOf(trx, userId, accountId) {
      const rows = await trx
        .selectFrom('api_keys')
        .select(['id', 'scopes'])
        .where('user_id', '=', userId)
        .where('account_id', '=', accountId)
        .where('revoked_at', 'is', null)
        .execute()
      return rows.map((r) => ({ id: String(r.id), scopes: splitScopes(r.scopes) }))
    },
    async revokeIds(trx, ids, now) {
      const numbers = ids.map(rowId).filter((n) => n !== undefined)
      if (numbers.length === 0) return 0
      return changed(
        await trx
          .updateTable('api_keys')
          .set({ revoked_at: now })
          .where('id', 'in', numbers)
          .where('revoked_at', 'is', null)
          .executeTakeFirst(),
      )
    },
    async lastUsedByClient(userId) {
      const rows = await db
        .selectFrom('api_keys')
        .select((eb) => ['client_id', eb.fn.max('last_used_at').as('m')])
        .where('user_id', '=', userId)
        .where('client_id', 'is not', null)
        .groupBy('client_id')
        .execute()
      return new Map(rows.filter((r) => r.m !== null).map((r) => [r.client_id!, Number(r.m)]))
    },
  }
}
