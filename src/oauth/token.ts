// POST /token (RFC 6749 §4.1.3 and §6, OAuth 2.1 §4.1.3 and §4.3, RFC 7636 §4.6, RFC 8707).
//
// authorization_code: checks run in this order: client, code signature and expiry, code
// issued to this client, redirect_uri, PKCE, resource. Only then is the key row inserted,
// in a transaction that first requires the consent the code was issued under to stand,
// with grant_id = the code's jti: the UNIQUE constraint makes that insert the single-use
// check, across processes and machines. A conflict is a replay: the keys minted from the
// code are revoked (RFC 6749 §4.1.2) and the answer is invalid_grant.
//
// refresh_token (only with KEYGATE_ACCESS_TTL): rotation. The first use of a refresh token
// marks it rotated; later uses within the grace window also get a fresh pair (clients
// refresh concurrently); a use after the window is a replay and revokes the connection.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { safeEqual } from '../crypto/compare.js'
import { mintToken, refreshPrefix } from '../keys/format.js'
import { findToken } from '../keys/lookup.js'
import { limit } from '../plugins/rate-limit.js'
import { audit } from '../shared/audit.js'
import { OAuthError } from '../shared/errors.js'
import {
  type ApiKey,
  type Client,
  type ConsentCondition,
  ForeignKeyError,
  type InsertKeyResult,
  ProductTableRefused,
} from '../store/types.js'
import { authenticateClient } from './client-auth.js'
import { DEVICE_GRANT, grantsOf } from './client-metadata.js'
import { type CodeClaims, verifyCode } from './code.js'
import { deviceGrant } from './device.js'
import { idToken } from './id-token.js'
import { codeGrantForm, parseOAuth, refreshGrantForm, tokenForm } from './params.js'
import { namedResource } from './resource.js'

export const TOKEN_BODY_LIMIT = 16 * 1024
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/ // RFC 7636 §4.1

/**
 * A key's installation within its client: none for a client one installation registered
 * (dynamic registration); for a client many share (a metadata document, a pre-registered
 * id), where it sends its codes, or which device grant it came from.
 */
export function installationOf(client: Client, where: string): string | null {
  return client.source === 'dcr' ? null : where
}

function checkClientBinding(code: CodeClaims, client: Client): void {
  if (code.clientId !== client.clientId)
    throw new OAuthError('invalid_grant', 'authorization code was issued to another client')
}

type TokenForm = z.output<typeof tokenForm>
type CodeGrantForm = z.output<typeof codeGrantForm>
type RefreshGrantForm = z.output<typeof refreshGrantForm>

function checkRedirectUri(code: CodeClaims, redirectUri: string): void {
  if (redirectUri !== code.redirectUri)
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request')
}

function checkPkce(code: CodeClaims, verifier: string): void {
  if (!VERIFIER.test(verifier))
    throw new OAuthError('invalid_grant', 'code_verifier must be 43-128 characters of [A-Za-z0-9._~-]')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  if (!safeEqual(challenge, code.codeChallenge))
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge')
}

function checkResource(app: FastifyInstance, expected: string, resource: string | undefined): void {
  if (resource !== undefined && namedResource(app.config, resource) !== expected)
    throw new OAuthError('invalid_target', `resource must be ${expected}`)
}

/** Live grants a client shared by many installations may hold in one connection (docs/oauth.md, "Token lifecycle"). */
export const MAX_LIVE_PER_CONNECTION = 5

export type Grant = {
  accountId: number
  userId: number
  scopes: string[]
  resource: string
  grantId: string | null
  familyId: string
  /** The connection within the client: null for a client registered by one installation. */
  installation: string | null
  consent?: ConsentCondition
}

/**
 * Refresh tokens go, when keys expire, to clients that registered the refresh_token grant or
 * registered no grant_types at all; only an explicit list without it opts out.
 */
function wantsRefresh(app: FastifyInstance, client: Client): boolean {
  const expiring = app.config.accessTtl !== undefined
  return expiring && grantsOf(client.metadata, expiring).includes('refresh_token')
}

