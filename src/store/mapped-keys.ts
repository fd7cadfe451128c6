// Keys in the product's own key table (KEYGATE_KEYS_TABLE), written and read as its own
// dashboard would: its names, its hash, its scope, time and revocation encodings; the
// product's ids for account and user. keygate's own facts about a key it minted (client,
// grant id, resource, connection, refresh tokens) are in key_grants, written in the same
// transaction as the product's row; key_grants.grant_id UNIQUE is the single-use check.
// A key the product made itself has no key_grants row: it is listed and looked up all the
// same (origin 'product'). Ids cross between the two tables as text.
import { type RawBuilder, sql } from 'kysely'
import type { KeyMapping } from '../config/keys.js'
import { constraintError, type Database, type Db, lookupOnce, transaction } from './database.js'
import { consentRefusal, type KeyTable, replacedKeys, revokeConnection } from './key-table.js'
import { productRefusal, type TableShape, unfitFor } from './mapped-check.js'
import { codecFor, liveCondition, UUID } from './mapped-codec.js'
import { ConflictError, ForeignKeyError, type InsertKeyResult, type KeyListing } from './types.js'

/** A row of the product's table with keygate's facts beside it (null for the product's own keys). */
type Row = {
  id: unknown
  name: unknown
  scopes: unknown
  created_at: unknown
  prefix: unknown
  last_used_at: unknown
  expires_at: unknown
  revoked: unknown
  g_key: string | null
  g_account: number | null
  g_user: number | null
  g_prefix: string | null
  resource: string | null
  client_id: string | null
  grant_id: string | null
  family_id: string | null
  installation: string | null
  a_id: number | null
  u_id: number | null
  client_name?: string | null
  creator_email?: string | null
}

class GrantTaken extends Error {}

