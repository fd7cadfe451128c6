// KEYGATE_LOGIN=handoff: sign-in with the product's own session. keygate sends the browser
// to the product's page (KEYGATE_HANDOFF_URL) with return_to and a single-use state bound
// to a keygate cookie; the product, where the person is signed in, sends it back with an
// assertion: a JWT it signs (HS256 with KEYGATE_HANDOFF_SECRET, or a key of its JWKS)
// naming the person and their accounts. keygate verifies it, uses its jti once, brings
// user, accounts and memberships in line (store/product.ts) and starts a session.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from 'jose'
import { z } from 'zod'
import { audit } from '../audit.js'
import type { Login } from '../config.js'
import { safeEqual } from '../crypto/compare.js'
import { PageError } from '../errors.js'
import { limit } from '../plugins/rate-limit.js'
import { readFields, textField } from '../request-fields.js'
import type { ProductIdentity } from '../store/types.js'
import { currentUser } from './current-user.js'
import { safeReturnTo, startSession } from './session.js'

type Handoff = Extract<Login, { mode: 'handoff' }>

/** How long the browser may take at the product, and the longest an assertion may live. */
const STATE_SECONDS = 300
const MAX_ASSERTION_SECONDS = 300
const STATE_TYP = 'kg-handoff+jwt'
const MAX_ASSERTION = 16 * 1024
/** Used states are kept beside used assertion ids, under a name no product issuer can have. */
const STATE_ISSUER = 'keygate:handoff-state'

export const handoffCookie = (app: FastifyInstance) =>
  app.config.issuer.startsWith('https:') ? '__Host-keygate_handoff' : 'keygate_handoff'

export const accountsClaim = z
  .array(
    z.object({
      id: z.string().min(1).max(255),
      name: z.string().min(1).max(200),
      role: z.enum(['owner', 'admin', 'member']),
    }),
  )
  .max(100)
  .refine((list) => new Set(list.map((a) => a.id)).size === list.length, 'an account id is listed twice')

const claims = z.object({
  sub: z.string().min(1).max(255),
  email: z
    .string()
    .max(320)
    .regex(/^[^\s@]+@[^\s@]+$/, 'is not an email address'),
  name: z.string().min(1).max(200).optional(),
  accounts: accountsClaim.optional(),
})

const returnQuery = z.object({ return_to: textField(8192) })
const handoffFields = z.object({ state: textField(200), assertion: textField(MAX_ASSERTION) })

