// Client authentication at /token and /revoke: none, client_secret_basic
// (RFC 6749 §2.3.1, form-urlencoded id and secret) or client_secret_post, exactly as the
// client registered. invalid_client answers 401 when the client tried to authenticate.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { safeEqual, sha256Hex } from '../crypto/compare.js'
import { OAuthError } from '../shared/errors.js'
import type { AuthMethod, Client } from '../store/types.js'

type Presented = { clientId: string; secret: string | null; method: AuthMethod }

const unauthorized = (description: string, realm = 'keygate') =>
  new OAuthError('invalid_client', description, 401, { 'www-authenticate': `Basic realm="${realm}", charset="UTF-8"` })

/** Id and secret of an `Authorization: Basic` header, each form-urlencoded (RFC 6749 §2.3.1). */
export function parseBasic(header: string, realm = 'keygate'): { id: string; secret: string } {
  const malformed = () => unauthorized('the Basic authorization header is malformed', realm)
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 1) throw malformed()
  try {
    const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '))
    return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) }
  } catch {
    throw malformed()
  }
}

function fromBasic(header: string): Presented {
  const { id, secret } = parseBasic(header)
  return { clientId: id, secret, method: 'client_secret_basic' }
}

/** The credentials a form carries (parsed by its schema in ./params.ts). */
export type BodyCredentials = { client_id?: string | undefined; client_secret?: string | undefined }

function presented(req: FastifyRequest, body: BodyCredentials): Presented {
  const header = req.headers.authorization
  const bodyId = body.client_id
  const bodySecret = body.client_secret
  if (header !== undefined && /^basic /i.test(header)) {
    // RFC 6749 §2.3: one authentication method per request.
    if (bodySecret !== undefined)
      throw new OAuthError('invalid_request', 'use one client authentication method, not both')
    const basic = fromBasic(header)
    if (bodyId !== undefined && bodyId !== basic.clientId)
      throw unauthorized('client_id does not match the Basic credentials')
    return basic
  }
  if (bodyId === undefined) throw new OAuthError('invalid_request', 'client_id is required')
  if (bodySecret !== undefined) return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' }
  return { clientId: bodyId, secret: null, method: 'none' }
}

export async function authenticateClient(
  app: FastifyInstance,
  req: FastifyRequest,
  body: BodyCredentials,
): Promise<Client> {
  const p = presented(req, body)
  const client = await app.store.clients.byId(p.clientId)
  if (!client)
    throw p.method === 'none'
      ? new OAuthError('invalid_client', 'unknown client_id')
      : unauthorized('unknown client_id')
  if (client.disabledAt !== null)
    throw new OAuthError('invalid_client', 'this client has been disabled by the operator', 401)
  if (client.tokenEndpointAuthMethod !== p.method) {
    const description = `this client must authenticate with ${client.tokenEndpointAuthMethod}`
    throw p.method === 'none' ? new OAuthError('invalid_client', description, 401) : unauthorized(description)
  }
  if (
    p.method !== 'none' &&
    (client.clientSecretHash === null || !safeEqual(sha256Hex(p.secret!), client.clientSecretHash))
  ) {
    throw unauthorized('client authentication failed')
  }
  return client
}
