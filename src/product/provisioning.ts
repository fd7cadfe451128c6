// The product tells keygate, server to server, that someone's accounts changed or that they
// left (KEYGATE_PROVISIONING_TOKEN, KEYGATE_LOGIN=handoff): someone who leaves never signs
// in again, so sync on sign-in alone would leave their keys working. The same sync and
// revocation as a sign-in run, in one transaction, audited.
//
// Not SCIM 2.0: SCIM's resources carry ids the service provider assigns, memberships live
// in Groups changed by PATCH operations on member lists, and clients expect filtering and
// paging; a product that already knows "this person now has these accounts" would have to
// speak all of that to say one sentence. These two calls take the sign-in assertion's own
// shape instead.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Login } from '../config/index.js'
import { safeEqual, sha256Hex } from '../crypto/compare.js'
import { ApiError } from '../shared/errors.js'
import type { MembershipChange, ProductIdentity, User } from '../store/types.js'
import { accountsClaim, auditChanges, emailClaim, unfitIds } from './sign-in.js'

const body = z.object({
  email: emailClaim,
  email_verified: z.boolean().optional(),
  name: z.string().min(1).max(200).optional(),
  accounts: accountsClaim.optional(),
})
const params = z.object({ sub: z.string().min(1).max(255) })

function subOf(req: FastifyRequest): string {
  const parsed = params.safeParse(req.params)
  if (!parsed.success) throw new ApiError(400, 'the person\u2019s id is 1-255 characters')
  return parsed.data.sub
}

const API = { config: { kind: 'api' as const } }

function checkToken(app: FastifyInstance, req: FastifyRequest): void {
  const header = req.headers.authorization
  const token = typeof header === 'string' && /^bearer /i.test(header) ? header.slice(7).trim() : ''
  if (token === '' || !safeEqual(sha256Hex(token), app.config.provisioningTokenHash!))
    throw new ApiError(401, 'the provisioning API requires the product\u2019s token (Authorization: Bearer …)', {
      headers: { 'www-authenticate': 'Bearer realm="keygate-provisioning"' },
    })
}

const json = (user: User, changes: MembershipChange[]) => ({
  user: { id: user.id, email: user.email, name: user.name },
  changes,
})

export default async function provisioningRoutes(app: FastifyInstance): Promise<void> {
  const login = app.config.login as Exclude<Login, { mode: 'local' }>
  const { issuer } = login

  /** This person now has these accounts (none listed: a personal account), as a sign-in would say. */
  app.put('/provisioning/v1/users/:sub', { ...API, bodyLimit: 64 * 1024 }, async (req) => {
    checkToken(app, req)
    const sub = subOf(req)
    const parsed = body.safeParse(req.body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new ApiError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`)
    }
    const identity: ProductIdentity = {
      issuer,
      subject: sub,
      email: parsed.data.email.toLowerCase(),
      emailVerified: parsed.data.email_verified === true || login.trustEmail,
      name: parsed.data.name ?? parsed.data.email.split('@')[0]!,
      accounts: parsed.data.accounts ?? null,
    }
    const unfit = unfitIds(app, identity)
    if (unfit) throw new ApiError(400, unfit)
    const outcome = await app.store.product.sync(identity, app.now(), app.config.roleScopes)
    if (!outcome.ok)
      throw new ApiError(
        409,
        outcome.reason === 'email_taken'
          ? 'the email belongs to another person here'
          : 'a person here has this email, and it is not known to be verified (send email_verified: true), so it is not linked to them',
      )
    await auditChanges(app, req, outcome.user, outcome.changes, 'provisioning')
    return json(outcome.user, outcome.changes)
  })

  /** This person left: every membership ends, every key of theirs in those accounts is revoked, every session ends. */
  app.delete('/provisioning/v1/users/:sub', API, async (req) => {
    checkToken(app, req)
    const sub = subOf(req)
    const removed = await app.store.product.remove(issuer, sub, app.now())
    if (!removed) throw new ApiError(404, 'no person with that id has signed in or been provisioned')
    await app.store.sessions.endAll(removed.user.id, app.nowMs())
    await auditChanges(app, req, removed.user, removed.changes, 'provisioning')
    return json(removed.user, removed.changes)
  })
}
