// The mappers from rows (snake_case, tables.ts) to the store's types.
import type {
  AccountRow,
  AuditRow,
  ClientRow,
  ConsentRow,
  GrantRefreshRow,
  KeyRow,
  NoteRow,
  RefreshRow,
  UserRow,
} from './tables.js'
import type { Account, ApiKey, AuditEvent, Client, Consent, Note, RefreshToken, User } from './types.js'

export const splitScopes = (s: string): string[] => (s === '' ? [] : s.split(' '))

export const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  disabledAt: r.disabled_at === null || r.disabled_at === undefined ? null : Number(r.disabled_at),
  emailVerified: Number(r.email_verified) === 1,
})
export const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  createdAt: r.created_at,
  externalId: r.external_id ?? null,
})

export const toClient = (r: ClientRow): Client => ({
  clientId: r.client_id,
  clientName: r.client_name,
  redirectUris: JSON.parse(r.redirect_uris) as string[],
  tokenEndpointAuthMethod: r.token_endpoint_auth_method,
  clientSecretHash: r.client_secret_hash,
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  source: r.source,
  createdAt: r.created_at,
  disabledAt: r.disabled_at === null || r.disabled_at === undefined ? null : Number(r.disabled_at),
})

export const toConsent = (r: ConsentRow): Consent => ({
  userId: r.user_id,
  clientId: r.client_id,
  accountId: r.account_id,
  scopes: splitScopes(r.scopes),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export const toKey = (r: KeyRow): ApiKey => ({
  id: String(r.id),
  accountId: r.account_id,
  userId: r.user_id,
  name: r.name,
  displayPrefix: r.display_prefix,
  scopes: splitScopes(r.scopes),
  resource: r.resource,
  clientId: r.client_id,
  grantId: r.grant_id,
  familyId: r.family_id,
  installation: r.installation ?? null,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  origin: 'keygate',
})

export const toRefresh = (r: RefreshRow | GrantRefreshRow): RefreshToken => ({
  tokenHash: r.token_hash,
  familyId: r.family_id,
  keyId: String(r.key_id),
  clientId: r.client_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  rotatedAt: r.rotated_at,
})

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

export const toNote = (r: NoteRow): Note => ({
  id: r.id,
  accountId: r.account_id,
  title: r.title,
  body: r.body,
  createdAt: r.created_at,
})
