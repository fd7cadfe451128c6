// The dashboard: accounts, API keys (create, revoke), connected apps (disconnect) and the
// audit log. Owners and admins see and revoke every key of an account; members only their
// own. A key or account the user has no membership in answers 404, as if it did not exist.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { roleAllows, scopesFor } from '../config/roles.js'
import { createManualKey, keyStatus, revokeKey } from '../keys/manual.js'
import { currentUser } from '../pages/current-user.js'
import { renderPage } from '../pages/render.js'
import { checkCsrf, readSession } from '../pages/session.js'
import { audit } from '../shared/audit.js'
import { PageError } from '../shared/errors.js'
import { readFields, textField, ticked } from '../shared/request-fields.js'
import { type ApiKey, type Membership, ProductTableRefused, type Role, type User } from '../store/types.js'
import { sentences } from './audit-sentences.js'

const AUDIT_PAGE = 50
const EXPIRY_DAYS = [7, 30, 90, 365]
const MAX_NAME = 100

// Each form and query has its schema; a field that is not one string reads as '' and the
// checks below answer with a page (a stale form, an unknown key, a name out of bounds).
const text = textField(4096)
const keyForm = z.object({
  csrf: text,
  account_id: text,
  name: textField(MAX_NAME + 1),
  scopes: ticked,
  expires_in_days: text,
})
const revokeForm = z.object({ csrf: text, confirm: text })
const csrfForm = z.object({ csrf: text })
const accountQuery = z.object({ account: text, done: text })
const auditQuery = z.object({ account: text, before: text })
const keyParams = z.object({ id: text })
const appParams = z.object({ clientId: text })

/** What the dashboard says after an action (?done=…): fixed words, nothing from the query shown. */
export const NOTICES: Record<string, string> = {
  key_revoked: 'The key is revoked: its next request gets 401.',
  app_disconnected: 'The app is disconnected and its keys are revoked.',
  member_added: 'The member is added.',
  role_changed: 'The role is changed; keys the new role may not grant are revoked.',
  member_removed: 'The member is removed and their keys in this account are revoked.',
}

export const notFound = () =>
  new PageError(404, 'Not found', 'There is nothing here, or it belongs to an account you are not a member of.')
const canManage = (role: Role) => role === 'owner' || role === 'admin'

/** Owners of team accounts manage members in the dashboard, in local sign-in (the product manages them otherwise). */
export const managesMembers = (app: FastifyInstance, m: Membership) =>
  app.config.login.mode === 'local' && m.role === 'owner' && m.account.kind === 'team'

async function signedIn(app: FastifyInstance, req: FastifyRequest, reply: FastifyReply): Promise<User | null> {
  const user = await currentUser(app, req)
  if (!user) reply.redirect(`/login?return_to=${encodeURIComponent(req.url)}`, 303)
  return user
}

export async function signedInPost<T extends z.ZodType<{ csrf: string }>>(
  app: FastifyInstance,
  req: FastifyRequest,
  schema: T,
): Promise<{ user: User; body: z.output<T> }> {
  const body = readFields(schema, req.body)
  checkCsrf(await readSession(app, req), body.csrf)
  const user = await currentUser(app, req)
  if (!user) throw new PageError(401, 'Signed out', 'Your session has ended. Sign in again.')
  return { user, body }
}

export function parseId(raw: string): number | null {
  return /^\d{1,15}$/.test(raw) ? Number(raw) : null
}

/** The membership the request is about: ?account=ID, or the user's first account. */
function chooseAccount(memberships: Membership[], raw: string): Membership {
  if (raw === '') {
    if (memberships.length === 0) throw new PageError(403, 'No account', 'Your user belongs to no account yet.')
    return memberships[0]!
  }
  const id = parseId(raw)
  const found = memberships.find((m) => m.account.id === id)
  if (!found) throw notFound()
  return found
}

/** The key, if the user may act on it: 404 outside their accounts, 403 for a member's other keys. */
async function keyForAction(app: FastifyInstance, user: User, rawId: string): Promise<ApiKey> {
  const key = /^[0-9A-Za-z-]{1,64}$/.test(rawId) ? await app.store.keys.byId(rawId) : undefined
  if (!key || key.accountId === null) throw notFound()
  const role = await app.store.accounts.roleOf(user.id, key.accountId)
  if (!role) throw notFound()
  if (!canManage(role) && key.userId !== user.id)
    throw new PageError(
      403,
      'Not allowed',
      'Members may revoke only the keys they created. Ask an owner or admin of the account.',
    )
  return key
}

function checkScopes(app: FastifyInstance, role: Role, chosen: string[]): string[] {
  const scopes = app.config.scopes.filter((s) => app.config.alwaysScopes.includes(s) || chosen.includes(s))
  if (!roleAllows(app.config, role, scopes))
    throw new PageError(
      403,
      'Not allowed by your role',
      `As ${role} of this account you may grant: ${scopesFor(app.config, role).join(' ')}.`,
    )
  return scopes
}

function checkExpiry(app: FastifyInstance, raw: string): number | null {
  if (raw === '' || raw === 'never') return null
  const days = Number(raw)
  if (!EXPIRY_DAYS.includes(days)) throw new PageError(400, 'Invalid expiry', 'Choose an expiry from the list.')
  return app.now() + days * 86400
}

function checkName(raw: string): string {
  const name = raw.trim()
  if (name === '' || name.length > MAX_NAME)
    throw new PageError(400, 'Invalid name', `Give the key a name of 1 to ${MAX_NAME} characters.`)
  return name
}

