// The audit log: what happened, to what, by whom, from where.
import type { Database } from './database.js'
import { toEvent } from './rows.js'
import type { AuditListing, AuditStore } from './types.js'

export function audit(database: Database): AuditStore {
  const { db } = database
  return {
    async record(e) {
      await db
        .insertInto('audit_events')
        .values({
          created_at: e.createdAt,
          event: e.event,
          account_id: e.accountId,
          actor_user_id: e.actorUserId,
          subject: e.subject,
          ip: e.ip,
          detail: JSON.stringify(e.detail),
        })
        .execute()
    },
    async count(event, subject, since) {
      const row = await db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('event', '=', event)
        .where('subject', '=', subject)
        .where('created_at', '>=', since)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },
    async list(accountId, { before, limit }) {
      const rows = await db
        .selectFrom('audit_events as e')
        .leftJoin('users as u', 'u.id', 'e.actor_user_id')
        .selectAll('e')
        .select('u.email as actor_email')
        .where('e.account_id', '=', accountId)
        .where('e.id', '<', before ?? Number.MAX_SAFE_INTEGER)
        .orderBy('e.id', 'desc')
        .limit(limit)
        .execute()
      return rows.map((r): AuditListing => ({ ...toEvent(r), actorEmail: r.actor_email }))
    },
  }
}
