// GET /authorize shows the consent page; POST /authorize (the consent form) answers with
// a redirect carrying a signed code, or access_denied. Both run the same checks.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { IDENTITY_SCOPE_INFO, IDENTITY_SCOPES, roleAllows, scopesFor } from '../config/roles.js'
import { sha256Hex } from '../crypto/compare.js'
import { currentUser } from '../pages/current-user.js'
import { renderPage } from '../pages/render.js'
import { checkCsrf, readSession } from '../pages/session.js'
import { limit } from '../plugins/rate-limit.js'
import { audit } from '../shared/audit.js'
import { OAuthError, PageError } from '../shared/errors.js'
import { fieldsOf } from '../shared/request-fields.js'
import { cleanName } from '../shared/text.js'
import { type Client, type Consent, ForeignKeyError, type User } from '../store/types.js'
import {
  type AuthorizationRequest,
  checkClientAndRedirect,
  checkRest,
  clientRedirect,
  stateOf,
} from './authorize-request.js'
import { type MetadataDocuments, metadataDocuments } from './cimd.js'
import { signCode } from './code.js'
import { CLI_CLIENT_ID } from './first-party.js'
import { consentForm } from './params.js'

/** How long a used nonce is remembered: longer than any ID token lives. */
const NONCE_MEMORY_SECONDS = 86400
/** Used nonces are kept beside used assertion ids, under a name no product issuer can have. */
const NONCE_ISSUER = 'keygate:nonce'

const FORWARDED = [
  'nonce',
  'client_id',
  'redirect_uri',
  'response_type',
  'state',
  'code_challenge',
  'code_challenge_method',
  'resource',
  'scope',
]

type Params = Record<string, unknown>

/** Runs both phases; phase-two errors become a redirect to the client. */
async function validate(
  app: FastifyInstance,
  documents: MetadataDocuments,
  params: Params,
  reply: FastifyReply,
): Promise<AuthorizationRequest | null> {
  const { client, redirectUri } = await checkClientAndRedirect(app, params, documents)
  const state = stateOf(params)
  try {
    return { client, redirectUri, state, ...checkRest(app, params, client) }
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err
    reply.redirect(clientRedirect(app, redirectUri, state, { error: err.code, error_description: err.message }), 302)
    return null
  }
}

function frameHeaders(reply: FastifyReply): void {
  reply.header('x-frame-options', 'DENY')
}

/** What the consent page asks about: a browser's authorization request, or a device's grant. */
export type ConsentSubject = {
  client: Client
  /** Where the browser goes after; null for a device (it polls). */
  redirectUri: string | null
  scopes: string[]
  /** The hidden fields the form carries back. */
  hidden: Array<[string, string]>
  action: '/authorize' | '/device/approve'
  /** Where "Sign out" on the page comes back to after the next sign-in: this same request. */
  returnTo: string
}

export async function consentPage(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
  user: User,
  request: ConsentSubject,
) {
  const accounts = await app.store.accounts.membershipsOf(user.id)
  if (accounts.length === 0)
    throw new PageError(403, 'No account', 'Your user belongs to no account, so there is nothing to grant access to.')
  frameHeaders(reply)
  reply.header('referrer-policy', 'no-referrer')
  const logo = await app.logos.get(request.client)
  return renderPage(
    app,
    req,
    reply,
    'consent',
    {
      // Cleaned again at display: rows stored before names were cleaned at registration.
      clientName: cleanName(request.client.clientName),
      redirectHost: request.redirectUri === null ? null : new URL(request.redirectUri).host || request.redirectUri,
      clientIdHost: request.client.source === 'cimd' ? new URL(request.client.clientId).host : null,
      // Where the name comes from: anyone may register any name by open registration.
      identity:
        request.client.clientId === CLI_CLIENT_ID
          ? 'first-party'
          : request.client.source === 'dcr'
            ? 'unverified'
            : request.client.source === 'cimd'
              ? 'document'
              : 'operator',
      logo: 'image' in logo ? `/logo?client_id=${encodeURIComponent(request.client.clientId)}` : null,
      params: request.hidden,
      action: request.action,
      returnTo: request.returnTo,
      accounts: accounts.map((m) => ({
        ...m,
        // Shown beside the account when roles cap what may be granted.
        allows: app.config.roleScopes ? scopesFor(app.config, m.role).join(' ') : null,
      })),
      // One account: only what the role there may grant is offered.
      scopes: request.scopes
        .filter(
          (name) =>
            accounts.length !== 1 ||
            IDENTITY_SCOPES.includes(name) ||
            scopesFor(app.config, accounts[0]!.role).includes(name),
        )
        .map((name) => {
          const info = app.config.scopeCatalogue.find((s) => s.name === name) ?? IDENTITY_SCOPE_INFO[name]
          return {
            name,
            always: app.config.alwaysScopes.includes(name),
            // Opt-in scopes ('off') are unticked until the person ticks them.
            ticked: info?.default !== 'off',
            description: info?.description ?? '',
          }
        }),
    },
    user,
  )
}

function chosenScopes(app: FastifyInstance, requested: string[], ticked: string[]): string[] {
  return requested.filter((s) => app.config.alwaysScopes.includes(s) || ticked.includes(s))
}

function chosenAccount(raw: string): number {
  const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(id)) throw new PageError(400, 'Invalid account', 'Choose an account to grant access to.')
  return id
}

