// What sign-in through the product shares, whichever way it comes (handoff, oidc) and the
// provisioning API: the claims keygate reads, the signed single-use flow cookie that binds
// a sign-in to the browser that started it, and the end of a sign-in (sync, audit,
// session).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { decodeProtectedHeader, type JWTPayload, jwtVerify, SignJWT } from 'jose'
import { z } from 'zod'
import { safeReturnTo, startSession } from '../pages/session.js'
import { audit } from '../shared/audit.js'
import { PageError } from '../shared/errors.js'
import { holdsInvisible } from '../shared/text.js'
import type { MembershipChange, ProductIdentity, User } from '../store/types.js'

export const emailClaim = z
  .string()
  .max(320)
  .regex(/^[^\s@]+@[^\s@]+$/, 'is not an email address')
  .refine((email) => !holdsInvisible(email), 'holds an invisible or reordering character')

/** The person's accounts and roles, as the product names them. */
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

/** A refused sign-in: a readable page, audited with its reason. */
export class SignInRefused extends PageError {
  readonly reason: string
  constructor(title: string, reason: string, message: string) {
    super(400, title, message)
    this.reason = reason
  }
}

/** Where a sign-in's flow cookie lives: its name, the one path it is sent to, its JWS type. */
export type Flow = { cookie: (app: FastifyInstance) => string; path: string; typ: string; seconds: number }

/** Sets the flow cookie: `data` signed (the session keyring), for this browser's way back only. */
export async function startFlow(
  app: FastifyInstance,
  reply: FastifyReply,
  flow: Flow,
  data: Record<string, string>,
): Promise<void> {
  const now = app.now()
  const token = await new SignJWT(data)
    .setProtectedHeader({ alg: 'HS256', kid: app.keyrings.session.current.kid, typ: flow.typ })
    .setIssuer(app.config.issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + flow.seconds)
    .sign(await app.keyrings.session.current.hs256())
  const https = app.config.issuer.startsWith('https:')
  reply.setCookie(flow.cookie(app), token, {
    path: app.config.issuerPath + flow.path,
    httpOnly: true,
    // The way back may be a cross-site POST (the product's auto-submitted form), which a
    // Lax cookie would miss: None where it can be (https). Safe for this cookie: it is
    // single use, sent to one path, and binds a state only this browser was given, so a
    // forged way back carries no assertion for it.
    sameSite: https ? 'none' : 'lax',
    secure: https,
    maxAge: flow.seconds,
  })
}

/**
 * The flow this browser started, cleared as it is read; `refused` makes the page for a
 * missing or expired one. Its `returnTo` is made safe again; `expiresAt` is its expiry.
 */
export async function readFlow(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
  flow: Flow,
  refused: (reason: string, message: string) => SignInRefused,
): Promise<JWTPayload & { returnTo: string; expiresAt: number }> {
  const raw = req.cookies[flow.cookie(app)]
  reply.clearCookie(flow.cookie(app), { path: app.config.issuerPath + flow.path })
  if (!raw) throw refused('no_state', 'This browser did not start this sign-in (no sign-in in progress).')
  try {
    const key = app.keyrings.session.find(decodeProtectedHeader(raw).kid)
    if (!key) throw new Error('unknown key')
    const { payload } = await jwtVerify(raw, await key.hs256(), {
      algorithms: ['HS256'],
      typ: flow.typ,
      issuer: app.config.issuer,
      currentDate: new Date(app.now() * 1000),
    })
    if (typeof payload.rt !== 'string') throw new Error('bad flow')
    return { ...payload, returnTo: safeReturnTo(payload.rt), expiresAt: payload.exp! }
  } catch {
    throw refused('no_state', 'The sign-in started here has expired. Start again.')
  }
}

/** Audits the membership changes a sync made (added ones are not news). */
export async function auditChanges(
  app: FastifyInstance,
  req: FastifyRequest,
  user: User,
  changes: MembershipChange[],
  via: 'sign-in' | 'provisioning',
): Promise<void> {
  for (const change of changes.filter((c) => c.kind !== 'added'))
    await audit(app, req, {
      event: change.kind === 'removed' ? 'membership_removed' : 'membership_role_changed',
      accountId: change.accountId,
      actorUserId: via === 'sign-in' ? user.id : null,
      subject: user.email,
      detail: { ...change, via },
    })
}

/** The end of every sign-in through the product: sync, audit, session, back where it started. */
/**
 * Why the product's ids for this person cannot be stored in the key table (KEYGATE_KEYS_TABLE:
 * a uuid or integer column, a bounded length), in words; undefined when they can. Checked
 * before anything is written, so such a person is refused at sign-in, not at their first key.
 */
export function unfitIds(app: FastifyInstance, identity: ProductIdentity): string | undefined {
  const { keys } = app.store
  const why = keys.unfitId('user', identity.subject)
  if (why) return `The product's user id “${identity.subject.slice(0, 100)}” cannot be stored in its key table: ${why}.`
  // Without accounts the person gets a personal account, named by their user id.
  for (const id of identity.accounts?.map((a) => a.id) ?? [identity.subject]) {
    const unfit = keys.unfitId('account', id)
    if (unfit) return `The product's account id “${id.slice(0, 100)}” cannot be stored in its key table: ${unfit}.`
  }
  return undefined
}

export async function finishSignIn(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
  identity: ProductIdentity,
  returnTo: string,
  refused: (reason: string, message: string) => SignInRefused,
) {
  const unfit = unfitIds(app, identity)
  if (unfit) throw refused('ids_unfit', `${unfit} Ask the operator of this server.`)
  const outcome = await app.store.product.sync(identity, app.now(), app.config.roleScopes)
  if (!outcome.ok)
    throw outcome.reason === 'email_taken'
      ? refused('email_taken', 'The email belongs to another person here.')
      : refused(
          'email_unverified',
          'Someone here already uses this email address, and the sign-in did not say the address is verified, so it cannot be linked to them. Ask the operator of this server.',
        )
  if (outcome.user.disabledAt !== null)
    throw refused('user_disabled', 'The operator of this server has disabled your user here.')
  await auditChanges(app, req, outcome.user, outcome.changes, 'sign-in')
  await startSession(app, req, reply, outcome.user.id)
  return reply.redirect(returnTo, 303)
}

/** Runs a sign-in's last step; a refusal is audited as a failed sign-in with its reason. */
export async function auditedSignIn<T>(
  app: FastifyInstance,
  req: FastifyRequest,
  via: 'handoff' | 'oidc',
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof SignInRefused)
      await audit(app, req, { event: 'signin_failed', detail: { via, reason: err.reason } })
    throw err
  }
}
