// Rate limits (@fastify/rate-limit): per client IP on the OAuth and sign-in endpoints, per
// key on /mcp. Defaults are generous because hosted connectors share egress IPs. Counters
// live in each process's memory, so N instances allow N times the limit. Behind a reverse
// proxy, set KEYGATE_TRUST_PROXY so the client IP is the forwarded one.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { sha256Hex } from '../crypto/compare.js'
import { OAuthError, PageError } from '../errors.js'

export type LimitKind = 'register' | 'token' | 'authorize' | 'login' | 'mcp'

export async function registerRateLimit(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, { global: false })
}

/** The route `config` that applies one of the configured limits. */
export function limit(app: FastifyInstance, kind: LimitKind) {
  const { rateLimits } = app.config
  const page = kind === 'authorize' || kind === 'login'
  return {
    rateLimit: {
      max: rateLimits[kind],
      timeWindow: rateLimits.windowSeconds * 1000,
      keyGenerator: (req: FastifyRequest) =>
        kind === 'mcp' && req.headers.authorization ? `key:${sha256Hex(req.headers.authorization)}` : `ip:${req.ip}`,
      errorResponseBuilder: (_req: FastifyRequest, ctx: { after: string; ttl: number }) => {
        const message = `too many requests; try again in ${Math.ceil(ctx.ttl / 1000)} s`
        if (page) return new PageError(429, 'Too many requests', `Too many requests from your network. Try again in ${Math.ceil(ctx.ttl / 1000)} seconds.`)
        return new OAuthError('too_many_requests', message, 429)
      },
    },
  }
}
