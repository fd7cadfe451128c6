// Stateless sessions: a signed cookie (JWS, HS256, key derived for "session" only) holding
// the user id and a CSRF nonce. Any instance sharing the secret can read it. HttpOnly,
// SameSite=Lax, Secure and the __Host- prefix when the issuer is https.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose'
import { safeEqual } from '../crypto/compare.js'
import { PageError } from '../shared/errors.js'

/** issuedMs: when the session was issued, in ms; a sign-out voids those issued up to then. */
export type Session = { userId: number | null; csrf: string; issuedMs: number }

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
    const { payload } = await jwtVerify(token, await key.hs256(), {
      algorithms: ['HS256'],
      typ: TYP,
      issuer: app.config.issuer,
      currentDate: new Date(app.now() * 1000),
    })
    const { uid, ims } = payload
    if (typeof payload.csrf !== 'string' || (uid !== undefined && typeof uid !== 'number') || typeof ims !== 'number')
      return null
    return { userId: uid ?? null, csrf: payload.csrf, issuedMs: ims }
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

async function writeSession(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
  session: Session,
): Promise<Session> {
  const token = await signSession(app, session)
  reply.setCookie(cookieName(app), token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: app.config.issuer.startsWith('https:'),
    maxAge: app.config.sessionTtlSeconds,
  })
  memo.set(req, session)
  return session
}

/** The cookie value of a session: a JWS that any instance sharing the secret can verify. */
export async function signSession(app: FastifyInstance, session: Session): Promise<string> {
  const now = app.now()
  const ttl = app.config.sessionTtlSeconds
  return new SignJWT({
    csrf: session.csrf,
    ims: session.issuedMs,
    ...(session.userId !== null ? { uid: session.userId } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', kid: app.keyrings.session.current.kid, typ: TYP })
    .setIssuer(app.config.issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(await app.keyrings.session.current.hs256())
}

/** The session, creating an anonymous one (with a CSRF nonce) when there is none. */
export async function ensureSession(app: FastifyInstance, req: FastifyRequest, reply: FastifyReply): Promise<Session> {
  return (
    (await readSession(app, req)) ??
    writeSession(app, req, reply, { userId: null, csrf: randomBytes(24).toString('base64url'), issuedMs: app.nowMs() })
  )
}

/** Signs a user in with a fresh CSRF nonce (no session fixation), issued after any sign-out. */
export async function startSession(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
  userId: number,
): Promise<void> {
  const issuedMs = Math.max(app.nowMs(), (await app.store.sessions.validAfter(userId)) + 1)
  await writeSession(app, req, reply, { userId, csrf: randomBytes(24).toString('base64url'), issuedMs })
}

/**
 * Signs the user out everywhere: every session issued to them until now is void on every
 * instance (a copied cookie included), and this browser's cookie is cleared.
 */
export async function endSession(app: FastifyInstance, reply: FastifyReply, userId: number): Promise<void> {
  await app.store.sessions.endAll(userId, app.nowMs())
  reply.clearCookie(cookieName(app), {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: app.config.issuer.startsWith('https:'),
  })
}

/** Refuses a POST whose csrf field does not match the session's nonce. */
export function checkCsrf(session: Session | null, token: unknown): void {
  if (!session || typeof token !== 'string' || token === '' || !safeEqual(token, session.csrf)) {
    throw new PageError(
      403,
      'Form expired',
      'This form is no longer valid (missing or wrong CSRF token). Go back, reload the page and try again.',
    )
  }
}

const RETURN_BASE = 'http://keygate.invalid'

/**
 * Only local paths may be returned to after sign-in: no scheme, no host, no "//", no
 * backslash or control character. What is kept is re-encoded by the URL parser, so it is
 * plain ASCII and always a valid Location header; anything else becomes /dashboard.
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length > 4000 || !value.startsWith('/') || value.startsWith('//'))
    return '/dashboard'
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\\\s\x00-\x1f\x7f]/.test(value)) return '/dashboard'
  let url: URL
  try {
    url = new URL(value, RETURN_BASE)
  } catch {
    return '/dashboard'
  }
  if (url.origin !== RETURN_BASE) return '/dashboard'
  const local = url.pathname + url.search
  return /^\/[\x21-\x7e]*$/.test(local) && !local.startsWith('//') ? local : '/dashboard'
}
