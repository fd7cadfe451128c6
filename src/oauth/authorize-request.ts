// Validation of an authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1, RFC 7636,
// RFC 8707), in spec order. The client and redirect URI come first: until both are known
// good, errors are shown as a page and never redirected (RFC 6749 §4.1.2.1, no open
// redirect). Everything after is reported to the client by redirect.
import type { FastifyInstance } from 'fastify'
import type { z } from 'zod'
import { IDENTITY_SCOPES } from '../config/roles.js'
import { OAuthError, PageError } from '../shared/errors.js'
import type { Client } from '../store/types.js'
import { isMetadataDocumentUrl, type MetadataDocuments } from './cimd.js'
import { authorizeClientParams, authorizeRequestParams, parseForPage, parseOAuth, stateOf } from './params.js'
import { matchRedirectUri } from './redirect-uri.js'
import { namedResource } from './resource.js'

export type AuthorizationRequest = {
  client: Client
  redirectUri: string
  state: string | undefined
  codeChallenge: string
  resource: string
  /** Scopes offered on the consent page: requested ∩ catalogue, or the whole catalogue. */
  scopes: string[]
  /** OpenID Connect's nonce (echoed in the ID token). */
  nonce: string | undefined
}

type Params = Record<string, unknown>

const CHALLENGE = /^[A-Za-z0-9_-]{43}$/ // base64url(SHA-256), RFC 7636 §4.2
const TITLE = 'Invalid authorization request'

const page = (msg: string): never => {
  throw new PageError(400, TITLE, msg)
}

async function checkClient(app: FastifyInstance, clientId: string, documents: MetadataDocuments): Promise<Client> {
  const client = isMetadataDocumentUrl(clientId, app.config.cimdAllowPrivate)
    ? await documents.resolve(clientId)
    : await app.store.clients.byId(clientId)
  if (!client) page('The application that sent you here is not registered with this server (unknown client_id).')
  if (client!.disabledAt !== null)
    throw new PageError(
      403,
      'Application disabled',
      "The operator of this server has disabled this application, so it cannot be given access. Ask them if you think that's wrong.",
    )
  return client!
}

function checkRedirectUri(client: Client, redirectUri: string): string {
  if (!matchRedirectUri(redirectUri, client.redirectUris)) {
    page('The redirect_uri is not registered for this application, so you will not be sent there.')
  }
  return redirectUri
}

type RequestParams = z.output<typeof authorizeRequestParams>

function checkResponseType(type: string): void {
  if (type !== 'code') throw new OAuthError('unsupported_response_type', 'only response_type=code is supported')
}

function checkPkce(params: RequestParams): string {
  if (params.code_challenge_method !== 'S256')
    throw new OAuthError('invalid_request', 'code_challenge_method must be S256')
  if (!CHALLENGE.test(params.code_challenge))
    throw new OAuthError('invalid_request', 'code_challenge must be 43 base64url characters (RFC 7636 §4.2)')
  return params.code_challenge
}

export function offeredScopes(app: FastifyInstance, scope: string | undefined, client?: Client): string[] {
  const asked = (scope ?? '').split(' ')
  const requested = asked.filter((s) => app.config.scopes.includes(s))
  // Unknown scopes are ignored, not fatal: hosted clients send odd ones.
  const api =
    requested.length === 0
      ? [...app.config.scopes]
      : app.config.scopes.filter((s) => requested.includes(s) || app.config.alwaysScopes.includes(s))
  // OpenID Connect's scopes only when asked for (with openid), and only by a client that
  // registered them if it registered a scope list at all (src/oidc/).
  if (!client || !asked.includes('openid')) return api
  const registered = client.metadata.scope
  if (typeof registered === 'string' && !registered.split(' ').includes('openid'))
    throw new OAuthError('invalid_scope', 'this client did not register the openid scope')
  return [...api, ...IDENTITY_SCOPES.filter((s) => asked.includes(s))]
}

/** Phase one: the client and the redirect URI. Throws PageError. */
export async function checkClientAndRedirect(
  app: FastifyInstance,
  fields: Params,
  documents: MetadataDocuments,
): Promise<{ client: Client; redirectUri: string }> {
  const params = parseForPage(authorizeClientParams, fields, TITLE)
  const client = await checkClient(app, params.client_id, documents)
  return { client, redirectUri: checkRedirectUri(client, params.redirect_uri) }
}

/** Phase two: everything else. Throws OAuthError, to be sent back by redirect. */
export function checkRest(
  app: FastifyInstance,
  fields: Params,
  client: Client,
): Omit<AuthorizationRequest, 'client' | 'redirectUri' | 'state'> {
  const params = parseOAuth(authorizeRequestParams, fields)
  checkResponseType(params.response_type)
  const codeChallenge = checkPkce(params)
  const resource = namedResource(app.config, params.resource)
  const scopes = offeredScopes(app, params.scope, client)
  return { codeChallenge, resource, scopes, nonce: scopes.includes('openid') ? params.nonce : undefined }
}

export { stateOf }

/** The redirect back to the client: code or error, plus state and iss (RFC 9207). */
export function clientRedirect(
  app: FastifyInstance,
  redirectUri: string,
  state: string | undefined,
  values: Record<string, string>,
): string {
  const url = new URL(redirectUri)
  for (const [k, v] of Object.entries(values)) url.searchParams.append(k, v)
  if (state !== undefined) url.searchParams.append('state', state)
  url.searchParams.append('iss', app.config.issuer)
  return url.href
}
