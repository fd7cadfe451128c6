// Validation of an authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1, RFC 7636,
// RFC 8707), in spec order. The client and redirect URI come first: until both are known
// good, errors are shown as a page and never redirected (RFC 6749 §4.1.2.1, no open
// redirect). Everything after is reported to the client by redirect.
import type { FastifyInstance } from 'fastify'
import { OAuthError, PageError } from '../errors.js'
import type { Client } from '../store/types.js'
import { matchRedirectUri } from './redirect-uri.js'
import { isMetadataDocumentUrl, type MetadataDocuments } from './cimd.js'

export type AuthorizationRequest = {
  client: Client
  redirectUri: string
  state: string | undefined
  codeChallenge: string
  resource: string
  /** Scopes offered on the consent page: requested ∩ catalogue, or the whole catalogue. */
  scopes: string[]
}

type Params = Record<string, unknown>

const CHALLENGE = /^[A-Za-z0-9_-]{43}$/ // base64url(SHA-256), RFC 7636 §4.2
const MAX_PARAM = 4096

/** A single-valued parameter; repeating one is an error (RFC 6749 §3.1). */
function single(params: Params, name: string, onError: (msg: string) => never): string | undefined {
  const value = params[name]
  if (value === undefined || value === '') return undefined
  if (typeof value !== 'string') onError(`${name} must not be repeated`)
  if (value.length > MAX_PARAM) onError(`${name} is too long`)
  return value
}

const page = (msg: string): never => {
  throw new PageError(400, 'Invalid authorization request', msg)
}
const oauth = (msg: string): never => {
  throw new OAuthError('invalid_request', msg)
}

async function checkClient(app: FastifyInstance, params: Params, documents: MetadataDocuments): Promise<Client> {
  const clientId = single(params, 'client_id', page)
  if (!clientId) page('The request has no client_id. The application that sent you here is misconfigured.')
  if (isMetadataDocumentUrl(clientId!, app.config.cimdAllowPrivate)) return documents.resolve(clientId!)
  const client = await app.store.clients.byId(clientId!)
  if (!client) page('The application that sent you here is not registered with this server (unknown client_id).')
  return client!
}

function checkRedirectUri(client: Client, params: Params): string {
  const redirectUri = single(params, 'redirect_uri', page)
  if (!redirectUri) page('The request has no redirect_uri.')
  if (!matchRedirectUri(redirectUri!, client.redirectUris)) {
    page('The redirect_uri is not registered for this application, so you will not be sent there.')
  }
  return redirectUri!
}

function checkResponseType(params: Params): void {
  const type = single(params, 'response_type', oauth)
  if (type === undefined) oauth('response_type is required')
  if (type !== 'code') throw new OAuthError('unsupported_response_type', 'only response_type=code is supported')
}

function checkPkce(params: Params): string {
  const challenge = single(params, 'code_challenge', oauth)
  const method = single(params, 'code_challenge_method', oauth)
  if (!challenge) oauth('code_challenge is required (PKCE, RFC 7636)')
  if (method !== 'S256') oauth('code_challenge_method must be S256')
  if (!CHALLENGE.test(challenge!)) oauth('code_challenge must be 43 base64url characters (RFC 7636 §4.2)')
  return challenge!
}

function checkResource(app: FastifyInstance, params: Params): string {
  const value = params.resource
  // Absent: the MCP resource (one Claude Code version omitted it).
  if (value === undefined || value === '') return app.config.resource
  if (typeof value !== 'string' || value !== app.config.resource) {
    throw new OAuthError('invalid_target', `resource must be ${app.config.resource}`)
  }
  return value
}

function offeredScopes(app: FastifyInstance, params: Params): string[] {
  const requested = (single(params, 'scope', oauth) ?? '').split(' ').filter((s) => app.config.scopes.includes(s))
  // Unknown scopes are ignored, not fatal: hosted clients send odd ones.
  if (requested.length === 0) return [...app.config.scopes]
  return app.config.scopes.filter((s) => requested.includes(s) || app.config.alwaysScopes.includes(s))
}

/** Phase one: the client and the redirect URI. Throws PageError. */
export async function checkClientAndRedirect(app: FastifyInstance, params: Params, documents: MetadataDocuments): Promise<{ client: Client; redirectUri: string }> {
  const client = await checkClient(app, params, documents)
  return { client, redirectUri: checkRedirectUri(client, params) }
}

/** Phase two: everything else. Throws OAuthError, to be sent back by redirect. */
export function checkRest(app: FastifyInstance, params: Params): Omit<AuthorizationRequest, 'client' | 'redirectUri' | 'state'> {
  checkResponseType(params)
  const codeChallenge = checkPkce(params)
  const resource = checkResource(app, params)
  return { codeChallenge, resource, scopes: offeredScopes(app, params) }
}

/** state, echoed as sent when it is a single string. */
export function stateOf(params: Params): string | undefined {
  return typeof params.state === 'string' && params.state !== '' ? params.state.slice(0, MAX_PARAM) : undefined
}

/** The redirect back to the client: code or error, plus state and iss (RFC 9207). */
export function clientRedirect(app: FastifyInstance, redirectUri: string, state: string | undefined, values: Record<string, string>): string {
  const url = new URL(redirectUri)
  for (const [k, v] of Object.entries(values)) url.searchParams.append(k, v)
  if (state !== undefined) url.searchParams.append('state', state)
  url.searchParams.append('iss', app.config.issuer)
  return url.href
}
