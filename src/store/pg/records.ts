// The audit log, the demo API's notes, the sign-in throttle and session epochs on PostgreSQL.
import type pg from 'pg'
import { type AuditRow, type NoteRow, toEvent, toNote } from '../rows.js'
import { type AttemptCounter, judgeAttempt } from '../signin-rule.js'
import type { AuditStore, NoteStore, SessionStore, SigninStore } from '../types.js'
import { all, one, transaction } from './db.js'

export function pgAudit(pool: pg.Pool): AuditStore {
  return {
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
  }
}

export function pgNotes(pool: pg.Pool): NoteStore {
  return {
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
  }
}

export function pgSignins(pool: pg.Pool): SigninStore {
  return {
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
  }
}

export function pgSessions(pool: pg.Pool): SessionStore {
  return {
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
  }
}
