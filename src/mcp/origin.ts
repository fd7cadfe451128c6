// DNS-rebinding protection for /mcp (MCP transports, "Security Warning"): the Host must be
// ours, and a browser Origin, when sent, must be ours or explicitly allowed. Behind a
// reverse proxy, list the public host in KEYGATE_ALLOWED_HOSTS (or set KEYGATE_TRUST_PROXY
// so X-Forwarded-Host is used).
import type { FastifyRequest } from 'fastify'
import type { Config } from '../config/index.js'

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

export type OriginPolicy = { check(req: FastifyRequest): string | null }

export function originPolicy(config: Config): OriginPolicy {
  const issuer = new URL(config.issuer)
  const loopbackIssuer = LOOPBACK.has(issuer.hostname)
  const hosts = new Set([issuer.host, ...config.allowedHosts])
  if (loopbackIssuer) for (const h of LOOPBACK) hosts.add(issuer.port ? `${h}:${issuer.port}` : h)
  const origins = new Set([issuer.origin, ...config.allowedOrigins])
  const anyOrigin = origins.has('*')

  function originAllowed(origin: string): boolean {
    if (anyOrigin || origins.has(origin)) return true
    if (!loopbackIssuer) return false
    try {
      // A keygate on localhost (development) accepts local tools such as MCP Inspector.
      return LOOPBACK.has(new URL(origin).hostname)
    } catch {
      return false
    }
  }

  return {
    check(req) {
      const host = (req.host ?? '').toLowerCase()
      if (!hosts.has(host)) return `Host ${JSON.stringify(host.slice(0, 100))} is not allowed`
      const origin = req.headers.origin
      if (origin !== undefined && !originAllowed(origin))
        return `Origin ${JSON.stringify(origin.slice(0, 100))} is not allowed`
      return null
    },
  }
}
