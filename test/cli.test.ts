import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { promisify } from 'node:util'
import t from 'tap'
import { main } from '../src/cli.js'
import { hashToken, isWellFormedToken } from '../src/keys/format.js'
import { createStore } from '../src/store/index.js'
import { tempDir, testConfig, testEnv } from './helper.js'

function cli(dir: string) {
  const env = testEnv(dir)
  return async (...argv: string[]) => {
    const out: string[] = []
    const err: string[] = []
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env })
    return { code, out, err }
  }
}

t.test('users, accounts, members, keys and clients from the CLI', async (t) => {
  const dir = tempDir(t)
  const run = cli(dir)
  t.match(
    await run('user add', '--email', 'alice@example.com', '--password', 'long password', '--name', 'Alice').then(
      (r) => r.code,
    ),
    1,
    'a command is two words',
  )
  const alice = await run(
    'user',
    'add',
    '--email',
    'Alice@Example.com',
    '--password',
    'long password',
    '--name',
    'Alice',
  )
  t.equal(alice.code, 0)
  t.match(alice.out[0], /^user 1 alice@example.com created, with personal account 1 \(Alice\)$/)
  t.equal((await run('user', 'add', '--email', 'bob@example.com', '--password', 'long password')).code, 0)
  const team = await run('account', 'add', '--name', 'Acme', '--owner', 'alice@example.com')
  t.match(team.out[0], /^account 3 \(Acme\) created, owned by alice@example.com$/)
  t.same((await run('member', 'add', '--account', 'Acme', '--email', 'bob@example.com', '--role', 'admin')).out, [
    'bob@example.com is now admin of account 3 (Acme)',
  ])

  const key = await run(
    'key',
    'create',
    '--email',
    'bob@example.com',
    '--account',
    '3',
    '--name',
    'laptop',
    '--scopes',
    'read',
  )
  t.equal(key.code, 0)
  const raw = key.out[2]!
  t.ok(isWellFormedToken(raw, 'kg_'))
  const list = await run('key', 'list', '--account', 'Acme')
  t.match(list.out[1], /^1\t3\tkg_\w{8}…\tlaptop\tread\tmanual\tactive$/)
  t.notOk(list.out.join('\n').includes(raw), 'the raw key is never listed')
  t.same((await run('key', 'revoke', '1')).out, ['key 1 revoked'])
  t.match((await run('key', 'list')).out[1], /\trevoked$/)

  const store = await createStore(testConfig(dir))
  t.teardown(() => store.close())
  const row = await store.keys.byHash(hashToken(raw))
  t.ok(row?.revokedAt)

  const pub = await run(
    'client',
    'add',
    '--name',
    'Internal',
    '--redirect-uri',
    'https://internal.example/cb',
    '--redirect-uri',
    'http://127.0.0.1/cb',
  )
  t.equal(pub.out.length, 1)
  const conf = await run(
    'client',
    'add',
    '--name',
    'Server',
    '--redirect-uri',
    'https://server.example/cb',
    '--confidential',
  )
  t.match(conf.out[1], /^client_secret: \S{43} /)
  const clientId = conf.out[0]!.split(': ')[1]!
  const client = await store.clients.byId(clientId)
  t.equal(client?.tokenEndpointAuthMethod, 'client_secret_basic')
  t.notOk(client?.clientSecretHash?.includes(conf.out[1]!.split(' ')[1]!))
})

