// The Bearer check in front of /mcp, run on every request and never cached: the token from
// the Authorization header, well-formed (prefix and checksum, no database), its key found by
// SHA-256, not revoked, not expired, and bound to this resource or unbound (keys made by
// hand); src/keys/ does the format and the lookup. Failures answer 401 with a
// WWW-Authenticate challenge that points at the protected resource metadata (RFC 9728 §5.1).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { OAuthError } from '../shared/errors.js'
import { wellKnownFor } from '../shared/issuer-path.js'
import type { ApiKey } from '../store/types.js'
import { classify, type KeyOutcome, type PresentedToken, present } from './lookup.js'

export const LAST_USED_INTERVAL_SECONDS = 60

export function challenge(
  app: FastifyInstance,
  params: { error?: string; description?: string; scope?: string[] } = {},
): string {
  const parts: string[] = []
  if (params.error) parts.push(`error="${params.error}"`)
  if (params.description) parts.push(`error_description="${params.description}"`)
  parts.push(`scope="${(params.scope ?? app.config.scopes).join(' ')}"`)
  parts.push(`resource_metadata="${wellKnownFor(app.config.resource, 'oauth-protected-resource')}"`)
  return `Bearer ${parts.join(', ')}`
}

const DESCRIPTIONS: Record<Exclude<KeyOutcome, 'ok' | 'missing'>, string> = {
  malformed: 'the access token is malformed',
  unknown: 'the access token is not known',
  revoked: 'the access token has been revoked',
  expired: 'the access token has expired',
  wrong_audience: 'the access token is not meant for this resource',
}

/** The 401 of a refused token, with its challenge (/mcp and /userinfo). */
export function unauthorized(app: FastifyInstance, outcome: Exclude<KeyOutcome, 'ok'>): OAuthError {
  if (outcome === 'missing') {
    return new OAuthError('invalid_token', 'an access token is required', 401, { 'www-authenticate': challenge(app) })
  }
  const description = DESCRIPTIONS[outcome]
  return new OAuthError('invalid_token', description, 401, {
    'www-authenticate': challenge(app, { error: 'invalid_token', description }),
  })
}

const presented = new WeakMap<FastifyRequest, PresentedToken>()

/**
 * The request's token, parsed, checked and hashed once: the /mcp rate limit (keyed on the
 * hash) and the bearer check both read it.
 */
export function presentedToken(app: FastifyInstance, req: FastifyRequest): PresentedToken {
  let p = presented.get(req)
  if (!p) {
    p = present(app, bearerToken(req))
    presented.set(req, p)
  }
  return p
}

/**
 * The token from `Authorization: Bearer …`, never from the query string (OAuth 2.1 §5.1.1):
 * undefined without the header, '' when the header is not a Bearer credential (malformed).
 */
export function bearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization
  if (!header) return undefined
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(header)
  return m ? m[1] : ''
}

/**
 * Authenticates a /mcp request or throws the 401: the key and the token it was presented as.
 * Records last use at most once a minute.
 */
export async function authenticate(app: FastifyInstance, req: FastifyRequest): Promise<{ key: ApiKey; token: string }> {
  const p = presentedToken(app, req)
  const token = p.token
  const { outcome, key } = await classify(app, p, app.config.resource)
  app.metrics.bearerChecks.inc({ outcome })
  if (outcome !== 'ok') {
    // A presented token that fails counts against the address: made-up keys are not free.
    if (outcome !== 'missing') await app.countAuthFailure(req)
    throw unauthorized(app, outcome)
  }
  if (key!.lastUsedAt === null || key!.lastUsedAt <= app.now() - LAST_USED_INTERVAL_SECONDS) {
    await app.store.keys.touch(key!.id, app.now(), LAST_USED_INTERVAL_SECONDS)
  }
  return { key: key!, token: token! }
}
