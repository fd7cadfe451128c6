// The sign-in throttle's counters and the session epochs ("sign out everywhere").
import { sql } from 'kysely'
import { type Database, deleteSome, locking, onConflictDoNothing, onConflictUpdate, transaction } from './database.js'
import { type AttemptCounter, judgeAttempt } from './signin-rule.js'
import type { SessionStore, SigninStore } from './types.js'

export function signins(database: Database): SigninStore {
  const { db } = database
  return {
    async attempt(buckets, now, limits) {
      const names = [buckets.address, buckets.email]
      return transaction(database, async (trx) => {
        for (const bucket of names)
          await onConflictDoNothing(
            database,
            trx.insertInto('signin_attempts').values({ bucket, window_start: now, attempts: 0, last_at: 0 }),
            ['bucket'],
          ).execute()
        // Locked in a fixed order: parallel attempts queue here instead of racing.
        const rows = await locking(
          database,
          trx.selectFrom('signin_attempts').selectAll().where('bucket', 'in', names).orderBy('bucket'),
          'update',
        ).execute()
        const counter = (bucket: string): AttemptCounter | undefined => {
          const r = rows.find((x) => x.bucket === bucket)
          return r && { windowStart: r.window_start, attempts: r.attempts, lastAt: r.last_at }
        }
        const { verdict, next } = judgeAttempt(counter(buckets.address), counter(buckets.email), now, limits)
        if (next) {
          for (const [bucket, n] of [
            [buckets.address, next.address],
            [buckets.email, next.email],
          ] as const)
            await trx
              .updateTable('signin_attempts')
              .set({ window_start: n.windowStart, attempts: n.attempts, last_at: n.lastAt })
              .where('bucket', '=', bucket)
              .execute()
        }
        return verdict
      })
    },
    async succeeded(buckets) {
      await db.deleteFrom('signin_attempts').where('bucket', '=', buckets.address).execute()
      await db
        .updateTable('signin_attempts')
        .set({ attempts: sql<number>`case when attempts > 0 then attempts - 1 else 0 end` })
        .where('bucket', '=', buckets.email)
        .execute()
    },
    async deleteStale(before, limit) {
      return deleteSome(db, 'signin_attempts', 'bucket', (eb) => eb('window_start', '<', before), limit)
    },
  }
}

export function sessions(database: Database): SessionStore {
  const { db } = database
  return {
    async validAfter(userId) {
      const row = await db
        .selectFrom('session_epochs')
        .select('valid_after')
        .where('user_id', '=', userId)
        .executeTakeFirst()
      return row?.valid_after ?? 0
    },
    async endAll(userId, nowMs) {
      // Never moves back: the later of the stored time and this one.
      await onConflictUpdate(
        database,
        db.insertInto('session_epochs').values({ user_id: userId, valid_after: nowMs }),
        ['user_id'],
        {
          // Qualified: in PostgreSQL's DO UPDATE a bare name could also be the excluded row's.
          valid_after: sql<number>`case when session_epochs.valid_after > ${nowMs} then session_epochs.valid_after else ${nowMs} end`,
        },
      ).execute()
    },
  }
}