/** Mints the key (and refresh token) of a grant and builds the token response. */
/** The token response (RFC 6749 §5.1). */
export type TokenResponse = {
  access_token: string
  token_type: 'Bearer'
  expires_in?: number
  refresh_token?: string
  scope: string
  /** OpenID Connect, when openid was granted. */
  id_token?: string
}

export async function issue(app: FastifyInstance, client: Client, grant: Grant): Promise<TokenResponse | null> {
  const now = app.now()
  const ttl = app.config.accessTtl
  const minted = mintToken(app.config.keyPrefix)
  const refresh = wantsRefresh(app, client) ? mintToken(refreshPrefix(app.config.keyPrefix)) : undefined
  let result: InsertKeyResult
  try {
    result = await app.store.keys.insert(
      {
        accountId: grant.accountId,
        userId: grant.userId,
        name: `MCP — ${client.clientName}`,
        keyHash: app.store.keys.hash(minted.token),
        displayPrefix: minted.displayPrefix,
        scopes: grant.scopes,
        resource: grant.resource,
        clientId: client.clientId,
        grantId: grant.grantId,
        familyId: grant.familyId,
        installation: grant.installation,
        createdAt: now,
        expiresAt: ttl === undefined ? null : now + ttl,
      },
      refresh && { tokenHash: refresh.hash, expiresAt: now + app.config.refreshTtl },
      grant.consent,
      // A new grant replaces: all the client's other keys for the user when one installation
      // registered it, else all but the newest few of the same installation.
      grant.grantId === null ? undefined : { keep: client.source === 'dcr' ? 0 : MAX_LIVE_PER_CONNECTION - 1 },
    )
  } catch (err) {
    if (err instanceof ForeignKeyError)
      throw new OAuthError('invalid_grant', 'the user no longer belongs to the account of this grant')
    if (err instanceof ProductTableRefused) {
      app.log.warn({ err }, 'the product key table refused a key')
      throw new OAuthError(
        'invalid_grant',
        "the product's key table refused a key for this account (the product does not know the account or user); ask the operator of this server",
      )
    }
    throw err
  }
  if (!result.ok && result.reason === 'consent_gone')
    throw new OAuthError(
      'invalid_grant',
      'the authorization was withdrawn (the app was disconnected or its access changed); start again',
    )
  if (!result.ok && result.reason === 'role_forbids')
    throw new OAuthError('invalid_grant', "the user's role in the account no longer allows the scopes of this grant")
  if (!result.ok) return null
  return {
    access_token: minted.token,
    token_type: 'Bearer',
    ...(ttl !== undefined ? { expires_in: ttl } : {}),
    ...(refresh ? { refresh_token: refresh.token } : {}),
    scope: grant.scopes.join(' '),
  }
}

async function exchangeCode(app: FastifyInstance, req: FastifyRequest, form: CodeGrantForm, client: Client) {
  const code = await verifyCode(app.keyrings.code, app.config.issuer, form.code, app.now())
  checkClientBinding(code, client)
  checkRedirectUri(code, form.redirect_uri)
  checkPkce(code, form.code_verifier)
  checkResource(app, code.resource, form.resource)
  const response = await issue(app, client, {
    accountId: code.accountId,
    userId: code.userId,
    scopes: code.scopes,
    resource: code.resource,
    grantId: code.jti,
    familyId: code.jti,
    installation: installationOf(client, code.redirectUri),
    consent: {
      userId: code.userId,
      clientId: client.clientId,
      accountId: code.accountId,
      createdAt: code.consentCreatedAt,
      scopes: code.scopes,
      roleScopes: app.config.roleScopes,
    },
  })
  if (response && code.scopes.includes('openid')) {
    const token = await idToken(app, client, code, response.access_token)
    if (token) response.id_token = token
  }
  if (response) return response
  app.metrics.replays.inc({ kind: 'authorization_code' })
  const revoked = await app.store.keys.revokeByGrant(code.jti, app.now())
  await audit(app, req, {
    event: 'code_replay_detected',
    accountId: code.accountId,
    subject: client.clientId,
    detail: { revoked_key_id: revoked?.id ?? null },
  })
  throw new OAuthError('invalid_grant', 'authorization code has already been used')
}

