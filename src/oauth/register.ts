// RFC 7591 dynamic client registration. JSON in, 201 JSON out echoing the accepted
// metadata (client-metadata.ts); never a JSON null (ChatGPT rejects client_secret: null).
// Unknown fields are accepted and ignored; display-only fields that are not https are dropped. A secret is issued only to clients that ask for
// client_secret_basic or client_secret_post; it is stored as SHA-256 only. Identical public
// registrations share one row (Claude may register twice per connection attempt).
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { sha256Hex } from '../crypto/compare.js'
import { limit } from '../plugins/rate-limit.js'
import { OAuthError } from '../shared/errors.js'
import type { AuthMethod } from '../store/types.js'
import { firstProblem, grantsOf, registrationSchema, wireMetadata } from './client-metadata.js'

export const REGISTRATION_BODY_LIMIT = 16 * 1024

/** Validates the body and returns the accepted metadata in wire (snake_case) form. */
export function acceptMetadata(body: unknown): Record<string, unknown> {
  const parsed = registrationSchema.safeParse(body)
  if (!parsed.success) {
    const { code, message } = firstProblem(parsed.error)
    throw new OAuthError(code, message)
  }
  return wireMetadata(parsed.data)
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** Open registration's allow-list of redirect hosts (KEYGATE_REGISTRATION_REDIRECT_HOSTS); loopback always passes. */
export function checkRedirectHosts(allowed: string[], uris: string[]): void {
  if (allowed.length === 0) return
  for (const uri of uris) {
    const host = new URL(uri).host.toLowerCase()
    if (LOOPBACK.has(new URL(uri).hostname.toLowerCase())) continue
    const ok = allowed.some((a) =>
      a.startsWith('*.') ? host.endsWith(a.slice(1)) && host.length > a.length - 1 : host === a,
    )
    if (!ok)
      throw new OAuthError(
        'invalid_redirect_uri',
        `redirect_uri ${uri.slice(0, 200)}: its host is not one this server registers clients for`,
      )
  }
}

/** A display name when the client gave none: the host of its first redirect URI. */
export function fallbackName(redirectUris: string[]): string {
  if (redirectUris.length === 0) return 'a device'
  const url = new URL(redirectUris[0]!)
  return url.host || url.protocol.replace(/:$/, '')
}

export default async function registerRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/register',
    { bodyLimit: REGISTRATION_BODY_LIMIT, config: { kind: 'oauth', ...limit(app, 'register') } },
    async (req, reply) => {
      if (!app.config.registrationOpen)
        throw new OAuthError(
          'access_denied',
          'open registration is switched off on this server; ask its operator for a client',
          403,
        )
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
        throw new OAuthError('invalid_client_metadata', 'the request body must be application/json')
      const metadata = acceptMetadata(req.body)
      checkRedirectHosts(app.config.registrationRedirectHosts, (metadata.redirect_uris as string[] | undefined) ?? [])
      const method = metadata.token_endpoint_auth_method as AuthMethod
      const secret = method === 'none' ? null : randomBytes(32).toString('base64url')
      // A client of the device grant alone redirects nowhere.
      const redirectUris = (metadata.redirect_uris as string[] | undefined) ?? []
      const client = await app.store.clients.register(
        {
          clientId: randomBytes(16).toString('base64url'),
          clientName: (metadata.client_name as string | undefined) ?? fallbackName(redirectUris),
          redirectUris,
          tokenEndpointAuthMethod: method,
          clientSecretHash: secret === null ? null : sha256Hex(secret),
          metadata,
          source: 'dcr',
          fingerprint: secret === null ? sha256Hex(JSON.stringify(metadata)) : null,
        },
        app.now(),
      )
      if (client.disabledAt !== null)
        throw new OAuthError(
          'invalid_client_metadata',
          'a client registered with this metadata was disabled by the operator',
        )
      reply.code(201).header('cache-control', 'no-store')
      return {
        client_id: client.clientId,
        client_id_issued_at: client.createdAt,
        ...(secret !== null ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
        ...client.metadata,
        // Which grants it got: the registered ones, or the defaults for this configuration.
        grant_types: grantsOf(client.metadata, app.config.accessTtl !== undefined),
      }
    },
  )
}
