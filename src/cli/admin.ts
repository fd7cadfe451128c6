// The operator's commands: clients listed, shown, disabled or removed; users listed,
// disabled, removed or given a new password; members removed or given another role;
// accounts listed. Every change is audited (actor: the CLI).

import { hashPassword } from '../crypto/password.js'
import { keyring } from '../crypto/secrets.js'
import { ALGS, type Alg, rotate } from '../oauth/signing-keys.js'
import type { MemberChange } from '../store/admin.js'
import type { Role, Store } from '../store/types.js'
import {
  type Command,
  CommandError,
  checkPassword,
  findAccount,
  findUser,
  now,
  nowMs,
  parse,
  required,
  UsageError,
} from './common.js'

const ROLES: Role[] = ['owner', 'admin', 'member']

async function record(
  store: Store,
  event: string,
  fields: { accountId?: number | null; subject: string; detail?: Record<string, unknown> },
): Promise<void> {
  await store.audit.record({
    createdAt: now(),
    event,
    accountId: fields.accountId ?? null,
    actorUserId: null,
    subject: fields.subject,
    ip: null,
    detail: { ...fields.detail, via: 'cli' },
  })
}

/** The one id a command takes, as given: a client id may begin with "-", so nothing here is an option. */
function oneId(args: string[]): string {
  const given = args[0] === '--' ? args.slice(1) : args
  const id = given[0]
  if (!id || given.length > 1 || id.length > 512) throw new UsageError('one id is expected')
  return id
}

/** A membership change that happened, or the one line saying why not. */
function succeeded(change: MemberChange, email: string, accountId: number): Extract<MemberChange, { ok: true }> {
  if (change.ok) return change
  throw new CommandError(
    change.reason === 'last_owner'
      ? `${email} is the last owner of account ${accountId}: make someone else owner first`
      : `${email} is not a member of account ${accountId}`,
  )
}

const iso = (seconds: number | null) => (seconds === null ? '-' : new Date(seconds * 1000).toISOString())

