// Sign-in with local users (scrypt). Attempts are counted in the database before the
// password is checked (docs/security.md: per email and address, and per email), so the
// limits hold under any concurrency and across instances; failures are audited.
import { createHmac } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { dummyPasswordHash, verifyPassword } from '../crypto/password.js'
import { currentUser } from '../pages/current-user.js'
import { renderPage } from '../pages/render.js'
import { checkCsrf, endSession, ensureSession, readSession, safeReturnTo, startSession } from '../pages/session.js'
import { limit } from '../plugins/rate-limit.js'
import { audit } from '../shared/audit.js'
import { readFields, textField } from '../shared/request-fields.js'
import type { SigninBuckets, SigninLimits } from '../store/types.js'
import { connectingApp } from './connecting.js'

const MAX_FIELD = 1024

/** The throttle's two buckets, keyed (HMAC) so the table holds no email and no address. */
function signinBuckets(app: FastifyInstance, email: string, address: string): SigninBuckets {
  const mac = (text: string) => createHmac('sha256', app.keyrings.signin.current.key).update(text).digest('base64url')
  return { address: `a:${mac(`${email}\n${address}`)}`, email: `e:${mac(email)}` }
}

function signinLimits(app: FastifyInstance): SigninLimits {
  const c = app.config
  return {
    windowSeconds: c.loginWindowSeconds,
    maxPerAddress: c.loginMaxFailures,
    emailCeiling: c.loginEmailCeiling,
    slowSeconds: c.loginSlowSeconds,
  }
}

const text = textField(MAX_FIELD)
// return_to is not cut: safeReturnTo refuses one that is too long rather than shorten it.
const returnField = textField(8192)
const loginForm = z.object({ csrf: text, email: text, password: text, return_to: returnField })
const logoutForm = z.object({ csrf: text, return_to: returnField })
const returnQuery = z.object({ return_to: returnField })

const PAGE = { config: { kind: 'page' as const } }

export default async function loginRoutes(app: FastifyInstance): Promise<void> {
  if (app.config.login.mode === 'local') await passwordRoutes(app)

  app.get('/logout', PAGE, async (req, reply) => {
    const user = await currentUser(app, req)
    if (!user) return reply.redirect('/login', 303)
    return renderPage(app, req, reply, 'logout', {}, user)
  })

  app.post('/logout', PAGE, async (req, reply) => {
    const session = await readSession(app, req)
    const form = readFields(logoutForm, req.body)
    checkCsrf(session, form.csrf)
    const user = await currentUser(app, req)
    if (user) await endSession(app, reply, user.id)
    // Signed out from the consent page (to use another account): the next sign-in comes back
    // to the same authorization request.
    const signIn = form.return_to ? `/login?return_to=${encodeURIComponent(safeReturnTo(form.return_to))}` : '/login'
    // Signed in through the product, /login would sign straight back in: say it is done,
    // and offer the product's own sign-out.
    if (app.config.login.mode !== 'local' || app.config.logoutUrl)
      return renderPage(app, req, reply, 'signed-out', { logoutUrl: app.config.logoutUrl ?? null, signInAgain: signIn })
    return reply.redirect(signIn, 303)
  })

  app.get('/', PAGE, async (req, reply) => {
    await ensureSession(app, req, reply)
    return reply.redirect((await currentUser(app, req)) ? '/dashboard' : '/login', 303)
  })
}

/** Sign-in with keygate's own users and passwords (KEYGATE_LOGIN=local). */
async function passwordRoutes(app: FastifyInstance): Promise<void> {
  app.get('/login', PAGE, async (req, reply) => {
    const returnTo = safeReturnTo(readFields(returnQuery, req.query).return_to)
    if (await currentUser(app, req)) return reply.redirect(returnTo, 303)
    return renderPage(app, req, reply, 'login', {
      returnTo,
      email: '',
      error: null,
      connecting: await connectingApp(app, returnTo),
    })
  })

  app.post('/login', { config: { kind: 'page', ...limit(app, 'login') } }, async (req, reply) => {
    const fields = readFields(loginForm, req.body)
    checkCsrf(await readSession(app, req), fields.csrf)
    const email = fields.email.trim().toLowerCase()
    const password = fields.password
    const returnTo = safeReturnTo(fields.return_to)
    const buckets = signinBuckets(app, email, req.ip)
    // Counted before the (slow) password check, atomically: parallel guesses cannot outrun it.
    const verdict = await app.store.signins.attempt(buckets, app.now(), signinLimits(app))
    if (!verdict.allowed) {
      reply.code(429).header('retry-after', String(verdict.retryAfter))
      const wait =
        verdict.retryAfter >= 120 ? `${Math.ceil(verdict.retryAfter / 60)} minutes` : `${verdict.retryAfter} seconds`
      return renderPage(app, req, reply, 'login', {
        returnTo,
        email,
        connecting: await connectingApp(app, returnTo),
        error: `Too many failed sign-ins for this email. Try again in ${wait}.`,
      })
    }
    const user = email ? await app.store.users.byEmail(email) : undefined
    // Verify against a dummy hash for unknown emails so timing does not reveal which exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash(app.config.scryptCost)))
    // A disabled user fails like a wrong password: the page tells nothing more.
    if (!user || !ok || user.disabledAt !== null) {
      const personal = user
        ? (await app.store.accounts.membershipsOf(user.id)).find((m) => m.account.kind === 'personal')
        : undefined
      // The subject is a known user's email only: whatever else was typed (a password in the
      // email field, say) is never stored.
      await audit(app, req, {
        event: 'signin_failed',
        subject: user?.email ?? null,
        actorUserId: user?.id ?? null,
        accountId: personal?.account.id ?? null,
      })
      reply.code(401)
      return renderPage(app, req, reply, 'login', {
        returnTo,
        email,
        error: 'Wrong email or password.',
        connecting: await connectingApp(app, returnTo),
      })
    }
    await app.store.signins.succeeded(buckets)
    await startSession(app, req, reply, user.id)
    return reply.redirect(returnTo, 303)
  })
}
