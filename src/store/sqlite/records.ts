// Audit events and the demo API's notes on SQLite.

import { type AuditRow, type NoteRow, toEvent, toNote } from '../rows.js'
import { type AttemptCounter, judgeAttempt } from '../signin-rule.js'
import type { AuditListing, AuditStore, NoteStore, SessionStore, SigninStore } from '../types.js'
import type { Db } from './db.js'

export function sqliteAudit(db: Db): AuditStore {
  const insert = db.prepare<unknown[]>(
    `INSERT INTO audit_events (created_at, event, account_id, actor_user_id, subject, ip, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  )
  const count = db.prepare<[string, string, number], { n: number }>(
    'SELECT count(*) AS n FROM audit_events WHERE event = ? AND subject = ? AND created_at >= ?',
  )
  const list = db.prepare<[number, number, number], AuditRow & { actor_email: string | null }>(
    `SELECT e.*, u.email AS actor_email FROM audit_events e LEFT JOIN users u ON u.id = e.actor_user_id
     WHERE e.account_id = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?`,
  )
  return {
    async record(e) {
      insert.run(e.createdAt, e.event, e.accountId, e.actorUserId, e.subject, e.ip, JSON.stringify(e.detail))
    },
    async count(event, subject, since) {
      return count.get(event, subject, since)!.n
    },
    async list(accountId, { before, limit }) {
      return list
        .all(accountId, before ?? Number.MAX_SAFE_INTEGER, limit)
        .map((r): AuditListing => ({ ...toEvent(r), actorEmail: r.actor_email }))
    },
  }
}

export function sqliteNotes(db: Db): NoteStore {
  const list = db.prepare<[number], NoteRow>('SELECT * FROM notes WHERE account_id = ? ORDER BY id')
  const get = db.prepare<[number, number], NoteRow>('SELECT * FROM notes WHERE account_id = ? AND id = ?')
  const insert = db.prepare<[number, string, string, number], NoteRow>(
    'INSERT INTO notes (account_id, title, body, created_at) VALUES (?, ?, ?, ?) RETURNING *',
  )
  const remove = db.prepare<[number, number]>('DELETE FROM notes WHERE account_id = ? AND id = ?')
  return {
    async list(accountId) {
      return list.all(accountId).map(toNote)
    },
    async get(accountId, id) {
      const row = get.get(accountId, id)
      return row && toNote(row)
    },
    async create(n) {
      return toNote(insert.get(n.accountId, n.title, n.body, n.createdAt)!)
    },
    async remove(accountId, id) {
      return remove.run(accountId, id).changes === 1
    },
  }
}

export function sqliteSignins(db: Db): SigninStore {
  type Row = { window_start: number; attempts: number; last_at: number }
  const get = db.prepare<[string], Row>('SELECT window_start, attempts, last_at FROM signin_attempts WHERE bucket = ?')
  const put = db.prepare<[string, number, number, number]>(
    `INSERT INTO signin_attempts (bucket, window_start, attempts, last_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (bucket) DO UPDATE SET window_start = excluded.window_start, attempts = excluded.attempts, last_at = excluded.last_at`,
  )
  const clear = db.prepare<[string]>('DELETE FROM signin_attempts WHERE bucket = ?')
  const giveBack = db.prepare<[string]>('UPDATE signin_attempts SET attempts = max(attempts - 1, 0) WHERE bucket = ?')
  const deleteStale = db.prepare<[number, number]>(
    'DELETE FROM signin_attempts WHERE bucket IN (SELECT bucket FROM signin_attempts WHERE window_start < ? LIMIT ?)',
  )
  const counter = (r: Row | undefined): AttemptCounter | undefined =>
    r && { windowStart: r.window_start, attempts: r.attempts, lastAt: r.last_at }
  const attempt = db.transaction(
    (address: string, email: string, now: number, limits: Parameters<SigninStore['attempt']>[2]) => {
      const { verdict, next } = judgeAttempt(counter(get.get(address)), counter(get.get(email)), now, limits)
      if (next) {
        put.run(address, next.address.windowStart, next.address.attempts, next.address.lastAt)
        put.run(email, next.email.windowStart, next.email.attempts, next.email.lastAt)
      }
      return verdict
    },
  )
  return {
    async attempt(buckets, now, limits) {
      // IMMEDIATE: the write lock is taken before the read, so another process cannot interleave.
      return attempt.immediate(buckets.address, buckets.email, now, limits)
    },
    async succeeded(buckets) {
      clear.run(buckets.address)
      giveBack.run(buckets.email)
    },
    async deleteStale(before, limit) {
      return deleteStale.run(before, limit).changes
    },
  }
}

export function sqliteSessions(db: Db): SessionStore {
  const get = db.prepare<[number], { valid_after: number }>('SELECT valid_after FROM session_epochs WHERE user_id = ?')
  const set = db.prepare<[number, number]>(
    `INSERT INTO session_epochs (user_id, valid_after) VALUES (?, ?)
     ON CONFLICT (user_id) DO UPDATE SET valid_after = max(valid_after, excluded.valid_after)`,
  )
  return {
    async validAfter(userId) {
      return get.get(userId)?.valid_after ?? 0
    },
    async endAll(userId, nowMs) {
      set.run(userId, nowMs)
    },
  }
}