export const adminCommands: Record<string, Command> = {
  async 'client list'(_args, { store, io }) {
    io.out(['client_id', 'name', 'source', 'created', 'status'].join('\t'))
    for (const c of await store.clients.list())
      io.out([c.clientId, c.clientName, c.source, iso(c.createdAt), c.disabledAt ? 'disabled' : 'active'].join('\t'))
  },
  async 'client show'(args, { store, io }) {
    const id = oneId(args)
    const c = await store.clients.byId(id)
    if (!c) throw new CommandError(`no client ${id}`)
    io.out(`client_id: ${c.clientId}`)
    io.out(`name: ${c.clientName}`)
    io.out(`source: ${c.source}`)
    io.out(`authentication: ${c.tokenEndpointAuthMethod}`)
    io.out(`redirect_uris: ${c.redirectUris.join(' ') || '-'}`)
    io.out(`created: ${iso(c.createdAt)}`)
    io.out(`status: ${c.disabledAt ? `disabled ${iso(c.disabledAt)}` : 'active'}`)
    io.out(`metadata: ${JSON.stringify(c.metadata)}`)
  },
  async 'client disable'(args, { store, io }) {
    const id = oneId(args)
    const done = await store.clients.disable(id, now())
    if (!done) throw new CommandError(`no client ${id}`)
    await record(store, 'client_disabled', { subject: id, detail: { revoked_keys: done.revokedKeys } })
    io.out(`client ${id} disabled: ${done.revokedKeys} key(s) revoked, its authorizations refused`)
  },
  async 'client remove'(args, { store, io }) {
    const id = oneId(args)
    const done = await store.clients.remove(id, now())
    if (!done) throw new CommandError(`no client ${id}`)
    await record(store, 'client_removed', { subject: id, detail: { revoked_keys: done.revokedKeys } })
    io.out(`client ${id} removed: ${done.revokedKeys} key(s) revoked, its consents deleted`)
  },
  async 'user list'(_args, { store, io }) {
    io.out(['id', 'email', 'name', 'created', 'status'].join('\t'))
    for (const u of await store.admin.listUsers())
      io.out([u.id, u.email, u.name, iso(u.createdAt), u.disabledAt ? 'disabled' : 'active'].join('\t'))
  },
  async 'user disable'(args, { store, io }) {
    const { values } = parse(args, { email: { type: 'string' } })
    const user = await findUser(store, required(values, 'email'))
    const done = (await store.admin.disableUser(user.id, now()))!
    await store.sessions.endAll(user.id, nowMs())
    await record(store, 'user_disabled', { subject: user.email, detail: { revoked_keys: done.revokedKeys } })
    io.out(`${user.email} disabled: signed out, ${done.revokedKeys} key(s) revoked`)
  },
  async 'user remove'(args, { store, io }) {
    const { values } = parse(args, { email: { type: 'string' } })
    const user = await findUser(store, required(values, 'email'))
    const done = (await store.admin.removeUser(user.id, now()))!
    if (!done.ok)
      throw new CommandError(
        `${user.email} is the only owner of ${done.lastOwnerOf.map((a) => `account ${a.id} (${a.name})`).join(', ')}: make someone else owner first`,
      )
    await store.sessions.endAll(user.id, nowMs())
    await record(store, 'user_removed', { subject: user.email, detail: { revoked_keys: done.revokedKeys } })
    io.out(`${user.email} removed: every membership ended, ${done.revokedKeys} key(s) revoked`)
  },
  async 'user password'(args, { config, store, io }) {
    if (config.login.mode !== 'local')
      throw new CommandError(
        `people sign in through the product (KEYGATE_LOGIN=${config.login.mode}): no password here`,
      )
    const { values } = parse(args, { email: { type: 'string' } })
    const user = await findUser(store, required(values, 'email'))
    const password = checkPassword(await io.password())
    await store.admin.setPassword(user.id, await hashPassword(password, config.scryptCost))
    await store.sessions.endAll(user.id, nowMs())
    await record(store, 'password_changed', { subject: user.email })
    io.out(`${user.email}: password set; their sessions are ended`)
  },
  async 'member remove'(args, { store, io }) {
    const { values } = parse(args, { account: { type: 'string' }, email: { type: 'string' } })
    const account = await findAccount(store, required(values, 'account'))
    const user = await findUser(store, required(values, 'email'))
    const change = succeeded(await store.admin.removeMember(account.id, user.id, now()), user.email, account.id)
    await record(store, 'membership_removed', {
      accountId: account.id,
      subject: user.email,
      detail: { role: change.previousRole, revoked_keys: change.revokedKeys },
    })
    io.out(`${user.email} removed from account ${account.id} (${account.name}): ${change.revokedKeys} key(s) revoked`)
  },
  async 'member role'(args, { config, store, io }) {
    const { values } = parse(args, { account: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' } })
    const role = required(values, 'role') as Role
    if (!ROLES.includes(role)) throw new UsageError('--role must be owner, admin or member')
    const account = await findAccount(store, required(values, 'account'))
    const user = await findUser(store, required(values, 'email'))
    const change = succeeded(
      await store.admin.setRole(account.id, user.id, role, now(), config.roleScopes),
      user.email,
      account.id,
    )
    await record(store, 'membership_role_changed', {
      accountId: account.id,
      subject: user.email,
      detail: { role, previous_role: change.previousRole, revoked_keys: change.revokedKeys },
    })
    io.out(`${user.email} is now ${role} of account ${account.id} (${account.name})`)
  },
  async 'keys rotate'(args, { config, store, io }) {
    const { values } = parse(args, { alg: { type: 'string' } })
    const alg = (typeof values.alg === 'string' ? values.alg : 'ES256') as Alg
    if (!ALGS.includes(alg)) throw new UsageError('--alg must be ES256 or RS256')
    const encryption = keyring('signing-key-encryption', config.secret, config.previousSecrets)
    const done = await rotate(store.signingKeys, encryption, alg, now(), config.signingKeyGrace, config.idTokenTtl)
    await record(store, 'signing_key_rotated', {
      subject: done.kid,
      detail: { alg, retired: done.retired.map((r) => r.kid) },
    })
    io.out(`new ${alg} key ${done.kid}: published now, signs from ${iso(done.signFrom)}`)
    for (const r of done.retired) io.out(`key ${r.kid}: published until ${iso(r.at)}`)
  },
  async 'keys list'(_args, { store, io }) {
    io.out(['kid', 'alg', 'created', 'signs from', 'published until'].join('\t'))
    for (const k of await store.signingKeys.live(now()))
      io.out([k.kid, k.alg, iso(k.createdAt), iso(k.signFrom), iso(k.retireAt)].join('\t'))
  },
  async 'account list'(_args, { store, io }) {
    io.out(['id', 'name', 'kind', 'members', 'created'].join('\t'))
    for (const a of await store.admin.listAccounts())
      io.out([a.id, a.name, a.kind, a.members, iso(a.createdAt)].join('\t'))
  },
}
