// KEYGATE_LOGIN=handoff: sign-in with the product's own session. keygate sends the browser
// to the product's page (KEYGATE_HANDOFF_URL) with return_to and a single-use state bound
// to a keygate cookie; the product, where the person is signed in, sends it back with an
// assertion: a JWT it signs (HS256 with KEYGATE_HANDOFF_SECRET, or a key of its JWKS)
// naming the person and their accounts. keygate verifies it, uses its jti once, brings
// user, accounts and memberships in line (store/product.ts) and starts a session.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose'
import { z } from 'zod'
import type { Login } from '../config/index.js'
import { safeEqual } from '../crypto/compare.js'
import { currentUser } from '../pages/current-user.js'
import { safeReturnTo } from '../pages/session.js'
import { limit } from '../plugins/rate-limit.js'
import { readFields, textField } from '../shared/request-fields.js'
import type { ProductIdentity } from '../store/types.js'
import { connectingApp } from '../web/connecting.js'
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

type Handoff = Extract<Login, { mode: 'handoff' }>

/** The longest an assertion may live. */
const MAX_ASSERTION_SECONDS = 300
const MAX_ASSERTION = 16 * 1024
/** How far the product's clock may be from keygate's. */
const CLOCK_SKEW_SECONDS = 30
/** Used states are kept beside used assertion ids, under a name no product issuer can have. */
const STATE_ISSUER = 'keygate:handoff-state'

/** The state cookie: this browser's way back from the product, for 5 minutes. */
const FLOW: Flow = {
  // __Secure- (not __Host-, which demands Path=/): the cookie goes to the way back only.
  cookie: (app) => (app.config.issuer.startsWith('https:') ? '__Secure-keygate_handoff' : 'keygate_handoff'),
  path: '/login/handoff',
  typ: 'kg-handoff+jwt',
  seconds: 300,
}

const claims = z.object({
  sub: z.string().min(1).max(255),
  email: emailClaim,
  email_verified: z.boolean().optional(),
  name: z.string().min(1).max(200).optional(),
  accounts: accountsClaim.optional(),
})

const returnQuery = z.object({ return_to: textField(8192) })
const handoffFields = z.object({ state: textField(200), assertion: textField(MAX_ASSERTION) })

const TITLE = 'Sign-in through the product failed'
const refused = (reason: string, message: string) => new SignInRefused(TITLE, reason, message)

function verifierOf(login: Handoff): Uint8Array | JWTVerifyGetKey {
  if ('secret' in login.verify) return login.verify.secret
  // Keys fetched once and cached; an unknown kid fetches again (the product rotated), at
  // most once per cooldown, so assertions with made-up kids cannot make keygate fetch often.
  return createRemoteJWKSet(new URL(login.verify.jwksUrl), {
    cooldownDuration: login.verify.cooldownSeconds * 1000,
    timeoutDuration: 5_000,
  })
}

/** Why jose refused an assertion, in words a product developer can act on. */
function refusal(err: unknown): SignInRefused {
  if (err instanceof SignInRefused) return err
  if (err instanceof errors.JWTExpired) return refused('expired', 'The assertion has expired.')
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return refused('wrong_audience', "The assertion's aud is not this keygate's issuer.")
    if (err.claim === 'iss') return refused('wrong_issuer', "The assertion's iss is not KEYGATE_HANDOFF_ISSUER.")
    return refused('bad_claim', `The assertion's ${err.claim} claim is missing or wrong.`)
  }
  if (err instanceof errors.JWKSNoMatchingKey)
    return refused('unknown_key', "The assertion is signed with a key (kid) the product's JWKS does not hold.")
  if (err instanceof errors.JOSEAlgNotAllowed)
    return refused('bad_algorithm', "The assertion's alg is not one keygate accepts.")
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return refused('bad_signature', "The assertion's signature does not verify.")
  if (err instanceof errors.JWKSTimeout || (err instanceof Error && err.name === 'JWKSInvalid'))
    return refused('jwks_unavailable', "The product's JWKS could not be fetched.")
  return refused('malformed', 'The assertion is not a well-formed signed JWT.')
}