export function mappedKeys(database: Database, m: KeyMapping, shape: TableShape): KeyTable {
  const { db, dialect } = database
  const codec = codecFor(m, dialect)
  const refusal = consentRefusal(database)
  const table = sql.table(m.schema ? `${m.schema}.${m.name}` : m.name)
  const c = m.columns
  const p = (column: string) => sql.ref(`p.${column}`)
  const optional = (column: string | undefined, as: string) =>
    column === undefined ? sql`NULL AS ${sql.ref(as)}` : sql`${p(column)} AS ${sql.ref(as)}`
  const liveBare = liveCondition(m, dialect, c.revoked === undefined ? sql`NULL` : sql.ref(c.revoked))

  // The product's row, keygate's facts about it, and keygate's ids for the product's account
  // and user (for the product's own keys: keys keygate minted carry them in key_grants).
  const select = (extra: RawBuilder<unknown> = sql``) => sql`
    SELECT ${codec.asText(p(c.id))} AS id, ${p(c.name)} AS name, ${p(c.scopes)} AS scopes,
      ${p(c.createdAt)} AS created_at, ${optional(c.prefix, 'prefix')}, ${optional(c.lastUsedAt, 'last_used_at')},
      ${optional(c.expiresAt, 'expires_at')}, ${optional(c.revoked, 'revoked')},
      g.key_id AS g_key, g.account_id AS g_account, g.user_id AS g_user, g.display_prefix AS g_prefix,
      g.resource, g.client_id, g.grant_id, g.family_id, g.installation, a.id AS a_id, u.id AS u_id ${extra}
    FROM ${table} AS p
    LEFT JOIN key_grants AS g ON g.key_id = ${codec.asText(p(c.id))}
    LEFT JOIN accounts AS a ON a.external_issuer = ${m.issuer} AND a.external_id = ${codec.asText(p(c.account))}
    LEFT JOIN users AS u ON u.external_issuer = ${m.issuer} AND u.external_id = ${codec.asText(p(c.user))}`

  const toKey = (r: Row) => ({
    id: String(r.id),
    accountId: r.g_account !== null ? Number(r.g_account) : r.a_id === null ? null : Number(r.a_id),
    userId: r.g_user !== null ? Number(r.g_user) : r.u_id === null ? null : Number(r.u_id),
    name: String(r.name ?? ''),
    displayPrefix: r.g_prefix ?? (typeof r.prefix === 'string' ? r.prefix : ''),
    scopes: codec.scopesOut(r.scopes),
    resource: r.resource,
    clientId: r.client_id,
    grantId: r.grant_id,
    familyId: r.family_id,
    installation: r.installation ?? null,
    createdAt: codec.timeOut(r.created_at) ?? 0,
    lastUsedAt: codec.timeOut(r.last_used_at),
    expiresAt: codec.timeOut(r.expires_at),
    revokedAt: c.revoked === undefined ? null : codec.revokedOut(r.revoked),
    origin: r.g_key === null ? ('product' as const) : ('keygate' as const),
  })

  // The bearer check's lookup: compiled once, prepared once per connection.
  const byHash = lookupOnce<Row>(database, {
    compile: () => sql<Row>`${select()} WHERE ${p(c.hash)} = ${''}`.compile(db),
  })
  const byId = lookupOnce<Row>(database, {
    compile: () => sql<Row>`${select()} WHERE ${p(c.id)} = ${0}`.compile(db),
  })
  const ids = (list: string[]) => list.map(codec.idIn).filter((id) => id !== undefined)

  /** Revokes the product's rows with these ids that are live; answers how many. */
  const revokeIds = async (trx: Db, list: string[], now: number): Promise<number> => {
    const values = ids(list)
    if (values.length === 0) return 0
    const inList = sql.join(values)
    // A table without a revocation column: revoking a key deletes its row, as the product's own dashboard would.
    const result =
      c.revoked === undefined
        ? await sql`DELETE FROM ${table} WHERE ${sql.ref(c.id)} IN (${inList})`.execute(trx)
        : await sql`UPDATE ${table} SET ${sql.ref(c.revoked)} = ${codec.revokedIn(now)}
            WHERE ${sql.ref(c.id)} IN (${inList}) AND ${liveBare}`.execute(trx)
    return Number(result.numAffectedRows ?? 0n)
  }
  /** Marks these keys' grants as ended (key_grants.ended_at): a new grant no longer reads them. */
  const markEnded = async (trx: Db, keyIds: string[], now: number): Promise<void> => {
    if (keyIds.length === 0) return
    await trx.updateTable('key_grants').set({ ended_at: now }).where('key_id', 'in', keyIds).execute()
  }
  const grantIds = async (trx: Db, where: (q: ReturnType<typeof grants>) => ReturnType<typeof grants>) =>
    (await where(grants(trx)).execute()).map((r) => r.key_id)
  const grants = (trx: Db) => trx.selectFrom('key_grants').select('key_id')

  /** keygate's and the product's ids of an account and a user, for the product's columns. */
  const externalIds = async (trx: Db, accountId: number, userId: number) => {
    const account = await trx
      .selectFrom('accounts')
      .select('external_id')
      .where('id', '=', accountId)
      .executeTakeFirst()
    const user = await trx.selectFrom('users').select('external_id').where('id', '=', userId).executeTakeFirst()
    if (!account?.external_id || !user?.external_id)
      throw new ForeignKeyError('the key table names the product’s accounts and users; this one has no product id')
    return { account: account.external_id, user: user.external_id }
  }

  const listWhere = async (where: RawBuilder<unknown>): Promise<KeyListing[]> => {
    const extra = sql`, oc.client_name AS client_name, COALESCE(gu.email, u.email) AS creator_email`
    const { rows } = await sql<Row>`${select(extra)}
      LEFT JOIN oauth_clients AS oc ON oc.client_id = g.client_id
      LEFT JOIN users AS gu ON gu.id = g.user_id
      WHERE ${where}`.execute(db)
    return rows.map((r) => ({ ...toKey(r), clientName: r.client_name ?? null, creatorEmail: r.creator_email ?? null }))
  }

  /** Writes the key's row in the product's table, its way; answers the row's id. */
  async function productRow(trx: Db, k: Parameters<KeyTable['insert']>[0]): Promise<string> {
    const external = await externalIds(trx, k.accountId, k.userId)
    const values: Array<[string, unknown]> = [
      [c.account, external.account],
      [c.user, external.user],
      [c.name, k.name],
      [c.hash, k.keyHash],
      [c.scopes, codec.scopesIn(k.scopes)],
      [c.createdAt, codec.timeIn(k.createdAt)],
    ]
    if (c.prefix) values.push([c.prefix, k.displayPrefix])
    if (c.expiresAt && k.expiresAt !== null) values.push([c.expiresAt, codec.timeIn(k.expiresAt)])
    if (c.revoked && m.revoked === 'boolean') values.push([c.revoked, dialect === 'postgres' ? false : 0])
    const given = m.id === 'uuid' && !shape.idHasDefault ? codec.newId() : undefined
    if (given) values.unshift([c.id, given])
    const columns = sql.join(values.map(([name]) => sql.ref(name)))
    const params = sql.join(values.map(([, v]) => sql`${v}`))
    const insert = sql`INSERT INTO ${table} (${columns}) VALUES (${params})`
    if (given) {
      await insert.execute(trx)
      return given
    }
    const id = codec.asText(sql.ref(c.id))
    if (dialect !== 'mysql')
      return String((await sql<{ id: unknown }>`${insert} RETURNING ${id} AS id`.execute(trx)).rows[0]!.id)
    const result = await insert.execute(trx)
    if (m.id === 'integer') return String(result.insertId)
    const { rows } = await sql<{ id: unknown }>`SELECT ${id} AS id FROM ${table}
      WHERE ${sql.ref(c.hash)} = ${k.keyHash}`.execute(trx)
    return String(rows[0]!.id)
  }

  return {
    refreshTable: 'key_grant_refresh_tokens',
    hash: codec.hash,
    unfitId: (field, id) => unfitFor(shape.idColumns[field], id),
    async insert(k, refresh, consent, replace) {
      try {
        return await transaction(database, async (trx): Promise<InsertKeyResult> => {
          const refused = consent && (await refusal(trx, consent))
          if (refused) return { ok: false, reason: refused }
          const keyId = await productRow(trx, k).catch((err: unknown) => {
            throw productRefusal(err)
          })
          try {
            await trx
              .insertInto('key_grants')
              .values({
                key_id: keyId,
                account_id: k.accountId,
                user_id: k.userId,
                display_prefix: k.displayPrefix,
                resource: k.resource,
                client_id: k.clientId,
                grant_id: k.grantId,
                family_id: k.familyId,
                installation: k.installation ?? null,
                created_at: k.createdAt,
              })
              .execute()
          } catch (err) {
            // The grant id is taken (RFC 6749 §4.1.2, single use): the product's row goes with the rollback.
            if (constraintError(err) instanceof ConflictError && k.grantId !== null) throw new GrantTaken()
            throw err
          }
          if (refresh)
            await trx
              .insertInto('key_grant_refresh_tokens')
              .values({
                token_hash: refresh.tokenHash,
                family_id: k.familyId!,
                key_id: keyId,
                client_id: k.clientId!,
                created_at: k.createdAt,
                expires_at: refresh.expiresAt,
              })
              .execute()
          if (replace && k.clientId !== null) {
            const live = await this.liveOfClient(trx, k.userId, k.clientId, k.createdAt)
            const fresh = { familyId: k.familyId, accountId: k.accountId, installation: k.installation ?? null }
            const replaced = replacedKeys(live, fresh, replace.keep)
            await revokeIds(trx, replaced, k.createdAt)
            await markEnded(trx, replaced, k.createdAt)
          }
          // Read back in the transaction (the prepared lookups run outside it).
          const { rows } = await sql<Row>`${select()} WHERE ${p(c.id)} = ${codec.idIn(keyId) ?? keyId}`.execute(trx)
          return { ok: true, key: toKey(rows[0]!) }
        })
      } catch (err) {
        if (err instanceof GrantTaken) return { ok: false, reason: 'grant_used' }
        throw constraintError(err)
      }
    },
    async byHash(keyHash) {
      const found = byHash(m.issuer, m.issuer, keyHash)
      const row = found instanceof Promise ? await found : found
      return row && toKey(row)
    },
    async byId(id) {
      const value = codec.idIn(id)
      if (value === undefined) return undefined
      const row = await byId(m.issuer, m.issuer, value)
      return row && toKey(row)
    },
    async list({ accountId, userId }) {
      const conditions: RawBuilder<unknown>[] = [sql`1 = 1`]
      if (accountId !== undefined) conditions.push(await accountCondition(accountId))
      if (userId !== undefined) conditions.push(await userCondition(userId))
      return (await listWhere(sql.join(conditions, sql` AND `))).sort((a, b) => a.createdAt - b.createdAt)
    },
    async listForAccount(accountId, userId) {
      const conditions = [await accountCondition(accountId)]
      if (userId !== undefined) conditions.push(await userCondition(userId))
      const all = await listWhere(sql.join(conditions, sql` AND `))
      // One row per connection: of the keys a refresh minted, only the newest is listed.
      // One row per connection (user, client, installation): its newest key.
      const connection = (k: KeyListing) => JSON.stringify([k.userId, k.clientId, k.installation, k.accountId])
      const newest = new Map<string, KeyListing>()
      for (const k of all)
        if (k.clientId !== null && (newest.get(connection(k))?.createdAt ?? -1) <= k.createdAt)
          newest.set(connection(k), k)
      return all
        .filter((k) => k.clientId === null || newest.get(connection(k)) === k)
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
    },
    async revoke(id, now) {
      return (await revokeIds(db, [id], now)) === 1
    },
    async revokeFamily(key, now) {
      if (key.familyId === null) return revokeIds(db, [key.id], now)
      const family = await grantIds(db, (q) => q.where('family_id', '=', key.familyId))
      return revokeIds(db, family, now)
    },
    async deleteExpired() {
      // The product's rows are the product's to delete; keygate deletes none of them.
      return 0
    },
    async revokeByGrant(grantId, now) {
      const family = await grantIds(db, (q) => q.where('family_id', '=', grantId))
      await revokeIds(db, family, now)
      const revoked = []
      for (const id of family) {
        const key = await this.byId(id)
        if (key) revoked.push(key)
      }
      return revoked.find((k) => k.grantId === grantId) ?? revoked[0]
    },
    async touch(id, now, minInterval) {
      const value = codec.idIn(id)
      if (c.lastUsedAt === undefined || value === undefined) return
      const column = sql.ref(c.lastUsedAt)
      await sql`UPDATE ${table} SET ${column} = ${codec.timeIn(now)}
        WHERE ${sql.ref(c.id)} = ${value} AND (${column} IS NULL OR ${column} <= ${codec.timeIn(now - minInterval)})`.execute(
        db,
      )
    },
    async revokeClient(trx, clientId, now) {
      return revokeIds(trx, await grantIds(trx, (q) => q.where('client_id', '=', clientId)), now)
    },
    async forgetClient(trx, clientId) {
      // The product's rows stay (revoked): they are the product's.
      await trx.deleteFrom('key_grant_refresh_tokens').where('client_id', '=', clientId).execute()
      await trx.deleteFrom('key_grants').where('client_id', '=', clientId).execute()
    },
    async revokeConnection(key, now) {
      return revokeConnection(this, db, key, now)
    },
    async liveOfClient(trx, userId, clientId, now) {
      // The grants not known to have ended, through their index (migration 0007); those the
      // product's table shows revoked, expired or gone are marked ended, so each is read once.
      const grants = await trx
        .selectFrom('key_grants')
        .select(['key_id', 'family_id', 'account_id', 'installation', 'created_at'])
        .where('user_id', '=', userId)
        .where('client_id', '=', clientId)
        .where('ended_at', 'is', null)
        .execute()
      const values = ids(grants.map((g) => g.key_id))
      if (values.length === 0) return []
      const { rows } = await sql<{ id: unknown; expires_at: unknown }>`
        SELECT ${codec.asText(sql.ref(c.id))} AS id, ${c.expiresAt ? sql.ref(c.expiresAt) : sql`NULL`} AS expires_at
        FROM ${table} WHERE ${sql.ref(c.id)} IN (${sql.join(values)}) AND ${liveBare}`.execute(trx)
      const unexpired = (at: number | null) => at === null || at > now
      const live = new Set(rows.filter((r) => unexpired(codec.timeOut(r.expires_at))).map((r) => String(r.id)))
      await markEnded(
        trx,
        grants.filter((g) => !live.has(g.key_id)).map((g) => g.key_id),
        now,
      )
      return grants
        .filter((g) => live.has(g.key_id))
        .map((g) => ({
          id: g.key_id,
          familyId: g.family_id,
          accountId: Number(g.account_id),
          installation: g.installation ?? null,
          createdAt: Number(g.created_at),
        }))
    },
    async revokeOf(trx, who, now) {
      const list = await grantIds(trx, (q) => {
        let query = q.where('user_id', '=', who.userId)
        if (who.accountId !== undefined) query = query.where('account_id', '=', who.accountId)
        if (who.clientId !== undefined) query = query.where('client_id', '=', who.clientId)
        return query
      })
      return revokeIds(trx, list, now)
    },
    async liveOf(trx, userId, accountId) {
      const values = ids(
        await grantIds(trx, (q) => q.where('user_id', '=', userId).where('account_id', '=', accountId)),
      )
      if (values.length === 0) return []
      const { rows } = await sql<{ id: unknown; scopes: unknown }>`
        SELECT ${codec.asText(sql.ref(c.id))} AS id, ${sql.ref(c.scopes)} AS scopes FROM ${table}
        WHERE ${sql.ref(c.id)} IN (${sql.join(values)}) AND ${liveBare}`.execute(trx)
      return rows.map((r) => ({ id: String(r.id), scopes: codec.scopesOut(r.scopes) }))
    },
    revokeIds,
    async lastUsedByClient(userId) {
      const used = new Map<string, number>()
      if (c.lastUsedAt === undefined) return used
      const rows = await db
        .selectFrom('key_grants')
        .select(['key_id', 'client_id'])
        .where('user_id', '=', userId)
        .where('client_id', 'is not', null)
        .execute()
      const clientOf = new Map(rows.map((r) => [r.key_id, r.client_id!]))
      const values = ids([...clientOf.keys()])
      if (values.length === 0) return used
      const { rows: times } = await sql<{ id: unknown; t: unknown }>`
        SELECT ${codec.asText(sql.ref(c.id))} AS id, ${sql.ref(c.lastUsedAt)} AS t FROM ${table}
        WHERE ${sql.ref(c.id)} IN (${sql.join(values)})`.execute(db)
      for (const r of times) {
        const t = codec.timeOut(r.t)
        const client = clientOf.get(String(r.id))
        if (t !== null && client && t > (used.get(client) ?? -1)) used.set(client, t)
      }
      return used
    },
  }

  /** A product id compared with the column as the column's own type (its index used). */
  function comparable(field: 'account' | 'user', value: string): boolean {
    return !shape.uuidFields.has(field) || UUID.test(value)
  }
  async function accountCondition(accountId: number): Promise<RawBuilder<unknown>> {
    const account = await db.selectFrom('accounts').select('external_id').where('id', '=', accountId).executeTakeFirst()
    // Keys keygate minted there, and the product's own keys of that account.
    return account?.external_id && comparable('account', account.external_id)
      ? sql`(g.account_id = ${accountId} OR (g.key_id IS NULL AND ${p(c.account)} = ${account.external_id}))`
      : sql`g.account_id = ${accountId}`
  }
  async function userCondition(userId: number): Promise<RawBuilder<unknown>> {
    const user = await db.selectFrom('users').select('external_id').where('id', '=', userId).executeTakeFirst()
    return user?.external_id && comparable('user', user.external_id)
      ? sql`(g.user_id = ${userId} OR (g.key_id IS NULL AND ${p(c.user)} = ${user.external_id}))`
      : sql`g.user_id = ${userId}`
  }
}
