// RFC 7591 dynamic client registration. JSON in, 201 JSON out echoing the accepted
// metadata; never a JSON null (ChatGPT rejects client_secret: null). Unknown fields are
// accepted and ignored. A secret is issued only to clients that ask for
// client_secret_basic or client_secret_post; it is stored as SHA-256 only. Identical public
// registrations share one row (Claude may register twice per connection attempt).
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { sha256Hex } from '../crypto/compare.js'
import { OAuthError } from '../errors.js'
import type { AuthMethod } from '../store/types.js'
import { checkRedirectUriForRegistration } from './redirect-uri.js'
import { limit } from '../plugins/rate-limit.js'

export const REGISTRATION_BODY_LIMIT = 16 * 1024
const MAX_REDIRECT_URIS = 10
const MAX_TEXT = 200
const MAX_URL = 2000
const AUTH_METHODS: readonly AuthMethod[] = ['none', 'client_secret_basic', 'client_secret_post']
const GRANT_TYPES = ['authorization_code', 'refresh_token']

type Body = Record<string, unknown>

function bad(description: string): never {
  throw new OAuthError('invalid_client_metadata', description)
}

/** A field's value, with JSON null treated as absent (some clients send nulls). */
function get(body: Body, name: string): unknown {
  const value = body[name]
  return value === null ? undefined : value
}

function text(body: Body, name: string, max = MAX_TEXT): string | undefined {
  const value = get(body, name)
  if (value === undefined) return undefined
  if (typeof value !== 'string') bad(`${name} must be a string`)
  if (value.length > max) bad(`${name} must be at most ${max} characters`)
  return value
}

function webUrl(body: Body, name: string): string | undefined {
  const value = text(body, name, MAX_URL)
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    bad(`${name} must be an absolute https URL`)
  }
  if (url.protocol !== 'https:' || url.username || url.password) bad(`${name} must be an absolute https URL`)
  return value
}

function stringArray(body: Body, name: string, max: number): string[] | undefined {
  const value = get(body, name)
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) bad(`${name} must be an array of strings`)
  if (value.length > max) bad(`${name} may hold at most ${max} entries`)
  return value as string[]
}

function checkRedirectUris(body: Body): string[] {
  const value = get(body, 'redirect_uris')
  if (value === undefined) throw new OAuthError('invalid_redirect_uri', 'redirect_uris is required')
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string')) {
    throw new OAuthError('invalid_redirect_uri', 'redirect_uris must be a non-empty array of strings')
  }
  if (value.length > MAX_REDIRECT_URIS) throw new OAuthError('invalid_redirect_uri', `redirect_uris may hold at most ${MAX_REDIRECT_URIS} entries`)
  for (const uri of value as string[]) checkRedirectUriForRegistration(uri)
  return [...new Set(value as string[])]
}

function checkAuthMethod(body: Body): AuthMethod {
  // RFC 7591 defaults to client_secret_basic, but MCP clients that omit the field are
  // public clients and would not expect a secret: default to "none".
  const method = text(body, 'token_endpoint_auth_method') ?? 'none'
  if (!AUTH_METHODS.includes(method as AuthMethod)) bad(`token_endpoint_auth_method must be one of: ${AUTH_METHODS.join(', ')}`)
  return method as AuthMethod
}

function checkGrantTypes(body: Body): string[] {
  const grants = stringArray(body, 'grant_types', 5) ?? ['authorization_code']
  const unknown = grants.find((g) => !GRANT_TYPES.includes(g))
  if (unknown) bad(`grant_type ${unknown} is not supported (supported: ${GRANT_TYPES.join(', ')})`)
  if (!grants.includes('authorization_code')) bad('grant_types must include authorization_code')
  return [...new Set(grants)]
}

function checkResponseTypes(body: Body): string[] {
  const types = stringArray(body, 'response_types', 5) ?? ['code']
  if (types.some((t) => t !== 'code')) bad('response_types may only contain "code"')
  return ['code']
}

function checkApplicationType(body: Body): string | undefined {
  const value = text(body, 'application_type')
  if (value !== undefined && value !== 'web' && value !== 'native') bad('application_type must be "web" or "native"')
  return value
}

/** Validates the body and returns the accepted metadata in wire (snake_case) form. */
export function acceptMetadata(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('the request body must be a JSON object')
  const b = body as Body
  const metadata: Record<string, unknown> = {
    redirect_uris: checkRedirectUris(b),
    token_endpoint_auth_method: checkAuthMethod(b),
    grant_types: checkGrantTypes(b),
    response_types: checkResponseTypes(b),
    client_name: text(b, 'client_name'),
    client_uri: webUrl(b, 'client_uri'),
    logo_uri: webUrl(b, 'logo_uri'),
    tos_uri: webUrl(b, 'tos_uri'),
    policy_uri: webUrl(b, 'policy_uri'),
    scope: text(b, 'scope', 1000),
    contacts: stringArray(b, 'contacts', 10)?.map((c) => (c.length > MAX_TEXT ? bad('contacts entries must be at most 200 characters') : c)),
    software_id: text(b, 'software_id'),
    software_version: text(b, 'software_version'),
    application_type: checkApplicationType(b),
  }
  for (const k of Object.keys(metadata)) if (metadata[k] === undefined) delete metadata[k]
  return metadata
}

/** A display name when the client gave none: the host of its first redirect URI. */
export function fallbackName(redirectUris: string[]): string {
  const url = new URL(redirectUris[0]!)
  return url.host || url.protocol.replace(/:$/, '')
}

export default async function registerRoutes(app: FastifyInstance): Promise<void> {
  app.post('/register', { bodyLimit: REGISTRATION_BODY_LIMIT, config: limit(app, 'register') }, async (req, reply) => {
    if (!app.config.registrationOpen) throw new OAuthError('access_denied', 'open registration is switched off on this server; ask its operator for a client', 403)
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new OAuthError('invalid_client_metadata', 'the request body must be application/json')
    const metadata = acceptMetadata(req.body)
    const method = metadata.token_endpoint_auth_method as AuthMethod
    const secret = method === 'none' ? null : randomBytes(32).toString('base64url')
    const redirectUris = metadata.redirect_uris as string[]
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
    reply.code(201).header('cache-control', 'no-store')
    return {
      client_id: client.clientId,
      client_id_issued_at: client.createdAt,
      ...(secret !== null ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
      ...client.metadata,
    }
  })
}
