// POST /token, grant_type=authorization_code (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3, RFC 7636
// §4.6, RFC 8707). Checks run in this order: client, code signature and expiry, code
// issued to this client, redirect_uri, PKCE, resource. Only then is the key row inserted,
// with grant_id = the code's jti: the UNIQUE constraint makes that insert the single-use
// check, across processes and machines. A conflict is a replay: the key minted from the
// code is revoked (RFC 6749 §4.1.2) and the answer is invalid_grant.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { audit } from '../audit.js'
import { mintKey } from '../crypto/api-key.js'
import { safeEqual } from '../crypto/compare.js'
import { OAuthError } from '../errors.js'
import { ForeignKeyError, type Client } from '../store/types.js'
import { authenticateClient } from './client-auth.js'
import { verifyCode, type CodeClaims } from './code.js'
import { limit } from '../plugins/rate-limit.js'

export const TOKEN_BODY_LIMIT = 16 * 1024
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/ // RFC 7636 §4.1

type Body = Record<string, unknown>

function param(body: Body, name: string): string | undefined {
  const value = body[name]
  if (value === undefined || value === '') return undefined
  if (typeof value !== 'string') throw new OAuthError('invalid_request', `${name} must be a single string`)
  return value
}

function checkClientBinding(code: CodeClaims, client: Client): void {
  if (code.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'authorization code was issued to another client')
}

function checkRedirectUri(code: CodeClaims, body: Body): void {
  const redirectUri = param(body, 'redirect_uri')
  if (redirectUri === undefined) throw new OAuthError('invalid_request', 'redirect_uri is required')
  if (redirectUri !== code.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request')
}

function checkPkce(code: CodeClaims, body: Body): void {
  const verifier = param(body, 'code_verifier')
  if (verifier === undefined) throw new OAuthError('invalid_grant', 'code_verifier is required')
  if (!VERIFIER.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier must be 43-128 characters of [A-Za-z0-9._~-]')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  if (!safeEqual(challenge, code.codeChallenge)) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge')
}

function checkResource(code: CodeClaims, body: Body): void {
  const resource = param(body, 'resource')
  if (resource !== undefined && resource !== code.resource) throw new OAuthError('invalid_target', `resource must be ${code.resource}`)
}

async function exchangeCode(app: FastifyInstance, req: FastifyRequest, body: Body, client: Client) {
  const raw = param(body, 'code')
  if (raw === undefined) throw new OAuthError('invalid_request', 'code is required')
  const now = app.now()
  const code = await verifyCode(app.keyrings.code, app.config.issuer, raw, now)
  checkClientBinding(code, client)
  checkRedirectUri(code, body)
  checkPkce(code, body)
  checkResource(code, body)
  const key = mintKey(app.config.keyPrefix)
  let result
  try {
    result = await app.store.keys.insert({
      accountId: code.accountId,
      userId: code.userId,
      name: `MCP — ${client.clientName}`,
      keyHash: key.hash,
      displayPrefix: key.displayPrefix,
      scopes: code.scopes,
      resource: code.resource,
      clientId: client.clientId,
      grantId: code.jti,
      createdAt: now,
      expiresAt: null,
    })
  } catch (err) {
    if (err instanceof ForeignKeyError) throw new OAuthError('invalid_grant', 'the user no longer belongs to the account of this grant')
    throw err
  }
  if (!result.ok) {
    const revoked = await app.store.keys.revokeByGrant(code.jti, now)
    await audit(app, req, {
      event: 'code_replay_detected',
      accountId: code.accountId,
      subject: client.clientId,
      detail: { revoked_key_id: revoked?.id ?? null },
    })
    throw new OAuthError('invalid_grant', 'authorization code has already been used')
  }
  return { access_token: key.raw, token_type: 'Bearer', scope: code.scopes.join(' ') }
}

export default async function tokenRoutes(app: FastifyInstance): Promise<void> {
  app.post('/token', { bodyLimit: TOKEN_BODY_LIMIT, config: limit(app, 'token') }, async (req, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    const body = req.body
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded')
    }
    const grantType = param(body as Body, 'grant_type')
    if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required')
    const client = await authenticateClient(app, req, body as Body)
    if (grantType !== 'authorization_code') throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`)
    return exchangeCode(app, req, body as Body, client)
  })
}
