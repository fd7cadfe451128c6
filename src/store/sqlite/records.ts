// Audit events and the demo API's notes on SQLite.
import type { AuditListing, AuditStore, NoteStore } from '../types.js'
import { toEvent, toNote, type AuditRow, type NoteRow } from '../rows.js'
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
      return list.all(accountId, before ?? Number.MAX_SAFE_INTEGER, limit).map((r): AuditListing => ({ ...toEvent(r), actorEmail: r.actor_email }))
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
