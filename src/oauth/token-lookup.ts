// Shared by /token, /revoke and /introspect: finding the key a presented token (an access
// token or a refresh token) belongs to.
import type { FastifyInstance } from 'fastify'
import { hashKey, isWellFormedKey } from '../crypto/api-key.js'
import type { ApiKey, RefreshToken } from '../store/types.js'

/** Refresh tokens look like keys with "rt_" in place of the key prefix's "_": kg_ → kgrt_. */
export function refreshPrefix(keyPrefix: string): string {
  return `${keyPrefix.slice(0, -1)}rt_`
}

export type FoundToken =
  | { kind: 'access_token'; key: ApiKey }
  | { kind: 'refresh_token'; key: ApiKey; refresh: RefreshToken }

/**
 * The key a token belongs to, whatever its kind; undefined when unknown or malformed. The
 * two kinds have distinct prefixes, so a token_type_hint (RFC 7009 §2.1) is not needed.
 */
export async function findToken(app: FastifyInstance, token: string): Promise<FoundToken | undefined> {
  if (isWellFormedKey(token, app.config.keyPrefix)) {
    const key = await app.store.keys.byHash(hashKey(token))
    return key && { kind: 'access_token', key }
  }
  if (isWellFormedKey(token, refreshPrefix(app.config.keyPrefix))) {
    const refresh = await app.store.refresh.byHash(hashKey(token))
    const key = refresh && (await app.store.keys.byId(refresh.keyId))
    return refresh && key ? { kind: 'refresh_token', key, refresh } : undefined
  }
  return undefined
}
