// Finding the key a token belongs to: by its hash, after the format check, and never
// cached. classify() says why a token is refused (the Bearer check's 401 description);
// findToken() finds an access token's key or a refresh token's row and key (/token,
// /revoke, /introspect).
import type { FastifyInstance } from 'fastify'
import type { ApiKey, RefreshToken } from '../store/types.js'
import { hashToken, isWellFormedToken, refreshPrefix } from './format.js'

export type KeyOutcome = 'ok' | 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired' | 'wrong_audience'

/** A presented token, and its hash when it is well-formed (null otherwise). */
export type PresentedToken = { token: string | undefined; hash: string | null }

/** The longest token hashed when any format is accepted (KEYGATE_KEY_FORMAT=any). */
const MAX_FOREIGN_TOKEN = 512

/**
 * True when a token is looked up: keygate's checked format (prefix, length, checksum), or
 * with KEYGATE_KEY_FORMAT=any also the product's own keys, whatever their form.
 */
function lookedUp(app: FastifyInstance, token: string): boolean {
  if (isWellFormedToken(token, app.config.keyPrefix)) return true
  return (
    app.config.keys.format === 'any' &&
    token.length > 0 &&
    token.length <= MAX_FOREIGN_TOKEN &&
    !isWellFormedToken(token, refreshPrefix(app.config.keyPrefix))
  )
}

export function present(app: FastifyInstance, token: string | undefined): PresentedToken {
  return { token, hash: token !== undefined && lookedUp(app, token) ? app.store.keys.hash(token) : null }
}

/** The key of a presented token, or why there is none usable for `audience` (null: any). */
export async function classify(
  app: FastifyInstance,
  { token, hash }: PresentedToken,
  audience: string | null,
): Promise<{ outcome: KeyOutcome; key?: ApiKey }> {
  if (token === undefined) return { outcome: 'missing' }
  if (hash === null) return { outcome: 'malformed' }
  const key = await app.store.keys.byHash(hash)
  if (!key) return { outcome: 'unknown' }
  if (key.revokedAt !== null) return { outcome: 'revoked' }
  if (key.expiresAt !== null && key.expiresAt <= app.now()) return { outcome: 'expired' }
  if (audience !== null && key.resource !== null && key.resource !== audience) return { outcome: 'wrong_audience' }
  return { outcome: 'ok', key }
}

/** Classifies a token; for the demo API and the in-process benchmark. */
export async function lookUpKey(
  app: FastifyInstance,
  token: string | undefined,
  audience: string | null,
): Promise<{ outcome: KeyOutcome; key?: ApiKey }> {
  return classify(app, present(app, token), audience)
}

export type FoundToken =
  | { kind: 'access_token'; key: ApiKey }
  | { kind: 'refresh_token'; key: ApiKey; refresh: RefreshToken }

/**
 * The key a token belongs to, whatever its kind; undefined when unknown or malformed. The
 * two kinds have distinct prefixes, so a token_type_hint (RFC 7009 §2.1) is not needed.
 */
export async function findToken(app: FastifyInstance, token: string): Promise<FoundToken | undefined> {
  if (isWellFormedToken(token, refreshPrefix(app.config.keyPrefix))) {
    const refresh = await app.store.refresh.byHash(hashToken(token))
    const key = refresh && (await app.store.keys.byId(refresh.keyId))
    return refresh && key ? { kind: 'refresh_token', key, refresh } : undefined
  }
  if (lookedUp(app, token)) {
    const key = await app.store.keys.byHash(app.store.keys.hash(token))
    return key && { kind: 'access_token', key }
  }
  return undefined
}
