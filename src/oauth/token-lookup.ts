// Shared by /token, /revoke and /introspect: form parameters, and finding the key a
// presented token (an access token or a refresh token) belongs to.
import { fieldsOf } from '../request-fields.js'
import type { FastifyInstance } from 'fastify'
import { hashKey, isWellFormedKey } from '../crypto/api-key.js'
import { OAuthError } from '../errors.js'
import type { ApiKey, RefreshToken } from '../store/types.js'

export type Body = Record<string, unknown>

export function formBody(body: unknown): Body {
  const fields = fieldsOf(body)
  if (!fields) throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded')
  return fields
}

export function param(body: Body, name: string): string | undefined {
  const value = body[name]
  if (value === undefined || value === '') return undefined
  if (typeof value !== 'string') throw new OAuthError('invalid_request', `${name} must be a single string`)
  return value
}

/** Refresh tokens look like keys with "rt_" in place of the key prefix's "_": kg_ → kgrt_. */
export function refreshPrefix(keyPrefix: string): string {
  return `${keyPrefix.slice(0, -1)}rt_`
}

export type FoundToken = { kind: 'access_token'; key: ApiKey } | { kind: 'refresh_token'; key: ApiKey; refresh: RefreshToken }

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
