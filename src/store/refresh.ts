// Refresh tokens: rotated once (a conditional UPDATE is the race), cleaned up when stale.
import { changed, type Database, deleteSome, lookupOnce } from './database.js'
import { toRefresh } from './rows.js'
import type { RefreshRow } from './tables.js'
import type { RefreshStore } from './types.js'

export function refreshTokens(database: Database): RefreshStore {
  const { db } = database
  const byHash = lookupOnce<RefreshRow>(
    database,
    db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', ''),
  )
  return {
    async byHash(tokenHash) {
      const row = await byHash(tokenHash)
      return row && toRefresh(row)
    },
    async markRotated(tokenHash, now) {
      // Exactly one caller changes the row.
      const result = await db
        .updateTable('refresh_tokens')
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
        'refresh_tokens',
        'token_hash',
        (eb) => eb.or([eb('expires_at', '<=', now), eb('rotated_at', '<', rotatedBefore)]),
        limit,
      )
    },
  }
}
