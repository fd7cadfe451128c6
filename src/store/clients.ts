// OAuth clients and consents.
import {
  changed,
  type Database,
  deleteSome,
  holdsNul,
  locking,
  lookupOnce,
  mapConstraint,
  onConflictDoNothing,
  onConflictUpdate,
  transaction,
} from './database.js'
import type { KeyTable } from './key-table.js'
import { toClient, toConsent } from './rows.js'
import type { ClientRow, ConsentRow } from './tables.js'
import { type ClientStore, ConflictError, type ConsentListing, type ConsentStore } from './types.js'

export function clients(database: Database, keyTable: KeyTable): ClientStore {
  const { db } = database
  const byId = lookupOnce<ClientRow>(database, db.selectFrom('oauth_clients').selectAll().where('client_id', '=', ''))
  const byFingerprint = (fingerprint: string) =>
    db.selectFrom('oauth_clients').selectAll().where('fingerprint', '=', fingerprint).executeTakeFirst()
  return {
    async register(c, createdAt) {
      const values = {
        client_id: c.clientId,
        client_name: c.clientName,
        redirect_uris: JSON.stringify(c.redirectUris),
        token_endpoint_auth_method: c.tokenEndpointAuthMethod,
        client_secret_hash: c.clientSecretHash,
        metadata: JSON.stringify(c.metadata),
        fingerprint: c.fingerprint,
        source: c.source,
        created_at: createdAt,
      }
      const row = { ...values, disabled_at: null }
      // A public registration that exists already (same fingerprint) answers that row.
      const insert = onConflictDoNothing(database, db.insertInto('oauth_clients').values(values), ['fingerprint'])
      const result = await mapConstraint(() => insert.executeTakeFirst())
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 1) return toClient(row)
      const existing = c.fingerprint === null ? undefined : await byFingerprint(c.fingerprint)
      // Nothing inserted and no row of that fingerprint: the client_id itself was taken.
      if (!existing) throw new ConflictError(`client_id ${c.clientId} is taken`)
      return toClient(existing)
    },
    async byId(clientId) {
      if (holdsNul(clientId)) return undefined
      const row = await byId(clientId)
      return row && toClient(row)
    },
    async deleteUnused(before, limit) {
      return deleteSome(
        db,
        'oauth_clients',
        'client_id',
        (eb) =>
          eb.and([
            eb('source', '=', 'dcr'),
            eb('created_at', '<', before),
            ...(
              [
                'consents',
                'api_keys',
                'key_grants',
                'device_grants',
                'refresh_tokens',
                'key_grant_refresh_tokens',
              ] as const
            ).map((table) =>
              eb.not(
                eb.exists(
                  eb
                    .selectFrom(table as 'consents')
                    .select('client_id')
                    .whereRef('client_id', '=', 'oauth_clients.client_id'),
                ),
              ),
            ),
          ]),
        limit,
      )
    },
    async list() {
      return (await db.selectFrom('oauth_clients').selectAll().orderBy('created_at').execute()).map(toClient)
    },
    async disable(clientId, now) {
      return transaction(database, async (trx) => {
        const updated = await trx
          .updateTable('oauth_clients')
          .set({ disabled_at: now })
          .where('client_id', '=', clientId)
          .executeTakeFirst()
        if (changed(updated) === 0) return undefined
        const revokedKeys = await keyTable.revokeClient(trx, clientId, now)
        await trx.deleteFrom('consents').where('client_id', '=', clientId).execute()
        await trx.deleteFrom('device_grants').where('client_id', '=', clientId).execute()
        return { revokedKeys }
      })
    },
    async remove(clientId, now) {
      return transaction(database, async (trx) => {
        const exists = await trx
          .selectFrom('oauth_clients')
          .select('client_id')
          .where('client_id', '=', clientId)
          .executeTakeFirst()
        if (!exists) return undefined
        const revokedKeys = await keyTable.revokeClient(trx, clientId, now)
        await trx.deleteFrom('consents').where('client_id', '=', clientId).execute()
        await trx.deleteFrom('device_grants').where('client_id', '=', clientId).execute()
        await keyTable.forgetClient(trx, clientId)
        await trx.deleteFrom('oauth_clients').where('client_id', '=', clientId).execute()
        return { revokedKeys }
      })
    },
    async upsert(c, now) {
      const set = {
        client_name: c.clientName,
        redirect_uris: JSON.stringify(c.redirectUris),
        token_endpoint_auth_method: c.tokenEndpointAuthMethod,
        client_secret_hash: c.clientSecretHash,
        metadata: JSON.stringify(c.metadata),
        source: c.source,
      }
      await onConflictUpdate(
        database,
        db.insertInto('oauth_clients').values({ client_id: c.clientId, fingerprint: null, created_at: now, ...set }),
        ['client_id'],
        set,
      ).execute()
      const row = await byId(c.clientId)
      return toClient(row!)
    },
  }
}