/** A refusal: a readable page, and an audit entry naming why. */
class HandoffRefused extends PageError {
  readonly reason: string
  constructor(reason: string, message: string) {
    super(400, 'Sign-in through the product failed', message)
    this.reason = reason
  }
}

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
function refusal(err: unknown): HandoffRefused {
  if (err instanceof HandoffRefused) return err
  if (err instanceof errors.JWTExpired) return new HandoffRefused('expired', 'The assertion has expired.')
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud')
      return new HandoffRefused('wrong_audience', "The assertion's aud is not this keygate's issuer.")
    if (err.claim === 'iss')
      return new HandoffRefused('wrong_issuer', "The assertion's iss is not KEYGATE_HANDOFF_ISSUER.")
    return new HandoffRefused('bad_claim', `The assertion's ${err.claim} claim is missing or wrong.`)
  }
  if (err instanceof errors.JWKSNoMatchingKey)
    return new HandoffRefused(
      'unknown_key',
      "The assertion is signed with a key (kid) the product's JWKS does not hold.",
    )
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new HandoffRefused('bad_algorithm', "The assertion's alg is not one keygate accepts.")
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new HandoffRefused('bad_signature', "The assertion's signature does not verify.")
  if (err instanceof errors.JWKSTimeout || (err instanceof Error && err.name === 'JWKSInvalid'))
    return new HandoffRefused('jwks_unavailable', "The product's JWKS could not be fetched.")
  return new HandoffRefused('malformed', 'The assertion is not a well-formed signed JWT.')
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
    const now = app.now()
    const cookie = await new SignJWT({ st: state, rt: returnTo })
      .setProtectedHeader({ alg: 'HS256', kid: app.keyrings.session.current.kid, typ: STATE_TYP })
      .setIssuer(app.config.issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + STATE_SECONDS)
      .sign(app.keyrings.session.current.key)
    reply.setCookie(handoffCookie(app), cookie, {
      path: '/login/handoff',
      httpOnly: true,
      // Lax: the product's way back is a top-level GET, or a POST form (then the cookie is
      // not sent on a cross-site POST under Lax, so the product should answer with a GET).
      sameSite: 'lax',
      secure: app.config.issuer.startsWith('https:'),
      maxAge: STATE_SECONDS,
    })
    const target = new URL(login.url)
    target.searchParams.set('return_to', `${app.config.issuer}/login/handoff`)
    target.searchParams.set('state', state)
    return reply.redirect(target.href, 303)
  })

  /** The state this browser was sent with, and where it was going; single use (the cookie is cleared). */
  async function stateOf(
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ state: string; returnTo: string; expiresAt: number }> {
    const raw = req.cookies[handoffCookie(app)]
    reply.clearCookie(handoffCookie(app), { path: '/login/handoff' })
    if (!raw) throw new HandoffRefused('no_state', 'This browser did not start this sign-in (no sign-in in progress).')
    try {
      const { kid } = decodeProtectedHeader(raw)
      const k = app.keyrings.session.find(kid)
      if (!k) throw new Error('unknown key')
      const { payload } = await jwtVerify(raw, k.key, {
        algorithms: ['HS256'],
        typ: STATE_TYP,
        issuer: app.config.issuer,
        currentDate: new Date(app.now() * 1000),
      })
      if (typeof payload.st !== 'string' || typeof payload.rt !== 'string') throw new Error('bad state')
      return { state: payload.st, returnTo: safeReturnTo(payload.rt), expiresAt: payload.exp! }
    } catch {
      throw new HandoffRefused('no_state', 'The sign-in started here has expired. Start again.')
    }
  }

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
        clockTolerance: 30,
      }))
    } catch (err) {
      throw refusal(err)
    }
    if (typeof payload.nonce !== 'string' || !safeEqual(payload.nonce, state))
      throw new HandoffRefused('state_mismatch', "The assertion's nonce is not the state this sign-in was sent with.")
    if (payload.exp! - payload.iat! > MAX_ASSERTION_SECONDS)
      throw new HandoffRefused('too_long_lived', 'The assertion may live at most 5 minutes (exp - iat <= 300).')
    if (typeof payload.jti !== 'string' || payload.jti.length > 255)
      throw new HandoffRefused('bad_claim', "The assertion's jti claim is missing or wrong.")
    const parsed = claims.safeParse(payload)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new HandoffRefused('bad_claim', `The assertion's ${issue.path.join('.') || 'claims'}: ${issue.message}.`)
    }
    const c = parsed.data
    return {
      payload,
      identity: {
        issuer: login.issuer,
        subject: c.sub,
        email: c.email.toLowerCase(),
        name: c.name ?? c.email.split('@')[0]!,
        accounts: c.accounts ?? null,
      },
    }
  }

  async function complete(req: FastifyRequest, reply: FastifyReply, input: unknown) {
    try {
      const fields = readFields(handoffFields, input)
      const { state, returnTo, expiresAt } = await stateOf(req, reply)
      if (!fields.state || !safeEqual(fields.state, state))
        throw new HandoffRefused('state_mismatch', 'The state the product sent back is not the one this sign-in sent.')
      // The cookie is cleared, but a copy of it must not serve twice either (any instance).
      if (!(await app.store.product.useAssertion(STATE_ISSUER, state, expiresAt)))
        throw new HandoffRefused('state_replayed', 'This sign-in was completed already (its state is single use).')
      if (!fields.assertion) throw new HandoffRefused('malformed', 'The product sent no assertion.')
      const { identity, payload } = await verifyAssertion(fields.assertion, state)
      if (!(await app.store.product.useAssertion(login.issuer, payload.jti!, payload.exp!)))
        throw new HandoffRefused('replayed', 'This assertion was used already (its jti is single use).')
      const outcome = await app.store.product.sync(identity, app.now(), app.config.roleScopes)
      if (!outcome.ok)
        throw new HandoffRefused('email_taken', 'The email in the assertion belongs to another person here.')
      for (const change of outcome.changes.filter((c) => c.kind !== 'added'))
        await audit(app, req, {
          event: change.kind === 'removed' ? 'membership_removed' : 'membership_role_changed',
          accountId: change.accountId,
          actorUserId: outcome.user.id,
          subject: outcome.user.email,
          detail: { ...change, via: 'sign-in' },
        })
      await startSession(app, req, reply, outcome.user.id)
      return reply.redirect(returnTo, 303)
    } catch (err) {
      if (err instanceof HandoffRefused)
        await audit(app, req, { event: 'signin_failed', detail: { via: 'handoff', reason: err.reason } })
      throw err
    }
  }

  app.get('/login/handoff', page, async (req, reply) => complete(req, reply, req.query))
  app.post('/login/handoff', page, async (req, reply) => complete(req, reply, req.body))
}