t.test('errors: one clear line, exit 1', async (t) => {
  const run = cli(tempDir(t))
  await run('user', 'add', '--email', 'alice@example.com', '--password', 'long password')
  const cases: Array<[string[], string]> = [
    [['frobnicate'], 'keygate: unknown command "frobnicate" (see keygate --help)'],
    [['user', 'add', '--email', 'x@example.com'], 'keygate: --password is required'],
    [['user', 'add', '--email', 'bad', '--password', 'long password'], 'keygate: --email bad is not an email address'],
    [
      ['user', 'add', '--email', 'y@example.com', '--password', 'short'],
      'keygate: --password must be at least 8 characters',
    ],
    [['user', 'add', '--email', 'alice@example.com', '--password', 'long password'], 'keygate: that already exists'],
    [['user', 'add', '--bogus'], "keygate: Unknown option '--bogus'"],
    [
      ['account', 'add', '--name', 'T', '--owner', 'nobody@example.com'],
      'keygate: no user with email nobody@example.com',
    ],
    [['member', 'add', '--account', 'Nope', '--email', 'alice@example.com'], 'keygate: no account Nope'],
    [
      ['member', 'add', '--account', '1', '--email', 'alice@example.com', '--role', 'god'],
      'keygate: --role must be owner, admin or member',
    ],
    [['member', 'add', '--account', '1', '--email', 'alice@example.com'], 'keygate: that already exists'],
    [
      ['key', 'create', '--email', 'alice@example.com', '--account', '1', '--name', 'k', '--scopes', 'admin'],
      'keygate: unknown scope admin (known: read write)',
    ],
    [['key', 'revoke', 'a;b'], 'keygate: usage: keygate key revoke ID'],
    [['keys', 'rotate', '--alg', 'HS256'], 'keygate: --alg must be ES256 or RS256'],
    [['client', 'show'], 'keygate: usage: keygate client show CLIENT_ID'],
    // Ids are the key table's: numbers in keygate's own, uuids in many a product's.
    [['key', 'revoke', 'abc'], 'keygate: no key abc'],
    [['key', 'revoke', '99'], 'keygate: no key 99'],
    [
      ['client', 'add', '--name', 'x', '--redirect-uri', 'javascript:alert(1)'],
      'keygate: redirect_uri "javascript:alert(1)" uses the forbidden scheme javascript:',
    ],
    [['client', 'add', '--name', 'x'], 'keygate: --redirect-uri is required (repeat it for several)'],
  ]
  for (const [argv, line] of cases) {
    const r = await run(...argv)
    t.equal(r.code, 1, argv.join(' '))
    t.same(r.err, [line], argv.join(' '))
  }
  const bob = await run('user', 'add', '--email', 'bob@example.com', '--password', 'long password')
  t.equal(bob.code, 0)
  const foreign = await run('key', 'create', '--email', 'bob@example.com', '--account', '1', '--name', 'k')
  t.same(
    foreign.err,
    ['keygate: the user is not a member of that account'],
    'the database refuses a key outside the membership',
  )
})

t.test('the installed bin prints help', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/keygate.js', '--help'])
  t.match(stdout, /^keygate: an OAuth 2.1 gateway/)
  t.match(stdout, /key create --email E --account A --name N/)
})

t.test('serve on a port already taken: one line, exit 1, on every store', async (t) => {
  // The store is open by then (a pool, on a database server): it is closed, or the process
  // would stay up with nothing listening.
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())))
  const port = (holder.address() as { port: number }).port
  const env = { PATH: process.env.PATH ?? '', ...testEnv(tempDir(t), { HOST: '127.0.0.1', PORT: String(port) }) }
  const child = spawn(process.execPath, ['bin/keygate.js', 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += String(d)
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const [code, signal] = await once(child, 'exit')
  clearTimeout(timer)
  t.same([code, signal], [1, null], 'it exits by itself')
  t.match(stderr, /^keygate: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/m)
})

