// The audit log read as sentences: who did what to which key, person or app, with the
// app's name rather than its client id. The stored event is unchanged (docs/dashboard.md).
import type { FastifyInstance } from 'fastify'
import { cleanName } from '../shared/text.js'
import type { AuditEvent } from '../store/types.js'

type Shown = AuditEvent & { actorEmail?: string | null }

const CLIENT_SUBJECT = new Set([
  'consent_granted',
  'consent_denied',
  'consent_revoked',
  'app_disconnected',
  'code_replay_detected',
  'refresh_reuse_detected',
])

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)
const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`
const scopes = (v: unknown) => (Array.isArray(v) && v.length ? ` (${v.join(' ')})` : '')

function actorOf(e: Shown): string {
  if (e.actorEmail) return e.actorEmail
  const via = str(e.detail.via)
  if (via === 'cli') return 'The operator (command line)'
  if (via === 'handoff' || via === 'oidc' || via === 'provisioning') return 'The product'
  return 'Someone'
}

/** One event as a sentence; `app` is the name of the client the event is about, if any. */
export function sentence(e: Shown, app: string): string {
  const d = e.detail
  const who = actorOf(e)
  const keys = num(d.revoked_keys) ?? num(d.keys)
  const revoked = keys ? `; ${plural(keys, 'key')} revoked` : ''
  const subject = e.subject ?? 'someone'
  switch (e.event) {
    case 'key_created':
      return `${who} created the key “${str(d.name) ?? subject}”${scopes(d.scopes)}`
    case 'key_revoked':
      if (d.via === 'revocation_endpoint') return `${app} gave up its key${revoked}`
      return `${who} revoked the key “${str(d.name) ?? subject}”`
    case 'consent_granted':
      return `${who} connected ${app}${scopes(d.scopes)}${d.via === 'device' ? ' from a device' : ''}`
    case 'consent_denied':
      return `${who} refused to connect ${app}`
    case 'consent_revoked':
      return d.via === 'revocation_endpoint' ? `${app} gave up its access` : `${who} withdrew the access of ${app}`
    case 'app_disconnected':
      return `${who} disconnected ${app}${revoked}`
    case 'code_replay_detected':
      return `An authorization code of ${app} was used twice: the key it gave was revoked`
    case 'refresh_reuse_detected':
      return `A refresh token of ${app} was used again after it was replaced: the connection was revoked${revoked}`
    case 'signin_failed':
      return `A sign-in${e.subject ? ` as ${e.subject}` : ''} failed${str(d.reason) ? ` (${String(d.reason).replaceAll('_', ' ')})` : ''}`
    case 'member_added':
      return `${who} added ${subject} as ${str(d.role) ?? 'member'}`
    case 'membership_removed':
      return `${who} removed ${subject}${str(d.role) ? ` (was ${d.role})` : ''}${revoked}`
    case 'membership_role_changed':
      return `${who} made ${subject} ${str(d.role) ?? 'another role'}${str(d.previous_role) ? ` (was ${d.previous_role})` : ''}${revoked}`
    default:
      return `${who}: ${e.event.replaceAll('_', ' ')}${e.subject ? ` (${e.subject})` : ''}`
  }
}

/** The events of a page as sentences, with each app named as it registered itself. */
export async function sentences(app: FastifyInstance, events: Shown[]): Promise<string[]> {
  const ids = new Set<string>()
  for (const e of events) {
    if (CLIENT_SUBJECT.has(e.event) && e.subject) ids.add(e.subject)
    const id = str(e.detail.client_id)
    if (id) ids.add(id)
  }
  const names = new Map<string, string>()
  for (const id of ids) {
    const client = await app.store.clients.byId(id)
    if (client) names.set(id, `“${cleanName(client.clientName)}”`)
  }
  return events.map((e) => {
    const stored = str(e.detail.client_name)
    const id = str(e.detail.client_id) ?? (CLIENT_SUBJECT.has(e.event) ? e.subject : null)
    const app = (id && names.get(id)) ?? (stored ? `“${cleanName(stored)}”` : 'an app that is no longer registered')
    return sentence(e, app)
  })
}
