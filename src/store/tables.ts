// The tables as Kysely sees them (docs/storage.md says what each is for). Column names are
// the database's (snake_case); rows.ts maps them to the store's types. Times are Unix
// seconds unless named otherwise; JSON columns hold text.
import type { Generated, Selectable } from 'kysely'
import type { Account, Client, Role } from './types.js'

export interface Tables {
  users: {
    id: Generated<number>
    email: string
    name: string
    /** '' for people who sign in through the product: no password matches it. */
    password_hash: string
    created_at: number
    external_issuer: Generated<string | null>
    external_id: Generated<string | null>
    disabled_at: Generated<number | null>
    /** 1 when the email is known to be verified (migration 0008). */
    email_verified: Generated<number>
  }
  accounts: {
    id: Generated<number>
    name: string
    kind: Account['kind']
    created_at: number
    external_issuer: Generated<string | null>
    external_id: Generated<string | null>
  }
  memberships: {
    user_id: number
    account_id: number
    role: Role
    created_at: number
    /** Set when the product no longer lists the membership: not a member, its row kept for the keys' sake. */
    removed_at: Generated<number | null>
  }
  used_assertions: { issuer: string; jti: string; expires_at: number }
  oauth_clients: {
    client_id: string
    client_name: string
    redirect_uris: string
    token_endpoint_auth_method: Client['tokenEndpointAuthMethod']
    client_secret_hash: string | null
    metadata: string
    fingerprint: string | null
    source: Client['source']
    created_at: number
    disabled_at: Generated<number | null>
  }
  consents: {
    user_id: number
    client_id: string
    account_id: number
    scopes: string
    created_at: number
    updated_at: number
  }
  api_keys: {
    id: Generated<number>
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
    installation: Generated<string | null>
    created_at: number
    last_used_at: number | null
    expires_at: number | null
    revoked_at: number | null
  }
  refresh_tokens: {
    token_hash: string
    family_id: string
    key_id: number
    client_id: string
    created_at: number
    expires_at: number
    rotated_at: number | null
  }
  /** keygate's facts about a key it minted into the product's own table (KEYGATE_KEYS_TABLE). */
  key_grants: {
    key_id: string
    account_id: number
    user_id: number
    display_prefix: string
    resource: string | null
    client_id: string | null
    grant_id: string | null
    family_id: string | null
    installation: Generated<string | null>
    created_at: number
    /**
     * When keygate found the key no longer live (revoked, expired or gone from the product's
     * table), or revoked it replacing it: the grants a new grant reads skip it (migration 0007).
     */
    ended_at: Generated<number | null>
  }
  key_grant_refresh_tokens: {
    token_hash: string
    family_id: string
    key_id: string
    client_id: string
    created_at: number
    expires_at: number
    rotated_at: number | null
  }
  /** Device authorization grants (RFC 8628) until they expire. */
  device_grants: {
    id: string
    device_code_hash: string
    user_code: string
    client_id: string
    scopes: string
    resource: string
    created_at: number
    expires_at: number
    interval_seconds: number
    polled_at: number | null
    status: 'pending' | 'approved' | 'denied'
    user_id: number | null
    account_id: number | null
    granted_scopes: string | null
    consent_created_at: number | null
  }
  signing_keys: {
    kid: string
    alg: 'ES256' | 'RS256'
    public_jwk: string
    private_jwk: string
    created_at: number
    sign_from: number
    retire_at: number | null
  }
  audit_events: {
    id: Generated<number>
    created_at: number
    event: string
    account_id: number | null
    actor_user_id: number | null
    subject: string | null
    ip: string | null
    detail: string | null
  }
  signin_attempts: { bucket: string; window_start: number; attempts: number; last_at: number }
  session_epochs: { user_id: number; valid_after: number }
  notes: { id: Generated<number>; account_id: number; title: string; body: string; created_at: number }
}

export type UserRow = Selectable<Tables['users']>
export type AccountRow = Selectable<Tables['accounts']>
export type ClientRow = Selectable<Tables['oauth_clients']>
export type ConsentRow = Selectable<Tables['consents']>
export type KeyRow = Selectable<Tables['api_keys']>
export type RefreshRow = Selectable<Tables['refresh_tokens']>
export type DeviceRow = Selectable<Tables['device_grants']>
export type GrantRow = Selectable<Tables['key_grants']>
export type GrantRefreshRow = Selectable<Tables['key_grant_refresh_tokens']>
export type AuditRow = Selectable<Tables['audit_events']>
export type NoteRow = Selectable<Tables['notes']>