/** The account a denial is recorded in: the one chosen on the page, else the person's own. */
export async function deniedIn(app: FastifyInstance, user: User, raw: string): Promise<number | null> {
  const chosen = /^\d{1,15}$/.test(raw) ? Number(raw) : null
  const memberships = await app.store.accounts.membershipsOf(user.id)
  const member = memberships.find((m) => m.account.id === chosen)
  return (member ?? memberships.find((m) => m.account.kind === 'personal') ?? memberships[0])?.account.id ?? null
}

/**
 * An approval on the consent page, as a browser's or a device's: the chosen account (a
 * member now, whose role may grant the chosen scopes), the consent recorded and audited.
 */
export async function recordConsent(
  app: FastifyInstance,
  req: FastifyRequest,
  user: User,
  client: Client,
  requested: string[],
  form: { account_id: string; scope_choice: string[] },
  via: 'browser' | 'device',
): Promise<{ accountId: number; scopes: string[]; granted: Consent }> {
  const accountId = chosenAccount(form.account_id)
  const scopes = chosenScopes(app, requested, form.scope_choice)
  // A member now (a membership the product ended does not count), whose role may grant these.
  const role = await app.store.accounts.roleOf(user.id, accountId)
  if (!role) throw new PageError(403, 'Not your account', 'You are not a member of the account you chose.')
  if (!roleAllows(app.config, role, scopes))
    throw new PageError(
      403,
      'Not allowed by your role',
      `As ${role} of this account you may grant: ${scopesFor(app.config, role).join(' ')}. Go back and choose less.`,
    )
  let granted: Consent
  try {
    granted = await app.store.consents.upsert(
      { userId: user.id, clientId: client.clientId, accountId, scopes },
      app.now(),
    )
  } catch (err) {
    // The foreign key to memberships(user_id, account_id) refuses a forged account id.
    if (err instanceof ForeignKeyError)
      throw new PageError(403, 'Not your account', 'You are not a member of the account you chose.')
    throw err
  }
  await audit(app, req, {
    event: 'consent_granted',
    accountId,
    actorUserId: user.id,
    subject: client.clientId,
    detail: { client_name: client.clientName, scopes, ...(via === 'device' ? { via } : {}) },
  })
  return { accountId, scopes, granted }
}

export default async function authorizeRoutes(app: FastifyInstance): Promise<void> {
  const documents = metadataDocuments(app)
  app.get('/authorize', { config: { kind: 'page', ...limit(app, 'authorize') } }, async (req, reply) => {
    const params: Params = fieldsOf(req.query) ?? {}
    const request = await validate(app, documents, params, reply)
    if (!request) return reply
    const user = await currentUser(app, req)
    if (!user) return reply.redirect(`/login?return_to=${encodeURIComponent(req.url)}`, 302)
    return consentPage(app, req, reply, user, {
      client: request.client,
      redirectUri: request.redirectUri,
      scopes: request.scopes,
      hidden: FORWARDED.filter((k) => typeof params[k] === 'string').map((k) => [k, params[k] as string]),
      action: '/authorize',
      returnTo: req.url,
    })
  })

  app.post('/authorize', { config: { kind: 'page', ...limit(app, 'authorize') } }, async (req, reply) => {
    const body: Params = fieldsOf(req.body) ?? {}
    const consent = consentForm.parse(body)
    const session = await readSession(app, req)
    checkCsrf(session, consent.csrf)
    const user = await currentUser(app, req)
    if (!user)
      throw new PageError(401, 'Signed out', 'Your session has ended. Start the connection again from the application.')
    const request = await validate(app, documents, body, reply)
    if (!request) return reply
    if (consent.decision !== 'approve') {
      await audit(app, req, {
        event: 'consent_denied',
        accountId: await deniedIn(app, user, consent.account_id),
        actorUserId: user.id,
        subject: request.client.clientId,
        detail: { client_name: request.client.clientName },
      })
      return reply.redirect(
        clientRedirect(app, request.redirectUri, request.state, {
          error: 'access_denied',
          error_description: 'the user denied the request',
        }),
        302,
      )
    }
    // A nonce is single use per client (a replayed authorization request is refused). Kept
    // as the hash of client and nonce: a client id may be 512 characters and a nonce longer
    // still, and two nonces must not collide by sharing a prefix.
    if (
      request.nonce !== undefined &&
      !(await app.store.product.useAssertion(
        NONCE_ISSUER,
        sha256Hex(JSON.stringify([request.client.clientId, request.nonce])),
        app.now() + NONCE_MEMORY_SECONDS,
      ))
    )
      return reply.redirect(
        clientRedirect(app, request.redirectUri, request.state, {
          error: 'invalid_request',
          error_description: 'this nonce was used before; start again',
        }),
        302,
      )
    const { accountId, scopes, granted } = await recordConsent(
      app,
      req,
      user,
      request.client,
      request.scopes,
      consent,
      'browser',
    )
    const code = await signCode(
      app.keyrings.code,
      app.config.issuer,
      {
        clientId: request.client.clientId,
        redirectUri: request.redirectUri,
        codeChallenge: request.codeChallenge,
        userId: user.id,
        accountId,
        scopes,
        resource: request.resource,
        consentCreatedAt: granted.createdAt,
        ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
        authTime: Math.floor((session?.issuedMs ?? app.nowMs()) / 1000),
      },
      app.now(),
    )
    return reply.redirect(clientRedirect(app, request.redirectUri, request.state, { code }), 302)
  })
}
