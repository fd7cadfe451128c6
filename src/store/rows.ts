// Row shapes (snake_case, as both databases return them) and their mappers to the store types.
import type { Account, ApiKey, AuditEvent, Client, Consent, Note, RefreshToken, User } from './types.js'

export const splitScopes = (s: string): string[] => (s === '' ? [] : s.split(' '))

export type UserRow = { id: number; email: string; name: string; password_hash: string; created_at: number }
export type AccountRow = { id: number; name: string; kind: Account['kind']; created_at: number }

export const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
})
export const toAccount = (r: AccountRow): Account => ({ id: r.id, name: r.name, kind: r.kind, createdAt: r.created_at })

export type ClientRow = {
  client_id: string
  client_name: string
  redirect_uris: string
  token_endpoint_auth_method: Client['tokenEndpointAuthMethod']
  client_secret_hash: string | null
  metadata: string
  source: Client['source']
  created_at: number
}

export const toClient = (r: ClientRow): Client => ({
  clientId: r.client_id,
  clientName: r.client_name,
  redirectUris: JSON.parse(r.redirect_uris) as string[],
  tokenEndpointAuthMethod: r.token_endpoint_auth_method,
  clientSecretHash: r.client_secret_hash,
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  source: r.source,
  createdAt: r.created_at,
})

export type ConsentRow = {
  user_id: number
  client_id: string
  account_id: number
  scopes: string
  created_at: number
  updated_at: number
}

export const toConsent = (r: ConsentRow): Consent => ({
  userId: r.user_id,
  clientId: r.client_id,
  accountId: r.account_id,
  scopes: splitScopes(r.scopes),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export type KeyRow = {
  id: number
  account_id: number
  user_id: number
  name: string
  key_hash: string
  display_prefix: string
  scopes: string
  resource: string | null
  client_id: string | null
  grant_id: string | null
  family_id: string | null
  created_at: number
  last_used_at: number | null
  expires_at: number | null
  revoked_at: number | null
}

export const toKey = (r: KeyRow): ApiKey => ({
  id: r.id,
  accountId: r.account_id,
  userId: r.user_id,
  name: r.name,
  keyHash: r.key_hash,
  displayPrefix: r.display_prefix,
  scopes: splitScopes(r.scopes),
  resource: r.resource,
  clientId: r.client_id,
  grantId: r.grant_id,
  familyId: r.family_id,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
})

export type RefreshRow = {
  token_hash: string
  family_id: string
  key_id: number
  client_id: string
  created_at: number
  expires_at: number
  rotated_at: number | null
}

export const toRefresh = (r: RefreshRow): RefreshToken => ({
  tokenHash: r.token_hash,
  familyId: r.family_id,
  keyId: r.key_id,
  clientId: r.client_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  rotatedAt: r.rotated_at,
})

export type AuditRow = {
  id: number
  created_at: number
  event: string
  account_id: number | null
  actor_user_id: number | null
  subject: string | null
  ip: string | null
  detail: string | null
}

export const toEvent = (r: AuditRow): AuditEvent => ({
  id: r.id,
  createdAt: r.created_at,
  event: r.event,
  accountId: r.account_id,
  actorUserId: r.actor_user_id,
  subject: r.subject,
  ip: r.ip,
  detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : {},
})

export type NoteRow = { id: number; account_id: number; title: string; body: string; created_at: number }
export const toNote = (r: NoteRow): Note => ({
  id: r.id,
  accountId: r.account_id,
  title: r.title,
  body: r.body,
  createdAt: r.created_at,
})
