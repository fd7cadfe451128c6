// Members of a team account, managed by its owners in the dashboard when keygate signs people
// in itself (KEYGATE_LOGIN=local; the product manages them otherwise): add an existing user,
// change a role, remove (after a confirmation). Each change is audited; a removal revokes the
// member's keys in the account and deletes their consents there; a role that may grant less
// revokes the keys that exceed it; the last owner stays.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { renderPage } from '../pages/render.js'
import { audit } from '../shared/audit.js'
import { PageError } from '../shared/errors.js'
import { readFields, textField } from '../shared/request-fields.js'
import type { MemberChange } from '../store/admin.js'
import type { Role, User } from '../store/types.js'
import { managesMembers, notFound, parseId, signedInPost } from './dashboard.js'

const ROLES: Role[] = ['owner', 'admin', 'member']
const text = textField(4096)
const addForm = z.object({ csrf: text, account_id: text, email: textField(320), role: text })
const roleForm = z.object({ csrf: text, account_id: text, role: text })
const removeForm = z.object({ csrf: text, account_id: text, confirm: text })
const memberParams = z.object({ userId: text })

const PAGE = { config: { kind: 'page' as const } }

/** The team account the owner acts on; 404 for anything else. */
async function ownedAccount(app: FastifyInstance, user: User, raw: string) {
  const id = parseId(raw)
  const membership = (await app.store.accounts.membershipsOf(user.id)).find((m) => m.account.id === id)
  if (!membership || !managesMembers(app, membership)) throw notFound()
  return membership.account
}

/** The account the owner acts on and the member of it the URL names; 404 for anything else. */
async function memberTarget(app: FastifyInstance, req: FastifyRequest, user: User, accountId: string) {
  const account = await ownedAccount(app, user, accountId)
  const memberId = parseId(readFields(memberParams, req.params).userId)
  const member = memberId === null ? undefined : await app.store.users.byId(memberId)
  if (!member || !(await app.store.accounts.roleOf(member.id, account.id))) throw notFound()
  return { account, member }
}

function refused(change: Extract<MemberChange, { ok: false }>): PageError {
  return change.reason === 'last_owner'
    ? new PageError(409, 'The last owner', 'An account keeps at least one owner: make someone else owner first.')
    : notFound()
}

function role(raw: string): Role {
  if (!ROLES.includes(raw as Role)) throw new PageError(400, 'Invalid role', 'Choose owner, admin or member.')
  return raw as Role
}

export default async function memberRoutes(app: FastifyInstance): Promise<void> {
  app.post('/dashboard/members', PAGE, async (req, reply) => {
    const { user, body } = await signedInPost(app, req, addForm)
    const account = await ownedAccount(app, user, body.account_id)
    const chosen = role(body.role)
    const member = await app.store.users.byEmail(body.email.trim().toLowerCase())
    if (!member || member.disabledAt !== null)
      throw new PageError(404, 'No such user', 'There is no user with that email here. Ask the operator to create one.')
    if (!(await app.store.admin.addMember(account.id, member.id, chosen, app.now())))
      throw new PageError(409, 'Already a member', `${member.email} is a member of ${account.name} already.`)
    await audit(app, req, {
      event: 'member_added',
      accountId: account.id,
      actorUserId: user.id,
      subject: member.email,
      detail: { role: chosen },
    })
    return reply.redirect(`/dashboard?account=${account.id}&done=member_added`, 303)
  })

  app.post('/dashboard/members/:userId/role', PAGE, async (req, reply) => {
    const { user, body } = await signedInPost(app, req, roleForm)
    const { account, member } = await memberTarget(app, req, user, body.account_id)
    const chosen = role(body.role)
    const change = await app.store.admin.setRole(account.id, member.id, chosen, app.now(), app.config.roleScopes)
    if (!change.ok) throw refused(change)
    await audit(app, req, {
      event: 'membership_role_changed',
      accountId: account.id,
      actorUserId: user.id,
      subject: member.email,
      detail: { role: chosen, previous_role: change.previousRole, revoked_keys: change.revokedKeys },
    })
    return reply.redirect(`/dashboard?account=${account.id}&done=role_changed`, 303)
  })

  app.post('/dashboard/members/:userId/remove', PAGE, async (req, reply) => {
    const { user, body } = await signedInPost(app, req, removeForm)
    const { account, member } = await memberTarget(app, req, user, body.account_id)
    if (body.confirm !== 'yes') return renderPage(app, req, reply, 'confirm-member', { member, account }, user)
    const change = await app.store.admin.removeMember(account.id, member.id, app.now())
    if (!change.ok) throw refused(change)
    await audit(app, req, {
      event: 'membership_removed',
      accountId: account.id,
      actorUserId: user.id,
      subject: member.email,
      detail: { role: change.previousRole, revoked_keys: change.revokedKeys },
    })
    return reply.redirect(`/dashboard?account=${account.id}&done=member_removed`, 303)
  })
}
