// Device authorization grants (RFC 8628): stored while the device polls and its user decides
// elsewhere; deleted once redeemed or expired. A poll's interval check and a decision are
// single conditional UPDATEs, so instances answering the same device agree.
import { changed, type Database, deleteSome, onConflictDoNothing } from './database.js'
import { splitScopes } from './rows.js'
import type { DeviceRow } from './tables.js'
import type { DeviceGrant, DeviceStore } from './types.js'

/** RFC 8628 §3.5: each slow_down adds this many seconds to the interval. */
export const SLOW_DOWN_STEP = 5

const toGrant = (r: DeviceRow): DeviceGrant => ({
  id: r.id,
  clientId: r.client_id,
  scopes: splitScopes(r.scopes),
  resource: r.resource,
  userCode: r.user_code,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  interval: Number(r.interval_seconds),
  status: r.status,
  decision:
    r.status === 'approved' && r.user_id !== null && r.account_id !== null
      ? {
          userId: Number(r.user_id),
          accountId: Number(r.account_id),
          scopes: splitScopes(r.granted_scopes ?? ''),
          consentCreatedAt: Number(r.consent_created_at),
        }
      : null,
})

export function devices(database: Database): DeviceStore {
  const { db } = database
  return {
    async create(g) {
      const result = await onConflictDoNothing(
        database,
        db.insertInto('device_grants').values({
          id: g.id,
          device_code_hash: g.deviceCodeHash,
          user_code: g.userCode,
          client_id: g.clientId,
          scopes: g.scopes.join(' '),
          resource: g.resource,
          created_at: g.createdAt,
          expires_at: g.expiresAt,
          interval_seconds: g.interval,
          status: 'pending',
        }),
        ['user_code'],
      ).executeTakeFirst()
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1
    },
    async byDeviceCodeHash(hash) {
      const row = await db
        .selectFrom('device_grants')
        .selectAll()
        .where('device_code_hash', '=', hash)
        .executeTakeFirst()
      return row && toGrant(row)
    },
    async pendingByUserCode(userCode, now) {
      const row = await db
        .selectFrom('device_grants')
        .selectAll()
        .where('user_code', '=', userCode)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .executeTakeFirst()
      return row && toGrant(row)
    },
    async decide(id, decision, now) {
      const values = decision.approved
        ? {
            status: 'approved' as const,
            user_id: decision.userId,
            account_id: decision.accountId,
            granted_scopes: decision.scopes.join(' '),
            consent_created_at: decision.consentCreatedAt,
          }
        : { status: 'denied' as const }
      const result = await db
        .updateTable('device_grants')
        .set(values)
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .executeTakeFirst()
      return changed(result) === 1
    },
    async poll(id, now) {
      const onTime = await db
        .updateTable('device_grants')
        .set({ polled_at: now })
        .where('id', '=', id)
        .where((eb) =>
          eb.or([eb('polled_at', 'is', null), eb(eb('polled_at', '+', eb.ref('interval_seconds')), '<=', now)]),
        )
        .executeTakeFirst()
      if (changed(onTime) === 1) return { outcome: 'ok' }
      await db
        .updateTable('device_grants')
        .set((eb) => ({ polled_at: now, interval_seconds: eb('interval_seconds', '+', SLOW_DOWN_STEP) }))
        .where('id', '=', id)
        .execute()
      const row = await db
        .selectFrom('device_grants')
        .select('interval_seconds')
        .where('id', '=', id)
        .executeTakeFirst()
      return { outcome: 'slow_down', interval: Number(row?.interval_seconds ?? 0) }
    },
    async remove(id) {
      await db.deleteFrom('device_grants').where('id', '=', id).execute()
    },
    async deleteExpired(before, limit) {
      return deleteSome(db, 'device_grants', 'id', (eb) => eb('expires_at', '<', before), limit)
    },
  }
}
