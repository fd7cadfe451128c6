// Keys made by hand (dashboard, CLI): one place that mints, stores and audits them, and
// one that revokes them. The token is returned once, to be shown once; only its hash is kept.

import type { ApiKey, Store } from '../store/types.js'
import { mintToken } from './format.js'

export type ManualKeyInput = {
  accountId: number
  userId: number
  name: string
  scopes: string[]
  expiresAt: number | null
  now: number
  ip: string | null
  via: 'dashboard' | 'cli'
}

/** Creates a manual key (no OAuth client, no audience); returns its token, shown once, and the key. */
export async function createManualKey(
  store: Store,
  prefix: string,
  input: ManualKeyInput,
): Promise<{ token: string; key: ApiKey }> {
  const minted = mintToken(prefix)
  const result = await store.keys.insert({
    accountId: input.accountId,
    userId: input.userId,
    name: input.name,
    keyHash: store.keys.hash(minted.token),
    displayPrefix: minted.displayPrefix,
    scopes: input.scopes,
    resource: null,
    clientId: null,
    grantId: null,
    familyId: null,
    createdAt: input.now,
    expiresAt: input.expiresAt,
  })
  if (!result.ok) throw new Error('the key could not be stored')
  await store.audit.record({
    createdAt: input.now,
    event: 'key_created',
    accountId: input.accountId,
    actorUserId: input.userId,
    subject: String(result.key.id),
    ip: input.ip,
    detail: { name: input.name, scopes: input.scopes, via: input.via },
  })
  return { token: minted.token, key: result.key }
}

/** Revokes a key (for an OAuth key, its whole connection: the dashboard shows one row per connection) and audits it; false when already revoked. */
export async function revokeKey(
  store: Store,
  key: ApiKey,
  actor: { userId: number | null; ip: string | null; via: 'dashboard' | 'cli' },
  now: number,
): Promise<boolean> {
  if ((await store.keys.revokeConnection(key, now)) === 0) return false
  await store.audit.record({
    createdAt: now,
    event: 'key_revoked',
    accountId: key.accountId,
    actorUserId: actor.userId,
    subject: String(key.id),
    ip: actor.ip,
    detail: { name: key.name, via: actor.via },
  })
  return true
}

export function keyStatus(key: ApiKey, now: number): 'active' | 'revoked' | 'expired' {
  if (key.revokedAt !== null) return 'revoked'
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired'
  return 'active'
}
