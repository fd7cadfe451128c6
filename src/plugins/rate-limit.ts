// Rate limits (@fastify/rate-limit): per client IP on the OAuth and sign-in endpoints; on
// /mcp per key (the SHA-256 of the parsed token, so "bearer", "BEARER" or extra spaces get
// no fresh allowance) or, without a well-formed key, per client IP; and per client IP for
// failed bearer checks, so made-up keys cannot be tried without limit. Defaults are
// generous because hosted connectors share egress IPs. With KEYGATE_REDIS_URL the counters
// live in Redis and N instances allow each limit once; without it, each process counts for
// itself. Behind a reverse proxy, set KEYGATE_TRUST_PROXY so the client IP is the forwarded one.
import { createHash } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { presentedToken } from '../keys/bearer.js'
import { OAuthError, PageError } from '../shared/errors.js'

export type LimitKind = 'register' | 'token' | 'authorize' | 'login' | 'mcp'

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts one failed bearer check for the request's address; throws 429 past the limit. */
    countAuthFailure(req: FastifyRequest): Promise<void>
  }
}

/** The Redis key prefix: one per issuer, so keygates sharing a Redis do not share counters. */
function nameSpace(issuer: string): string {
  return `keygate:${createHash('sha256').update(issuer).digest('hex').slice(0, 12)}:rl:`
}

export async function registerRateLimit(app: FastifyInstance): Promise<void> {
  const { redisUrl, issuer, rateLimits } = app.config
  let redis: Redis | undefined
  if (redisUrl) {
    // Fail fast rather than queue requests behind a Redis that is down (the plugin's advice).
    redis = new Redis(redisUrl, { connectTimeout: 500, maxRetriesPerRequest: 1, lazyConnect: true })
    redis.on('error', (err: Error) => app.log.warn({ err }, 'redis (rate-limit counters)'))
    try {
      await redis.connect()
    } catch (err) {
      redis.disconnect()
      throw new Error(`KEYGATE_REDIS_URL: cannot connect to Redis (${(err as Error).message})`)
    }
    app.addHook('onClose', async () => {
      await redis!.quit().catch(() => redis!.disconnect())
    })
  }
  // skipOnError: a Redis outage after start lets requests through (limits fail open) rather
  // than failing every OAuth request; the error is logged by ioredis' reconnects.
  await app.register(rateLimit, {
    global: false,
    skipOnError: true,
    ...(redis ? { redis, nameSpace: nameSpace(issuer) } : {}),
  })
  const failures = app.createRateLimit({
    max: rateLimits.mcpAuthFailures,
    timeWindow: rateLimits.windowSeconds * 1000,
    keyGenerator: (req: FastifyRequest) => `authfail:${req.ip}`,
  })
  // Only failures count, and only they are refused: a valid key from a shared egress
  // address keeps working while someone behind it tries made-up ones.
  app.decorate('countAuthFailure', async (req: FastifyRequest) => {
    const result = await failures(req)
    if (result.isAllowed || !result.isExceeded) return
    const seconds = Math.max(1, result.ttlInSeconds)
    throw new OAuthError(
      'too_many_requests',
      `too many requests with invalid access tokens; try again in ${seconds} s`,
      429,
      { 'retry-after': String(seconds) },
    )
  })
}

/** The /mcp limit's key: the key's hash when the token is well-formed, else the address. */
function mcpKey(app: FastifyInstance, req: FastifyRequest): string {
  const { hash } = presentedToken(app, req)
  return hash !== null ? `key:${hash}` : `ip:${req.ip}`
}

/** The route `config` that applies one of the configured limits. */
export function limit(app: FastifyInstance, kind: LimitKind) {
  const { rateLimits } = app.config
  const page = kind === 'authorize' || kind === 'login'
  return {
    rateLimit: {
      max: rateLimits[kind],
      timeWindow: rateLimits.windowSeconds * 1000,
      keyGenerator: (req: FastifyRequest) => (kind === 'mcp' ? mcpKey(app, req) : `ip:${req.ip}`),
      errorResponseBuilder: (_req: FastifyRequest, ctx: { after: string; ttl: number }) => {
        const message = `too many requests; try again in ${Math.ceil(ctx.ttl / 1000)} s`
        if (page)
          return new PageError(
            429,
            'Too many requests',
            `Too many requests from your network. Try again in ${Math.ceil(ctx.ttl / 1000)} seconds.`,
          )
        return new OAuthError('too_many_requests', message, 429)
      },
    },
  }
}
