// KEYGATE_LOGIN=oidc: sign-in with the product's identity provider (any OpenID Provider),
// keygate as its relying party through openid-client: discovery from KEYGATE_OIDC_ISSUER,
// authorization code with PKCE, state and nonce. The person is keyed by (issuer, sub);
// their accounts come from KEYGATE_OIDC_ACCOUNTS_CLAIM (the handoff's `accounts` shape),
// else a personal one; user, accounts and memberships are brought in line as on every
// sign-in through the product (store/product.ts).
import type { FastifyInstance } from 'fastify'
import * as oidc from 'openid-client'
import { z } from 'zod'
import type { Login } from '../config/index.js'
import { currentUser } from '../pages/current-user.js'
import { safeReturnTo } from '../pages/session.js'
import { limit } from '../plugins/rate-limit.js'
import { PageError } from '../shared/errors.js'
import { readFields, textField } from '../shared/request-fields.js'
import type { ProductIdentity } from '../store/types.js'
import {
  accountsClaim,
  auditedSignIn,
  emailClaim,
  type Flow,
  finishSignIn,
  readFlow,
  SignInRefused,
  startFlow,
} from './sign-in.js'

type Oidc = Extract<Login, { mode: 'oidc' }>

/** The flow cookie: PKCE verifier, state, nonce and return path, for this browser's way back. */
const FLOW: Flow = {
  cookie: (app) => (app.config.issuer.startsWith('https:') ? '__Secure-keygate_oidc' : 'keygate_oidc'),
  path: '/login/oidc/callback',
  typ: 'kg-oidc+jwt',
  seconds: 600,
}
/** Used flows are kept beside used assertion ids, under a name no provider can have. */
const FLOW_ISSUER = 'keygate:oidc-state'

const returnQuery = z.object({ return_to: textField(8192) })

const claims = z.object({
  sub: z.string().min(1).max(255),
  email: emailClaim,
  email_verified: z.boolean().optional(),
  name: z.string().min(1).max(200).optional(),
})

const TITLE = 'Sign-in through the identity provider failed'
const refused = (reason: string, message: string) => new SignInRefused(TITLE, reason, message)

export default async function oidcRoutes(app: FastifyInstance): Promise<void> {
  const login = app.config.login as Oidc
  const callback = `${app.config.issuer}/login/oidc/callback`
  const page = { config: { kind: 'page' as const, ...limit(app, 'login') } }

  // Discovered on first use and kept; a failed discovery is tried again next time.
  let discovered: Promise<oidc.Configuration> | undefined
  const configuration = () => {
    discovered ??= oidc
      .discovery(
        new URL(login.issuer),
        login.clientId,
        { redirect_uris: [callback] },
        login.clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(login.clientSecret),
        login.allowHttp ? { execute: [oidc.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        discovered = undefined
        app.log.error({ err }, 'OpenID Provider discovery failed')
        throw new PageError(503, 'Sign-in unavailable', 'The identity provider could not be reached. Try again soon.')
      })
    return discovered
  }

  app.get('/login', page, async (req, reply) => {
    const returnTo = safeReturnTo(readFields(returnQuery, req.query).return_to)
    if (await currentUser(app, req)) return reply.redirect(returnTo, 303)
    const config = await configuration()
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const nonce = oidc.randomNonce()
    await startFlow(app, reply, FLOW, { v: verifier, st: state, n: nonce, rt: returnTo })
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: callback,
      scope: login.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    return reply.redirect(url.href, 303)
  })

  app.get('/login/oidc/callback', page, async (req, reply) =>
    auditedSignIn(app, req, 'oidc', async () => {
      const read = await readFlow(app, req, reply, FLOW, refused)
      const { v, st, n } = read
      if (typeof v !== 'string' || typeof st !== 'string' || typeof n !== 'string')
        throw refused('no_state', 'The sign-in started here has expired. Start again.')
      const flow = { verifier: v, state: st, nonce: n, returnTo: read.returnTo, expiresAt: read.expiresAt }
      const query = new URLSearchParams(req.url.split('?')[1] ?? '')
      if (query.get('state') !== flow.state)
        throw refused('state_mismatch', 'The state the identity provider sent back is not this sign-in’s.')
      if (!(await app.store.product.useAssertion(FLOW_ISSUER, flow.state, flow.expiresAt)))
        throw refused('state_replayed', 'This sign-in was completed already (its state is single use).')
      const error = query.get('error')
      if (error)
        throw refused(
          'provider_error',
          `The identity provider answered ${error.slice(0, 100)}${query.get('error_description') ? `: ${query.get('error_description')!.slice(0, 300)}` : ''}.`,
        )
      const config = await configuration()
      let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>
      try {
        tokens = await oidc.authorizationCodeGrant(config, new URL(`${callback}?${query}`), {
          pkceCodeVerifier: flow.verifier,
          expectedState: flow.state,
          expectedNonce: flow.nonce,
          idTokenExpected: true,
        })
      } catch (err) {
        req.log.warn({ err }, 'OpenID Provider code exchange failed')
        throw refused(
          'code_exchange_failed',
          `The identity provider's answer was refused: ${err instanceof Error ? err.message.slice(0, 300) : 'unknown error'}.`,
        )
      }
      const idClaims = tokens.claims()!
      // The claims keygate needs may be in the ID token or only at the userinfo endpoint.
      let all: Record<string, unknown> = { ...idClaims }
      const wanted = ['email', ...(login.accountsClaim ? [login.accountsClaim] : [])]
      if (wanted.some((c) => all[c] === undefined) && config.serverMetadata().userinfo_endpoint)
        all = { ...(await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub)), ...idClaims }
      const parsed = claims.safeParse(all)
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!
        throw refused('bad_claim', `The identity provider's ${issue.path.join('.')} claim: ${issue.message}.`)
      }
      if (parsed.data.email_verified === false)
        throw refused('email_unverified', 'The identity provider says this email address is not verified.')
      let accounts: ProductIdentity['accounts'] = null
      if (login.accountsClaim && all[login.accountsClaim] !== undefined) {
        const listed = accountsClaim.safeParse(all[login.accountsClaim])
        if (!listed.success) {
          const issue = listed.error.issues[0]!
          throw refused(
            'bad_claim',
            `The identity provider's ${[login.accountsClaim, ...issue.path].join('.')} claim: ${issue.message}.`,
          )
        }
        accounts = listed.data
      }
      const identity: ProductIdentity = {
        issuer: login.issuer,
        subject: parsed.data.sub,
        email: parsed.data.email.toLowerCase(),
        // Absent counts as unverified (Entra ID sends none): the operator may trust the provider.
        emailVerified: parsed.data.email_verified === true || login.trustEmail,
        name: parsed.data.name ?? parsed.data.email.split('@')[0]!,
        accounts,
      }
      return finishSignIn(app, req, reply, identity, flow.returnTo, refused)
    }),
  )
}