export default async function handoffRoutes(app: FastifyInstance): Promise<void> {
  const login = app.config.login as Handoff
  const key = verifierOf(login)
  const algorithms = 'secret' in login.verify ? ['HS256'] : ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']
  const page = { config: { kind: 'page' as const, ...limit(app, 'login') } }

  /** Sends the browser to the product with a fresh state, bound to this browser by a cookie. */
  app.get('/login', page, async (req, reply) => {
    const returnTo = safeReturnTo(readFields(returnQuery, req.query).return_to)
    if (await currentUser(app, req)) return reply.redirect(returnTo, 303)
    const state = randomBytes(24).toString('base64url')
    await startFlow(app, reply, FLOW, { st: state, rt: returnTo })
    const target = new URL(login.url)
    target.searchParams.set('return_to', `${app.config.issuer}/login/handoff`)
    target.searchParams.set('state', state)
    // What the product may say on its sign-in page: "Sign in to connect <app>".
    const connecting = await connectingApp(app, returnTo)
    if (connecting) target.searchParams.set('connecting', connecting.app ?? (connecting.device ? 'a device' : 'an app'))
    return reply.redirect(target.href, 303)
  })

  async function verifyAssertion(
    assertion: string,
    state: string,
  ): Promise<{ identity: ProductIdentity; payload: JWTPayload }> {
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(assertion, key as never, {
        algorithms,
        issuer: login.issuer,
        audience: app.config.issuer,
        requiredClaims: ['sub', 'email', 'nonce', 'iat', 'exp', 'jti'],
        currentDate: new Date(app.now() * 1000),
        clockTolerance: CLOCK_SKEW_SECONDS,
      }))
    } catch (err) {
      throw refusal(err)
    }
    if (typeof payload.nonce !== 'string' || !safeEqual(payload.nonce, state))
      throw refused('state_mismatch', "The assertion's nonce is not the state this sign-in was sent with.")
    // jose checks exp and nbf; an iat far ahead would make exp - iat meaningless.
    if (payload.iat! > app.now() + CLOCK_SKEW_SECONDS)
      throw refused(
        'issued_in_future',
        `The assertion's iat is in the future (more than ${CLOCK_SKEW_SECONDS} s ahead).`,
      )
    if (payload.exp! - payload.iat! > MAX_ASSERTION_SECONDS)
      throw refused('too_long_lived', 'The assertion may live at most 5 minutes (exp - iat <= 300).')
    if (typeof payload.jti !== 'string' || payload.jti.length > 255)
      throw refused('bad_claim', "The assertion's jti claim is missing or wrong.")
    const parsed = claims.safeParse(payload)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw refused('bad_claim', `The assertion's ${issue.path.join('.') || 'claims'}: ${issue.message}.`)
    }
    const c = parsed.data
    return {
      payload,
      identity: {
        issuer: login.issuer,
        subject: c.sub,
        email: c.email.toLowerCase(),
        emailVerified: c.email_verified === true || login.trustEmail,
        name: c.name ?? c.email.split('@')[0]!,
        accounts: c.accounts ?? null,
      },
    }
  }

  async function complete(req: FastifyRequest, reply: FastifyReply, input: unknown) {
    return auditedSignIn(app, req, 'handoff', async () => {
      const fields = readFields(handoffFields, input)
      const flow = await readFlow(app, req, reply, FLOW, refused)
      const state = String(flow.st)
      if (!fields.state || !safeEqual(fields.state, state))
        throw refused('state_mismatch', 'The state the product sent back is not the one this sign-in sent.')
      // The cookie is cleared, but a copy of it must not serve twice either (any instance).
      if (!(await app.store.product.useAssertion(STATE_ISSUER, state, flow.expiresAt)))
        throw refused('state_replayed', 'This sign-in was completed already (its state is single use).')
      if (!fields.assertion) throw refused('malformed', 'The product sent no assertion.')
      const { identity, payload } = await verifyAssertion(fields.assertion, state)
      if (!(await app.store.product.useAssertion(login.issuer, payload.jti!, payload.exp!)))
        throw refused('replayed', 'This assertion was used already (its jti is single use).')
      return finishSignIn(app, req, reply, identity, flow.returnTo, refused)
    })
  }

  app.get('/login/handoff', page, async (req, reply) => complete(req, reply, req.query))
  app.post('/login/handoff', page, async (req, reply) => complete(req, reply, req.body))
}