function checkScopeNarrowing(key: ApiKey, requested: string | undefined): string[] {
  if (requested === undefined) return key.scopes
  const scopes = [...new Set(requested.split(' ').filter(Boolean))]
  if (scopes.some((s) => !key.scopes.includes(s)))
    throw new OAuthError('invalid_scope', 'a refresh may not add scopes to the grant')
  return scopes
}

async function refreshGrant(app: FastifyInstance, req: FastifyRequest, form: RefreshGrantForm, client: Client) {
  const found = await findToken(app, form.refresh_token)
  if (found?.kind !== 'refresh_token') throw new OAuthError('invalid_grant', 'refresh token is invalid')
  const { refresh, key } = found
  const now = app.now()
  if (refresh.clientId !== client.clientId)
    throw new OAuthError('invalid_grant', 'refresh token was issued to another client')
  if (refresh.expiresAt <= now) throw new OAuthError('invalid_grant', 'refresh token has expired')
  if (key.revokedAt !== null) throw new OAuthError('invalid_grant', 'refresh token has been revoked')
  checkResource(app, key.resource ?? app.config.resource, form.resource)
  const scopes = checkScopeNarrowing(key, form.scope)
  const rotation = await app.store.refresh.markRotated(refresh.tokenHash, now)
  if (!rotation.first && now - rotation.rotatedAt > app.config.refreshGraceSeconds) {
    app.metrics.replays.inc({ kind: 'refresh_token' })
    const revoked = await app.store.keys.revokeFamily(key, now)
    await audit(app, req, {
      event: 'refresh_reuse_detected',
      accountId: key.accountId,
      subject: client.clientId,
      detail: { revoked_keys: revoked },
    })
    throw new OAuthError('invalid_grant', 'refresh token was already used; the grant has been revoked')
  }
  // Keys keygate minted always name keygate's account and user.
  if (key.accountId === null || key.userId === null) throw new OAuthError('invalid_grant', 'refresh token is invalid')
  const response = await issue(app, client, {
    accountId: key.accountId,
    userId: key.userId,
    scopes,
    resource: key.resource ?? app.config.resource,
    grantId: null,
    familyId: key.familyId!,
    installation: key.installation,
  })
  if (!response) throw new OAuthError('server_error', 'the refreshed key could not be stored', 500)
  return response
}

export default async function tokenRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/token',
    { bodyLimit: TOKEN_BODY_LIMIT, config: { kind: 'oauth', ...limit(app, 'token') } },
    async (req, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
      const form: TokenForm = parseOAuth(tokenForm, req.body)
      const grantType = form.grant_type
      try {
        const client = await authenticateClient(app, req, form)
        let response: TokenResponse | undefined
        if (grantType === 'authorization_code')
          response = await exchangeCode(app, req, parseOAuth(codeGrantForm, req.body), client)
        else if (grantType === DEVICE_GRANT) response = await deviceGrant(app, req, client)
        else if (grantType === 'refresh_token' && app.config.accessTtl !== undefined)
          response = await refreshGrant(app, req, parseOAuth(refreshGrantForm, req.body), client)
        else throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`)
        app.metrics.tokenExchanges.inc({ grant_type: grantType, outcome: 'ok' })
        return response
      } catch (err) {
        const known =
          grantType === 'authorization_code' || grantType === 'refresh_token'
            ? grantType
            : grantType === DEVICE_GRANT
              ? 'device_code'
              : 'other'
        app.metrics.tokenExchanges.inc({
          grant_type: known,
          outcome: err instanceof OAuthError ? err.code : 'server_error',
        })
        throw err
      }
    },
  )
}