const PAGE = { config: { kind: 'page' as const } }

export default async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  // How to add this server to an MCP client: public (the metadata's service_documentation).
  app.get('/connect', PAGE, async (req, reply) =>
    renderPage(app, req, reply, 'connect', {}, await currentUser(app, req)),
  )

  app.get('/dashboard', PAGE, async (req, reply) => {
    const user = await signedIn(app, req, reply)
    if (!user) return reply
    const memberships = await app.store.accounts.membershipsOf(user.id)
    const query = readFields(accountQuery, req.query)
    const current = chooseAccount(memberships, query.account)
    const keys = await app.store.keys.listForAccount(current.account.id, canManage(current.role) ? undefined : user.id)
    const now = app.now()
    return renderPage(
      app,
      req,
      reply,
      'dashboard',
      {
        notice: Object.hasOwn(NOTICES, query.done) ? NOTICES[query.done] : null,
        memberships,
        current,
        canManage: canManage(current.role),
        keys: keys.map((k) => ({ ...k, status: keyStatus(k, now), mine: k.userId === user.id })),
        apps: (await app.store.consents.listForUser(user.id)).map((c) => ({
          ...c,
          redirectHost: hostOf(c.redirectUris[0]),
        })),
        scopes: scopesFor(app.config, current.role).map((name) => ({
          name,
          always: app.config.alwaysScopes.includes(name),
          description: app.config.scopeCatalogue.find((s) => s.name === name)?.description ?? '',
        })),
        scopeWords: app.config.scopeCatalogue.filter((s) => s.description),
        expiryDays: EXPIRY_DAYS,
        // An owner of a team account manages its members here when keygate signs people in itself.
        members: managesMembers(app, current) ? await app.store.admin.membersOf(current.account.id) : null,
      },
      user,
    )
  })

  app.post('/dashboard/keys', PAGE, async (req, reply) => {
    const { user, body } = await signedInPost(app, req, keyForm)
    const accountId = parseId(body.account_id)
    const role = accountId === null ? undefined : await app.store.accounts.roleOf(user.id, accountId)
    if (!role || accountId === null) throw notFound()
    const { token, key } = await createManualKey(app.store, app.config.keyPrefix, {
      accountId,
      userId: user.id,
      name: checkName(body.name),
      scopes: checkScopes(app, role, body.scopes),
      expiresAt: checkExpiry(app, body.expires_in_days),
      now: app.now(),
      ip: req.ip,
      via: 'dashboard',
    }).catch((err: unknown) => {
      if (!(err instanceof ProductTableRefused)) throw err
      req.log.warn({ err }, 'the product key table refused a key')
      throw new PageError(
        409,
        'Key not created',
        "The product's key table refused a key for this account: the product does not know the account or you. Ask the operator of this server.",
      )
    })
    // The token is on this page only: never cached, never sent as a referrer.
    reply.header('referrer-policy', 'no-referrer')
    return renderPage(app, req, reply, 'key-created', { token, key, mcpUrl: app.config.resource, accountId }, user)
  })

  app.post('/dashboard/keys/:id/revoke', PAGE, async (req, reply) => {
    const { user, body } = await signedInPost(app, req, revokeForm)
    const key = await keyForAction(app, user, readFields(keyParams, req.params).id)
    if (body.confirm !== 'yes') return renderPage(app, req, reply, 'confirm-revoke', { key }, user)
    await revokeKey(app.store, key, { userId: user.id, ip: req.ip, via: 'dashboard' }, app.now())
    return reply.redirect(`/dashboard?account=${key.accountId}&done=key_revoked`, 303)
  })

  app.post('/dashboard/apps/:clientId/disconnect', PAGE, async (req, reply) => {
    const { user } = await signedInPost(app, req, csrfForm)
    const { clientId } = readFields(appParams, req.params)
    const consent = await app.store.consents.get(user.id, clientId)
    if (!consent) throw notFound()
    const { revokedKeys } = await app.store.consents.disconnect(user.id, clientId, app.now())
    await audit(app, req, {
      event: 'consent_revoked',
      accountId: consent.accountId,
      actorUserId: user.id,
      subject: clientId,
      detail: { scopes: consent.scopes },
    })
    await audit(app, req, {
      event: 'app_disconnected',
      accountId: consent.accountId,
      actorUserId: user.id,
      subject: clientId,
      detail: { revoked_keys: revokedKeys },
    })
    return reply.redirect(`/dashboard?account=${consent.accountId}&done=app_disconnected`, 303)
  })

  app.get('/dashboard/audit', PAGE, async (req, reply) => {
    const user = await signedIn(app, req, reply)
    if (!user) return reply
    const query = readFields(auditQuery, req.query)
    const current = chooseAccount(await app.store.accounts.membershipsOf(user.id), query.account)
    if (!canManage(current.role))
      throw new PageError(403, 'Not allowed', 'Only owners and admins of an account can read its audit log.')
    const before = parseId(query.before) ?? undefined
    const events = await app.store.audit.list(current.account.id, { before, limit: AUDIT_PAGE + 1 })
    const page = events.slice(0, AUDIT_PAGE)
    return renderPage(
      app,
      req,
      reply,
      'audit',
      {
        current,
        events: (await sentences(app, page)).map((text, i) => ({ ...page[i]!, text })),
        older: events.length > AUDIT_PAGE ? page.at(-1)!.id : null,
      },
      user,
    )
  })
}

function hostOf(uri: string | undefined): string {
  if (!uri) return ''
  try {
    const url = new URL(uri)
    return url.host || uri
  } catch {
    return uri
  }
}
