// Stateless sessions: a signed cookie (JWS, HS256, key derived for "session" only) holding
// the user id and a CSRF nonce. Any instance sharing the secret can read it. HttpOnly,
// SameSite=Lax, Secure and the __Host- prefix when the issuer is https.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SignJWT, jwtVerify, decodeProtectedHeader } from 'jose'
import { safeEqual } from '../crypto/compare.js'
import { PageError } from '../errors.js'

export type Session = { userId: number | null; csrf: string }

const TYP = 'kg-session+jwt'
const memo = new WeakMap<FastifyRequest, Session | null>()

export function cookieName(app: FastifyInstance): string {
  return app.config.issuer.startsWith('https:') ? '__Host-keygate_session' : 'keygate_session'
}

async function verify(app: FastifyInstance, token: string): Promise<Session | null> {
  try {
    const { kid } = decodeProtectedHeader(token)
    const key = app.keyrings.session.find(kid)
    if (!key) return null
    const { payload } = await jwtVerify(token, key.key, {
      algorithms: ['HS256'],
      typ: TYP,
      issuer: app.config.issuer,
      currentDate: new Date(app.now() * 1000),
    })
    const uid = payload.uid
    if (typeof payload.csrf !== 'string' || (uid !== undefined && typeof uid !== 'number')) return null
    return { userId: uid ?? null, csrf: payload.csrf }
  } catch {
    return null
  }
}

/** The request's session, or null when there is no valid cookie. */
export async function readSession(app: FastifyInstance, req: FastifyRequest): Promise<Session | null> {
  if (memo.has(req)) return memo.get(req)!
  const raw = req.cookies[cookieName(app)]
  const session = raw ? await verify(app, raw) : null
  memo.set(req, session)
  return session
}

async function writeSession(app: FastifyInstance, req: FastifyRequest, reply: FastifyReply, session: Session): Promise<Session> {
  const now = app.now()
  const ttl = app.config.sessionTtlSeconds
  const token = await new SignJWT({ csrf: session.csrf, ...(session.userId !== null ? { uid: session.userId } : {}) })
    .setProtectedHeader({ alg: 'HS256', kid: app.keyrings.session.current.kid, typ: TYP })
    .setIssuer(app.config.issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(app.keyrings.session.current.key)
  reply.setCookie(cookieName(app), token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: app.config.issuer.startsWith('https:'),
    maxAge: ttl,
  })
  memo.set(req, session)
  return session
}

/** The session, creating an anonymous one (with a CSRF nonce) when there is none. */
export async function ensureSession(app: FastifyInstance, req: FastifyRequest, reply: FastifyReply): Promise<Session> {
  return (await readSession(app, req)) ?? writeSession(app, req, reply, { userId: null, csrf: randomBytes(24).toString('base64url') })
}

/** Signs a user in with a fresh CSRF nonce (no session fixation). */
export async function startSession(app: FastifyInstance, req: FastifyRequest, reply: FastifyReply, userId: number): Promise<void> {
  await writeSession(app, req, reply, { userId, csrf: randomBytes(24).toString('base64url') })
}

export function endSession(app: FastifyInstance, reply: FastifyReply): void {
  reply.clearCookie(cookieName(app), { path: '/', httpOnly: true, sameSite: 'lax', secure: app.config.issuer.startsWith('https:') })
}

/** Refuses a POST whose csrf field does not match the session's nonce. */
export function checkCsrf(session: Session | null, token: unknown): void {
  if (!session || typeof token !== 'string' || token === '' || !safeEqual(token, session.csrf)) {
    throw new PageError(403, 'Form expired', 'This form is no longer valid (missing or wrong CSRF token). Go back, reload the page and try again.')
  }
}

/** Only local paths may be returned to after sign-in: no scheme, no host, no "//". */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || /[\\\s\x00-\x1f]/.test(value)) return '/dashboard'
  return value.length > 4000 ? '/dashboard' : value
}
