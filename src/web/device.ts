// The device flow's pages (RFC 8628 §3.3): /device asks a signed-in person (any sign-in
// mode: /login sends them through it and back) for the code their device shows, then shows
// the same consent page as a browser's authorization, whose decision the device's next poll
// at /token picks up. Code entries are counted before the code is looked up, per user and
// per address (the sign-in throttle's table and rule): a wrong code cannot be tied to a
// device code, so it is the guesser who is slowed and then locked out.
import { createHmac } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { consentPage, deniedIn, recordConsent } from '../oauth/authorize.js'
import { formatUserCode, normalizeUserCode, userCodeProblem } from '../oauth/device.js'
import { currentUser } from '../pages/current-user.js'
import { renderPage } from '../pages/render.js'
import { checkCsrf, readSession } from '../pages/session.js'
import { limit } from '../plugins/rate-limit.js'
import { audit } from '../shared/audit.js'
import { PageError } from '../shared/errors.js'
import { readFields, textField, ticked } from '../shared/request-fields.js'
import { cleanName } from '../shared/text.js'
import type { DeviceGrant, SigninBuckets, SigninLimits, User } from '../store/types.js'

/**
 * Code entries: from one address, 20 in 15 minutes, then that address is locked out until
 * the window ends; one user, past 5 in the window, one entry every 30 seconds.
 */
export const DEVICE_ENTRY_LIMITS: SigninLimits = {
  windowSeconds: 900,
  maxPerAddress: 20,
  emailCeiling: 5,
  slowSeconds: 30,
}

const text = textField(64)
const codeQuery = z.object({ user_code: text })
const codeForm = codeQuery.extend({ csrf: textField(1024) })
const decisionForm = codeForm.extend({ decision: text, account_id: text, scope_choice: ticked })

function buckets(app: FastifyInstance, userId: number, address: string): SigninBuckets {
  const mac = (label: string, part: string) =>
    createHmac('sha256', app.keyrings.signin.current.key).update(`${label}\n${part}`).digest('base64url')
  return { address: `da:${mac('device-address', address)}`, email: `du:${mac('device-user', String(userId))}` }
}

async function signedIn(app: FastifyInstance, req: FastifyRequest): Promise<User> {
  const user = await currentUser(app, req)
  if (!user) throw new PageError(401, 'Signed out', 'Your session has ended. Open the link from your device again.')
  return user
}

export default async function deviceRoutes(app: FastifyInstance): Promise<void> {
  const PAGE = { config: { kind: 'page' as const, ...limit(app, 'authorize') } }

  app.get('/device', PAGE, async (req, reply) => {
    const code = normalizeUserCode(readFields(codeQuery, req.query).user_code)
    const user = await currentUser(app, req)
    // Back here after sign-in with the code, and nothing else the query held.
    const back = code ? `/device?user_code=${formatUserCode(code)}` : '/device'
    if (!user) return reply.redirect(`/login?return_to=${encodeURIComponent(back)}`, 302)
    reply.header('x-frame-options', 'DENY')
    return renderPage(app, req, reply, 'device', { userCode: code ? formatUserCode(code) : '', problem: null }, user)
  })

  /** The code entered: counted, then looked up; the consent page when it names a waiting device. */
  app.post('/device', PAGE, async (req, reply) => {
    const form = readFields(codeForm, req.body)
    checkCsrf(await readSession(app, req), form.csrf)
    const user = await signedIn(app, req)
    const now = app.now()
    const verdict = await app.store.signins.attempt(buckets(app, user.id, req.ip), now, DEVICE_ENTRY_LIMITS)
    if (!verdict.allowed) {
      reply.header('retry-after', String(verdict.retryAfter))
      throw new PageError(
        429,
        'Too many codes',
        `Too many codes were entered. Try again in ${Math.ceil(verdict.retryAfter / 60)} minute(s).`,
      )
    }
    const code = normalizeUserCode(form.user_code)
    const grant = code && (await app.store.devices.pendingByUserCode(code, now))
    if (!grant) {
      reply.code(400).header('x-frame-options', 'DENY')
      return renderPage(
        app,
        req,
        reply,
        'device',
        {
          userCode: form.user_code,
          problem: code
            ? 'That code is not waiting for approval: it may have expired or been used. Check the code on your device.'
            : userCodeProblem(form.user_code),
        },
        user,
      )
    }
    return showConsent(app, req, reply, user, grant)
  })

  app.post('/device/approve', PAGE, async (req, reply) => {
    const form = readFields(decisionForm, req.body)
    checkCsrf(await readSession(app, req), form.csrf)
    const user = await signedIn(app, req)
    const code = normalizeUserCode(form.user_code)
    const grant = code && (await app.store.devices.pendingByUserCode(code, app.now()))
    if (!grant)
      throw new PageError(
        400,
        'Code expired',
        'This device code expired or was decided already. Start again on your device.',
      )
    const client = await app.store.clients.byId(grant.clientId)
    if (!client)
      throw new PageError(400, 'Unknown application', 'The application of this code is no longer registered.')
    if (form.decision !== 'approve') {
      await app.store.devices.decide(grant.id, { approved: false }, app.now())
      await audit(app, req, {
        event: 'consent_denied',
        accountId: await deniedIn(app, user, form.account_id),
        actorUserId: user.id,
        subject: client.clientId,
        detail: { via: 'device' },
      })
      return renderPage(
        app,
        req,
        reply,
        'device-done',
        { approved: false, clientName: cleanName(client.clientName) },
        user,
      )
    }
    const { accountId, scopes, granted } = await recordConsent(app, req, user, client, grant.scopes, form, 'device')
    const decided = await app.store.devices.decide(
      grant.id,
      { approved: true, userId: user.id, accountId, scopes, consentCreatedAt: granted.createdAt },
      app.now(),
    )
    if (!decided)
      throw new PageError(
        400,
        'Code expired',
        'This device code expired or was decided already. Start again on your device.',
      )
    const account = await app.store.accounts.byId(accountId)
    return renderPage(
      app,
      req,
      reply,
      'device-done',
      { approved: true, clientName: cleanName(client.clientName), accountName: account?.name ?? '' },
      user,
    )
  })
}

async function showConsent(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: import('fastify').FastifyReply,
  user: User,
  grant: DeviceGrant,
) {
  const client = await app.store.clients.byId(grant.clientId)
  if (!client) throw new PageError(400, 'Unknown application', 'The application of this code is no longer registered.')
  return consentPage(app, req, reply, user, {
    client,
    redirectUri: null,
    scopes: grant.scopes,
    hidden: [['user_code', formatUserCode(grant.userCode)]],
    action: '/device/approve',
    returnTo: `/device?user_code=${formatUserCode(grant.userCode)}`,
  })
}