t.test("the operator's controls: clients, users, members and accounts, each audited", async (t) => {
  const dir = tempDir(t)
  const run = cli(dir)
  await run('user', 'add', '--email', 'alice@example.com', '--password', 'long password', '--name', 'Alice')
  await run('user', 'add', '--email', 'bob@example.com', '--password', 'long password', '--name', 'Bob')
  await run('account', 'add', '--name', 'Acme', '--owner', 'alice@example.com')
  await run('member', 'add', '--account', 'Acme', '--email', 'bob@example.com', '--role', 'admin')
  const bobKey = (await run('key', 'create', '--email', 'bob@example.com', '--account', 'Acme', '--name', 'ci')).out[2]!
  const client = (
    await run('client', 'add', '--name', 'Internal', '--redirect-uri', 'https://internal.example/cb')
  ).out[0]!.replace('client_id: ', '')

  t.same(
    (await run('account', 'list')).out.slice(1).map((l) => l.split('\t').slice(0, 4)),
    [
      ['1', 'Alice', 'personal', '1'],
      ['2', 'Bob', 'personal', '1'],
      ['3', 'Acme', 'team', '2'],
    ],
  )
  t.match((await run('client', 'list')).out[1], new RegExp(`^${client}\\tInternal\\tcli\\t.*\\tactive$`))
  const shown = (await run('client', 'show', client)).out
  t.ok(shown.includes('redirect_uris: https://internal.example/cb'))
  t.ok(shown.includes('status: active'))

  // Members: a role, then removal; the last owner is kept.
  t.same((await run('member', 'role', '--account', 'Acme', '--email', 'bob@example.com', '--role', 'member')).out, [
    'bob@example.com is now member of account 3 (Acme)',
  ])
  t.same((await run('member', 'role', '--account', 'Acme', '--email', 'alice@example.com', '--role', 'admin')).err, [
    'keygate: alice@example.com is the last owner of account 3: make someone else owner first',
  ])
  t.same((await run('member', 'remove', '--account', 'Acme', '--email', 'alice@example.com')).code, 1)
  t.same((await run('member', 'remove', '--account', 'Acme', '--email', 'bob@example.com')).out, [
    'bob@example.com removed from account 3 (Acme): 1 key(s) revoked',
  ])
  t.same((await run('member', 'remove', '--account', 'Acme', '--email', 'bob@example.com')).err, [
    'keygate: bob@example.com is not a member of account 3',
  ])
  t.equal((await run('member', 'add', '--account', 'Acme', '--email', 'bob@example.com')).code, 0, 'can come back')

  // Users: password, disable, remove.
  t.same((await run('user', 'password', '--email', 'alice@example.com', '--password', 'short')).err, [
    'keygate: --password must be at least 8 characters',
  ])
  t.equal((await run('user', 'password', '--email', 'alice@example.com', '--password', 'a new long password')).code, 0)
  t.same((await run('user', 'disable', '--email', 'bob@example.com')).out, [
    'bob@example.com disabled: signed out, 0 key(s) revoked',
  ])
  t.match((await run('user', 'list')).out[2], /^2\tbob@example\.com\tBob\t.*\tdisabled$/)
  t.equal((await run('user', 'remove', '--email', 'bob@example.com')).code, 0)
  t.same((await run('user', 'remove', '--email', 'alice@example.com')).err, [
    'keygate: alice@example.com is the only owner of account 3 (Acme): make someone else owner first',
  ])
  t.match((await run('user', 'list')).out[1], /^1\talice@example\.com\tAlice\t.*\tactive$/, 'the only owner stays')
  t.equal(
    (await run('user', 'add', '--email', 'bob@example.com', '--password', 'long password')).code,
    0,
    'the email is free again',
  )

  // Clients: disable, then remove.
  t.match((await run('client', 'disable', client)).out[0], /^client .* disabled: 0 key\(s\) revoked/)
  t.ok((await run('client', 'show', client)).out.some((l) => l.startsWith('status: disabled ')))
  t.match((await run('client', 'remove', client)).out[0], /^client .* removed/)
  t.same((await run('client', 'show', client)).err, [`keygate: no client ${client}`])
  t.same((await run('client', 'disable', 'nobody')).err, ['keygate: no client nobody'])

  const store = await createStore(testConfig(dir))
  t.teardown(() => store.close())
  const bobKeyRow = await store.keys.byHash(hashToken(bobKey))
  t.not(bobKeyRow!.revokedAt, null, "the removed member's key is revoked")
  const events = [
    ...(await store.audit.list(3, { limit: 50 })).map((e) => e.event),
    ...(await store.audit.list(0, { limit: 1 })).map((e) => e.event),
  ]
  for (const event of ['member_added', 'membership_role_changed', 'membership_removed'])
    t.ok(events.includes(event), `${event} in the account's log`)
  const { rawRows } = await import('./support/raw.js')
  const unscoped = (await rawRows(testConfig(dir), 'SELECT event FROM audit_events WHERE account_id IS NULL')).map(
    (r) => r.event,
  )
  for (const event of ['password_changed', 'user_disabled', 'user_removed', 'client_disabled', 'client_removed'])
    t.ok(unscoped.includes(event), `${event} audited`)
})

t.test('a client id that begins with "-" is an id, not an option', async (t) => {
  // One id in 64 made from random base64url begins with "-".
  const dir = tempDir(t)
  const run = cli(dir)
  const store = await createStore(testConfig(dir))
  t.teardown(() => store.close())
  const id = '-dGhpcyBpcyBhbiBpZA'
  await store.clients.upsert(
    {
      clientId: id,
      clientName: 'Dash',
      redirectUris: ['https://dash.example/cb'],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      source: 'cli',
      metadata: { client_name: 'Dash', redirect_uris: ['https://dash.example/cb'] },
    },
    1_700_000_000,
  )
  t.ok((await run('client', 'show', id)).out.includes(`client_id: ${id}`))
  t.ok((await run('client', 'show', '--', id)).out.includes(`client_id: ${id}`), 'after "--" too')
  t.match((await run('client', 'disable', id)).out[0], /^client -dGhp\S+ disabled: 0 key\(s\) revoked/)
  t.same((await run('client', 'show', '--bogus')).err, ['keygate: no client --bogus'])
  t.same((await run('client', 'show', id, 'extra')).err, ['keygate: usage: keygate client show CLIENT_ID'])
  t.same((await run('client', 'show')).err, ['keygate: usage: keygate client show CLIENT_ID'])
  t.match((await run('client', 'remove', id)).out[0], /^client -dGhp\S+ removed/)
  t.same((await run('client', 'show', id)).err, [`keygate: no client ${id}`])
})

t.test('npm run bench refuses a bad setting with one line, before it starts anything', async (t) => {
  const run = promisify(execFile)(process.execPath, ['dist/bench/run.js'], {
    env: { PATH: process.env.PATH ?? '', BENCH_BULK_ROWS: 'lots' },
  })
  await t.rejects(run, { code: 2, stderr: 'bench: BENCH_BULK_ROWS must be a positive number, not "lots"\n' })
})
