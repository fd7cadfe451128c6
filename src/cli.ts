// The keygate command line. Each command prints its result on stdout; an error prints one
// line on stderr and exits non-zero.

import { randomBytes } from 'node:crypto'
import { adminCommands } from './cli-admin.js'
import { type Command, findAccount, findUser, now, parse, required, UsageError } from './cli-common.js'
import { type Config, ConfigError, loadConfig } from './config.js'
import { sha256Hex } from './crypto/compare.js'
import { hashPassword } from './crypto/password.js'
import { createManualKey, keyStatus, revokeKey } from './keys/manual.js'
import { checkRedirectUriForRegistration } from './oauth/redirect-uri.js'
import { createStore } from './store/index.js'
import { ConflictError, ForeignKeyError, type Role } from './store/types.js'

export const HELP = `keygate: an OAuth 2.1 gateway that turns API keys into MCP access tokens

Usage: keygate <command> [options]

Commands:
  serve                                              start the server (configured by KEYGATE_* variables)
  user add --email E --password P [--name N]         create a user and their personal account
  account add --name N --owner EMAIL                 create a team account owned by EMAIL
  member add --account A --email E [--role R]        add a user to an account (R: owner|admin|member, default member)
  member remove --account A --email E                end a membership: the member's keys there revoked
  member role --account A --email E --role R         another role (keys the role may not grant are revoked)
  account list                                       accounts with their member counts
  user list                                          users and whether they are disabled
  user disable --email E                             no sign-in, sessions ended, keys revoked
  user remove --email E                              disabled, every membership ended, the email freed
  user password --email E --password P               a new password (local sign-in); sessions ended
  key create --email E --account A --name N [--scopes "read write"]
                                                     create an API key (printed once)
  key list [--account A]                             list keys (never the keys themselves)
  key revoke ID                                      revoke a key: its next request gets 401
  client add --name N --redirect-uri URI... [--confidential]
                                                     pre-register an OAuth client (secret printed once)
  client list                                        every client: id, name, source, status
  client show ID                                     one client in full
  client disable ID                                  its keys revoked, its consents deleted, its authorizations refused
  client remove ID                                   disabled and deleted with its consents and tokens
  keys rotate [--alg ES256|RS256]                    a new ID-token signing key: published now, signing after
                                                     KEYGATE_SIGNING_KEY_GRACE; the old one published until its tokens expire
  keys list                                          the published signing keys
  migrate [--status]                                 apply pending database migrations (also done at start),
                                                     or list them as applied or pending
  stdio --url URL                                    serve MCP on stdin/stdout, relayed to a remote /mcp
                                                     with the API key from KEYGATE_API_KEY, or the one
                                                     keygate login stored for URL
  login --url URL                                    sign in to a remote keygate from this machine (device
                                                     flow) and store its key for keygate stdio
  logout --url URL                                   revoke and forget the stored key for URL
  help                                               this text

Accounts (A) are given by id or by name. See docs/configuration.md for the configuration variables.`

export type Io = { out: (line: string) => void; err: (line: string) => void; env: NodeJS.ProcessEnv }

const defaultIo: Io = { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }

function checkScopes(config: Config, raw: string | undefined): string[] {
  if (raw === undefined) return [...config.scopes]
  const scopes = [...new Set(raw.split(/[\s,]+/).filter(Boolean))]
  const unknown = scopes.find((s) => !config.scopes.includes(s))
  if (unknown) throw new UsageError(`unknown scope ${unknown} (known: ${config.scopes.join(' ')})`)
  for (const s of config.alwaysScopes) if (!scopes.includes(s)) scopes.unshift(s)
  return scopes
}

const commands: Record<string, Command> = {
  ...adminCommands,
  async 'user add'(args, { config, store, io }) {
    if (config.login.mode !== 'local')
      throw new UsageError(
        `user add is not used with KEYGATE_LOGIN=${config.login.mode}: people sign in through the product`,
      )
    const { values } = parse(args, {
      email: { type: 'string' },
      password: { type: 'string' },
      name: { type: 'string' },
    })
    const email = required(values, 'email').toLowerCase()
    const password = required(values, 'password')
    if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254)
      throw new UsageError(`--email ${email} is not an email address`)
    if (password.length < 8) throw new UsageError('--password must be at least 8 characters')
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
    if (!(await store.admin.addMember(account.id, user.id, role, now()))) throw new UsageError('that already exists')
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
      throw new UsageError('usage: keygate key revoke ID')
    const key = await store.keys.byId(id)
    if (!key) throw new UsageError(`no key ${id}`)
    if (!(await revokeKey(store, key, { userId: null, ip: null, via: 'cli' }, now())))
      throw new UsageError(`key ${id} was already revoked`)
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

function describe(err: unknown): string {
  if (err instanceof UsageError || err instanceof ConfigError) return err.message
  if (err instanceof ConflictError) return 'that already exists'
  if (err instanceof ForeignKeyError) return 'the user is not a member of that account'
  return (err as Error).message
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const [first, second, ...rest] = argv
  try {
    if (!first || first === 'help' || first === '--help' || first === '-h') {
      io.out(HELP)
      return 0
    }
    if (first === 'serve') {
      const { startServer } = await import('./server.js')
      await startServer(loadConfig(io.env, { warn: io.err }), io.out)
      return 0
    }
    if (first === 'migrate') {
      if (second !== undefined && second !== '--status') throw new UsageError(`unknown option ${second} for migrate`)
      const { migrateCommand } = await import('./store/index.js')
      await migrateCommand(loadConfig(io.env, { warn: io.err }), second === '--status', io.out)
      return 0
    }
    if (first === 'stdio') {
      const { runStdioBridge } = await import('./stdio-bridge.js')
      return await runStdioBridge(argv.slice(1), io)
    }
    if (first === 'login' || first === 'logout') {
      const { runLogin, runLogout } = await import('./device-login.js')
      return await (first === 'login' ? runLogin : runLogout)(argv.slice(1), io)
    }
    const command = commands[`${first} ${second ?? ''}`]
    if (!command) throw new UsageError(`unknown command "${argv.slice(0, 2).join(' ')}" (see keygate --help)`)
    const config = loadConfig(io.env, { warn: io.err })
    const store = await createStore(config)
    try {
      await command(rest, { config, store, io })
    } finally {
      await store.close()
    }
    return 0
  } catch (err) {
    io.err(`keygate: ${describe(err)}`)
    return 1
  }
}
