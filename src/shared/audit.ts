// Writes audit events. Audit must never break the request that triggered it, but a lost
// event is logged as an error.
import type { FastifyInstance, FastifyRequest } from 'fastify'

export type AuditInput = {
  event:
    | 'key_created'
    | 'key_revoked'
    | 'consent_granted'
    | 'consent_denied'
    | 'consent_revoked'
    | 'app_disconnected'
    | 'code_replay_detected'
    | 'refresh_reuse_detected'
    | 'signin_failed'
    | 'membership_removed'
    | 'membership_role_changed'
    | 'member_added'
  accountId?: number | null
  actorUserId?: number | null
  subject?: string | null
  detail?: Record<string, unknown>
}

export async function audit(app: FastifyInstance, req: FastifyRequest | null, input: AuditInput): Promise<void> {
  try {
    await app.store.audit.record({
      createdAt: app.now(),
      event: input.event,
      accountId: input.accountId ?? null,
      actorUserId: input.actorUserId ?? null,
      subject: input.subject ?? null,
      ip: req?.ip ?? null,
      detail: input.detail ?? {},
    })
  } catch (err) {
    ;(req?.log ?? app.log).error({ err, event: input.event }, 'audit event could not be written')
  }
}
