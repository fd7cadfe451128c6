// The commands that create and list: users, team accounts, members, API keys and
// pre-registered clients. Every change is audited (actor: the CLI).
import { randomBytes } from 'node:crypto'
import type { Config } from '../config/index.js'
import { sha256Hex } from '../crypto/compare.js'
import { hashPassword } from '../crypto/password.js'
import { createManualKey, keyStatus, revokeKey } from '../keys/manual.js'
import { checkRedirectUriForRegistration } from '../oauth/redirect-uri.js'
import type { Role } from '../store/types.js'
import {
  type Command,
  CommandError,
  checkPassword,
  findAccount,
  findUser,
  now,
  parse,
  required,
  UsageError,
} from './common.js'

function checkScopes(config: Config, raw: string | undefined): string[] {
  if (raw === undefined) return [...config.scopes]
  const scopes = [...new Set(raw.split(/[\s,]+/).filter(Boolean))]
  const unknown = scopes.find((s) => !config.scopes.includes(s))
  if (unknown) throw new UsageError(`unknown scope ${unknown} (known: ${config.scopes.join(' ')})`)
  for (const s of config.alwaysScopes) if (!scopes.includes(s)) scopes.unshift(s)
  return scopes
}

export const peopleCommands: Record<string, Command> = {
  async 'user add'(args, { config, store, io }) {
    if (config.login.mode !== 'local')
      throw new CommandError(
        `user add is not used with KEYGATE_LOGIN=${config.login.mode}: people sign in through the product`,
      )
    const { values } = parse(args, { email: { type: 'string' }, name: { type: 'string' } })
    const email = required(values, 'email').toLowerCase()
    if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254)
      throw new UsageError(`--email ${email} is not an email address`)
    const password = checkPassword(await io.password())
    const name = typeof values.name === 'string' && values.name.trim() ? values.name.trim() : email
    const user = await store.users.create({
      email,
      name,
      passwordHash: await hashPassword(password, config.scryptCost),
      createdAt: now(),
    })
    const account = await store.accounts.create({ name, kind: 'personal', ownerId: user.id, createdAt: now() })
    io.out(`user ${user.id} ${email} created, with personal account ${account.id} (${account.name})`)
  },
  async 'account add'(args, { store, io }) {
    const { values } = parse(args, { name: { type: 'string' }, owner: { type: 'string' } })
    const owner = await findUser(store, required(values, 'owner'))
    const account = await store.accounts.create({
      name: required(values, 'name'),
      kind: 'team',
      ownerId: owner.id,
      createdAt: now(),
    })
    io.out(`account ${account.id} (${account.name}) created, owned by ${owner.email}`)
  },
  async 'member add'(args, { store, io }) {
    const { values } = parse(args, { account: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' } })
    const role = (typeof values.role === 'string' ? values.role : 'member') as Role
    if (!['owner', 'admin', 'member'].includes(role)) throw new UsageError('--role must be owner, admin or member')
    const account = await findAccount(store, required(values, 'account'))
    const user = await findUser(store, required(values, 'email'))
    // A membership that ended (removed, or ended by the product) comes back.
    if (!(await store.admin.addMember(account.id, user.id, role, now()))) throw new CommandError('that already exists')
    await store.audit.record({
      createdAt: now(),
      event: 'member_added',
      accountId: account.id,
      actorUserId: null,
      subject: user.email,
      ip: null,
      detail: { role, via: 'cli' },
    })
    io.out(`${user.email} is now ${role} of account ${account.id} (${account.name})`)
  },
  async 'key create'(args, { config, store, io }) {
    const { values } = parse(args, {
      email: { type: 'string' },
      account: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
    })
    const user = await findUser(store, required(values, 'email'))
    const account = await findAccount(store, required(values, 'account'))
    const scopes = checkScopes(config, values.scopes as string | undefined)
    const { token, key } = await createManualKey(store, config.keyPrefix, {
      accountId: account.id,
      userId: user.id,
      name: required(values, 'name'),
      scopes,
      expiresAt: null,
      now: now(),
      ip: null,
      via: 'cli',
    })
    io.out(`key ${key.id} created for account ${account.id} (${account.name}), scopes: ${scopes.join(' ')}`)
    io.out('This is the only time the key is shown:')
    io.out(token)
  },
  async 'key list'(args, { store, io }) {
    const { values } = parse(args, { account: { type: 'string' } })
    const account = typeof values.account === 'string' ? await findAccount(store, values.account) : undefined
    const keys = await store.keys.list({ accountId: account?.id })
    io.out(['id', 'account', 'prefix', 'name', 'scopes', 'source', 'status'].join('\t'))
    const t = now()
    for (const k of keys)
      io.out(
        [
          k.id,
          k.accountId,
          `${k.displayPrefix}…`,
          k.name,
          k.scopes.join(' '),
          k.clientId ?? 'manual',
          keyStatus(k, t),
        ].join('\t'),
      )
  },
  async 'key revoke'(args, { store, io }) {
    const { positionals } = parse(args, {})
    const id = positionals[0]
    if (!id || !/^[0-9A-Za-z-]{1,64}$/.test(id) || positionals.length > 1)
      throw new UsageError('one key id is expected')
    const key = await store.keys.byId(id)
    if (!key) throw new CommandError(`no key ${id}`)
    if (!(await revokeKey(store, key, { userId: null, ip: null, via: 'cli' }, now())))
      throw new CommandError(`key ${id} was already revoked`)
    io.out(`key ${id} revoked`)
  },
  async 'client add'(args, { store, io }) {
    const { values } = parse(args, {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      confidential: { type: 'boolean' },
    })
    const name = required(values, 'name')
    const uris = (values['redirect-uri'] as string[] | undefined) ?? []
    if (uris.length === 0) throw new UsageError('--redirect-uri is required (repeat it for several)')
    for (const uri of uris) {
      try {
        checkRedirectUriForRegistration(uri)
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
    }
    const secret = values.confidential ? randomBytes(32).toString('base64url') : null
    const method = secret ? 'client_secret_basic' : 'none'
    const client = await store.clients.register(
      {
        clientId: randomBytes(16).toString('base64url'),
        clientName: name,
        redirectUris: uris,
        tokenEndpointAuthMethod: method,
        clientSecretHash: secret && sha256Hex(secret),
        fingerprint: null,
        source: 'cli',
        metadata: {
          client_name: name,
          redirect_uris: uris,
          token_endpoint_auth_method: method,
          response_types: ['code'],
        },
      },
      now(),
    )
    io.out(`client_id: ${client.clientId}`)
    if (secret) io.out(`client_secret: ${secret}   (shown once; authenticate with client_secret_basic)`)
  },
}
