// Sign-in with local users (scrypt). Failed attempts are audited and throttled per email
// through the audit table, so the limit holds across instances.
import type { FastifyInstance } from 'fastify'
import { audit } from '../audit.js'
import { DUMMY_PASSWORD_HASH, verifyPassword } from '../crypto/password.js'
import { currentUser } from './current-user.js'
import { renderPage } from './pages.js'
import { limit } from '../plugins/rate-limit.js'
import { checkCsrf, endSession, ensureSession, readSession, safeReturnTo, startSession } from './session.js'

const MAX_FIELD = 1024

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name]
  return typeof value === 'string' ? value.slice(0, MAX_FIELD) : ''
}

export default async function loginRoutes(app: FastifyInstance): Promise<void> {
  app.get('/login', async (req, reply) => {
    const returnTo = safeReturnTo((req.query as Record<string, unknown>).return_to)
    if (await currentUser(app, req)) return reply.redirect(returnTo, 303)
    return renderPage(app, req, reply, 'login', { returnTo, email: '', error: null })
  })

  app.post('/login', { config: limit(app, 'login') }, async (req, reply) => {
    checkCsrf(await readSession(app, req), field(req.body, 'csrf'))
    const email = field(req.body, 'email').trim().toLowerCase()
    const password = field(req.body, 'password')
    const returnTo = safeReturnTo(field(req.body, 'return_to'))
    const { loginMaxFailures, loginWindowSeconds } = app.config
    const failures = email ? await app.store.audit.count('signin_failed', email, app.now() - loginWindowSeconds) : 0
    if (failures >= loginMaxFailures) {
      reply.code(429).header('retry-after', String(loginWindowSeconds))
      return renderPage(app, req, reply, 'login', {
        returnTo,
        email,
        error: `Too many failed sign-ins for this email. Try again in ${Math.ceil(loginWindowSeconds / 60)} minutes.`,
      })
    }
    const user = email ? await app.store.users.byEmail(email) : undefined
    // Verify against a dummy hash for unknown emails so timing does not reveal which exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH)
    if (!user || !ok) {
      const personal = user ? (await app.store.accounts.membershipsOf(user.id)).find((m) => m.account.kind === 'personal') : undefined
      await audit(app, req, { event: 'signin_failed', subject: email || null, actorUserId: user?.id ?? null, accountId: personal?.account.id ?? null })
      reply.code(401)
      return renderPage(app, req, reply, 'login', { returnTo, email, error: 'Wrong email or password.' })
    }
    await startSession(app, req, reply, user.id)
    return reply.redirect(returnTo, 303)
  })

  app.get('/logout', async (req, reply) => {
    const user = await currentUser(app, req)
    if (!user) return reply.redirect('/login', 303)
    return renderPage(app, req, reply, 'logout', {}, user)
  })

  app.post('/logout', async (req, reply) => {
    checkCsrf(await readSession(app, req), field(req.body, 'csrf'))
    endSession(app, reply)
    return reply.redirect('/login', 303)
  })

  app.get('/', async (req, reply) => {
    await ensureSession(app, req, reply)
    return reply.redirect((await currentUser(app, req)) ? '/dashboard' : '/login', 303)
  })
}
