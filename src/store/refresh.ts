// Refresh tokens: rotated once (a conditional UPDATE is the race), cleaned up when stale.
import { changed, type Database, deleteSome, lookupOnce } from './database.js'
import { toRefresh } from './rows.js'
import type { RefreshRow } from './tables.js'
import type { RefreshStore } from './types.js'

/**
 * The refresh tokens of keygate's own keys (refresh_tokens) or of the keys it minted into the
 * product's table (key_grant_refresh_tokens): the same columns, the key's id typed as its
 * table's.
 */
export function refreshTokens(database: Database, table: 'refresh_tokens' | 'key_grant_refresh_tokens'): RefreshStore {
  const { db } = database
  const t = table as 'refresh_tokens'
  const byHash = lookupOnce<RefreshRow>(database, db.selectFrom(t).selectAll().where('token_hash', '=', ''))
  return {
    async byHash(tokenHash) {
      const row = await byHash(tokenHash)
      return row && toRefresh(row)
    },
    async markRotated(tokenHash, now) {
      // Exactly one caller changes the row.
      const result = await db
        .updateTable(t)
        .set({ rotated_at: now })
        .where('token_hash', '=', tokenHash)
        .where('rotated_at', 'is', null)
        .executeTakeFirst()
      if (changed(result) === 1) return { first: true, rotatedAt: now }
      const row = await byHash(tokenHash)
      return { first: false, rotatedAt: row?.rotated_at ?? 0 }
    },
    async deleteStale(now, rotatedBefore, limit) {
      return deleteSome(
        db,
        t,
        'token_hash',
        (eb) => eb.or([eb('expires_at', '<=', now), eb('rotated_at', '<', rotatedBefore)]),
        limit,
      )
    },
  }
}