export function consents(database: Database, keyTable: KeyTable): ConsentStore {
  const { db } = database
  const get = (userId: number, clientId: string) =>
    db
      .selectFrom('consents')
      .selectAll()
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .executeTakeFirst()
  return {
    async upsert(c, now) {
      const scopes = c.scopes.join(' ')
      // The values are set again by parameter (MySQL has no `excluded`): the last upsert's
      // values win whole.
      await mapConstraint(() =>
        onConflictUpdate(
          database,
          db.insertInto('consents').values({
            user_id: c.userId,
            client_id: c.clientId,
            account_id: c.accountId,
            scopes,
            created_at: now,
            updated_at: now,
          }),
          ['user_id', 'client_id'],
          { account_id: c.accountId, scopes, updated_at: now },
        ).execute(),
      )
      return toConsent((await get(c.userId, c.clientId))!)
    },
    async get(userId, clientId) {
      if (holdsNul(clientId)) return undefined
      const row = await get(userId, clientId)
      return row && toConsent(row)
    },
    async listForUser(userId) {
      const rows = await db
        .selectFrom('consents as c')
        .innerJoin('oauth_clients as oc', 'oc.client_id', 'c.client_id')
        .innerJoin('accounts as a', 'a.id', 'c.account_id')
        .selectAll('c')
        .select(['oc.client_name', 'oc.redirect_uris', 'a.name as account_name'])
        .where('c.user_id', '=', userId)
        .orderBy('c.updated_at', 'desc')
        .execute()
      const lastUsed = await keyTable.lastUsedByClient(userId)
      return rows.map(
        (r): ConsentListing => ({
          ...toConsent(r as ConsentRow),
          clientName: r.client_name,
          redirectUris: JSON.parse(r.redirect_uris) as string[],
          accountName: r.account_name,
          lastUsedAt: lastUsed.get(r.client_id) ?? null,
        }),
      )
    },
    async disconnectIfIdle(userId, clientId, now) {
      return transaction(database, async (trx) => {
        // The consent row locked first: a mint under it (its locking read) waits, or this waits for it.
        const row = await locking(
          database,
          trx.selectFrom('consents').selectAll().where('user_id', '=', userId).where('client_id', '=', clientId),
          'update',
        ).executeTakeFirst()
        if (!row) return undefined
        if ((await keyTable.liveOfClient(trx, userId, clientId, now)).length > 0) return undefined
        await trx.deleteFrom('consents').where('user_id', '=', userId).where('client_id', '=', clientId).execute()
        return toConsent(row)
      })
    },
    async disconnect(userId, clientId, now) {
      return transaction(database, async (trx) => {
        const revokedKeys = await keyTable.revokeOf(trx, { userId, clientId }, now)
        const deleted = await trx
          .deleteFrom('consents')
          .where('user_id', '=', userId)
          .where('client_id', '=', clientId)
          .executeTakeFirst()
        return { revokedKeys, deleted: changed(deleted) === 1 }
      })
    },
  }
}
