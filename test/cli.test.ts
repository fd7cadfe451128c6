import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { promisify } from 'node:util'
import t from 'tap'
import { main } from '../src/cli/index.js'
import { hashToken, isWellFormedToken } from '../src/keys/format.js'
import { createStore } from '../src/store/index.js'
import { tempDir, testConfig, testEnv } from './helper.js'
import { freePort } from './support/http.js'

/** Runs the CLI in process; a password it asks for is answered with `password` (as if piped). */
function cli(dir: string, password = 'long password') {
  const env = testEnv(dir)
  const asked: number[] = []
  const run = async (...argv: string[]) => {
    const out: string[] = []
    const err: string[] = []
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env }
    const code = await main(argv, {
      ...io,
      password: async () => {
        asked.push(1)
        return password
      },
    })
    return { code, out, err }
  }
  return Object.assign(run, { asked })
}

t.test('users, accounts, members, keys and clients from the CLI', async (t) => {
  const dir = tempDir(t)
  const run = cli(dir)
  t.equal((await run('user add', '--email', 'alice@example.com')).code, 2, 'a command is two words')
  const alice = await run('user', 'add', '--email', 'Alice@Example.com', '--name', 'Alice')
  t.equal(alice.code, 0)
  t.match(alice.out[0], /^user 1 alice@example.com created, with personal account 1 \(Alice\)$/)
  t.equal((await run('user', 'add', '--email', 'bob@example.com')).code, 0)
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

t.test('errors: a wrong call exits 2 with its usage; a call that cannot be done exits 1 with one line', async (t) => {
  const run = cli(tempDir(t))
  await run('user', 'add', '--email', 'alice@example.com')
  const usage: Array<[string[], string, string]> = [
    [['user', 'add'], 'keygate: --email is required', 'usage: keygate user add --email E [--name N]'],
    [['user', 'add', '--email', 'bad'], 'keygate: --email bad is not an email address', 'usage: keygate user add'],
    [['user', 'add', '--bogus'], "keygate: Unknown option '--bogus'", 'usage: keygate user add'],
    [
      ['user', 'add', '--email', 'y@example.com', '--password', 'pw on the command line'],
      "keygate: Unknown option '--password'",
      'usage: keygate user add',
    ],
    [
      ['member', 'add', '--account', '1', '--email', 'alice@example.com', '--role', 'god'],
      'keygate: --role must be owner, admin or member',
      'usage: keygate member add --account A --email E [--role owner|admin|member]',
    ],
    [
      ['key', 'create', '--email', 'alice@example.com', '--account', '1', '--name', 'k', '--scopes', 'admin'],
      'keygate: unknown scope admin (known: read write)',
      'usage: keygate key create',
    ],
    [['key', 'revoke', 'a;b'], 'keygate: one key id is expected', 'usage: keygate key revoke ID'],
    [['keys', 'rotate', '--alg', 'HS256'], 'keygate: --alg must be ES256 or RS256', 'usage: keygate keys rotate'],
    [['client', 'show'], 'keygate: one id is expected', 'usage: keygate client show CLIENT_ID'],
    [
      ['client', 'add', '--name', 'x', '--redirect-uri', 'javascript:alert(1)'],
      'keygate: redirect_uri "javascript:alert(1)" uses the forbidden scheme javascript:',
      'usage: keygate client add',
    ],
    [
      ['client', 'add', '--name', 'x'],
      'keygate: --redirect-uri is required (repeat it for several)',
      'usage: keygate client add',
    ],
    [['migrate', '--force'], 'keygate: unknown option --force for migrate', 'usage: keygate migrate [--status]'],
    [['serve', '--port', '80'], 'keygate: serve takes no arguments', 'usage: keygate serve'],
    [['login'], 'keygate: --url is required', 'usage: keygate login --url URL'],
    [['stdio', '--url', 'not a url'], 'keygate: --url not a url is not an absolute URL', 'usage: keygate stdio'],
  ]
  for (const [argv, line, usageLine] of usage) {
    const r = await run(...argv)
    t.equal(r.code, 2, argv.join(' '))
    t.equal(r.err.length, 2, `${argv.join(' ')}: one line and the usage`)
    t.ok(r.err[0]?.startsWith(line), `${argv.join(' ')}: ${r.err[0]}`)
    t.ok(r.err[1]?.startsWith(usageLine), `${argv.join(' ')}: ${r.err[1]}`)
  }
  const failures: Array<[string[], string]> = [
    [['user', 'add', '--email', 'alice@example.com'], 'keygate: that already exists'],
    [
      ['account', 'add', '--name', 'T', '--owner', 'nobody@example.com'],
      'keygate: no user with email nobody@example.com',
    ],
    [['member', 'add', '--account', 'Nope', '--email', 'alice@example.com'], 'keygate: no account Nope'],
    [['member', 'add', '--account', '1', '--email', 'alice@example.com'], 'keygate: that already exists'],
    // Ids are the key table's: numbers in keygate's own, uuids in many a product's.
    [['key', 'revoke', 'abc'], 'keygate: no key abc'],
    [['key', 'revoke', '99'], 'keygate: no key 99'],
  ]
  for (const [argv, line] of failures) {
    const r = await run(...argv)
    t.equal(r.code, 1, argv.join(' '))
    t.same(r.err, [line], argv.join(' '))
  }
  const short = cli(tempDir(t), 'short')
  t.same(await short('user', 'add', '--email', 'y@example.com'), {
    code: 2,
    out: [],
    err: ['keygate: the password must be at least 8 characters', 'usage: keygate user add --email E [--name N]'],
  })
  const bob = await run('user', 'add', '--email', 'bob@example.com')
  t.equal(bob.code, 0)
  const foreign = await run('key', 'create', '--email', 'bob@example.com', '--account', '1', '--name', 'k')
  t.same(
    foreign.err,
    ['keygate: the user is not a member of that account'],
    'the database refuses a key outside the membership',
  )
})

t.test('the installed bin: help, version, a typo, and a password piped on standard input', async (t) => {
  const exec = promisify(execFile)
  const { stdout } = await exec(process.execPath, ['bin/keygate.js', '--help'])
  t.match(stdout, /^keygate: an OAuth 2.1 gateway/)
  t.match(stdout, /key create --email E --account A --name N/)
  const { version } = JSON.parse(readFileSync('package.json', 'utf8'))
  t.equal((await exec(process.execPath, ['bin/keygate.js', '--version'])).stdout, `keygate ${version}\n`)
  await t.rejects(exec(process.execPath, ['bin/keygate.js', 'usr', 'add']), {
    code: 2,
    stderr: 'keygate: unknown command "usr add"; did you mean "keygate user add"? (keygate --help lists them)\n',
  })
  const dir = tempDir(t)
  const env = { PATH: process.env.PATH ?? '', ...testEnv(dir) }
  const child = spawn(process.execPath, ['bin/keygate.js', 'user', 'add', '--email', 'pipe@example.com'], { env })
  child.stdin.end('piped password\nignored second line\n')
  let stdout2 = ''
  child.stdout.on('data', (d) => {
    stdout2 += String(d)
  })
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
  t.match(stdout2, /^user 1 pipe@example\.com created/)
  const store = await createStore(testConfig(dir))
  t.teardown(() => store.close())
  const { verifyPassword } = await import('../src/crypto/password.js')
  const user = await store.users.byEmail('pipe@example.com')
  t.ok(await verifyPassword('piped password', user!.passwordHash!), 'the first line is the password')
})

t.test('--help on every command and group prints its usage and does nothing else', async (t) => {
  const { USAGE } = await import('../src/cli/usage.js')
  // An unreachable database: a command that started anything would fail, not print help.
  const env = { ...testEnv(tempDir(t)), KEYGATE_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }
  for (const { command } of USAGE) {
    for (const flag of ['--help', '-h']) {
      const out: string[] = []
      const err: string[] = []
      const code = await main([...command.split(' '), flag], {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
        env,
        password: async () => t.fail('no password asked') as never,
      })
      t.equal(code, 0, `${command} ${flag}`)
      t.same(err, [], `${command} ${flag}: nothing on stderr`)
      t.match(out.join('\n'), command === 'help' ? /^usage: keygate help/ : new RegExp(`keygate ${command}`))
    }
  }
  const group: string[] = []
  t.equal(await main(['user', '--help'], { out: (l) => group.push(l), err: () => undefined, env }), 0)
  for (const sub of ['add', 'list', 'disable', 'remove', 'password']) t.match(group.join('\n'), `keygate user ${sub}`)
  const help: string[] = []
  t.equal(await main(['help', 'key', 'create'], { out: (l) => help.push(l), err: () => undefined, env }), 0)
  t.match(help[0], /^usage: keygate key create --email E/)
  // serve --help must not start a server (it would print "listening" and never return).
  const serve = await promisify(execFile)(process.execPath, ['bin/keygate.js', 'serve', '--help'], {
    env: { PATH: process.env.PATH ?? '', ...env },
  })
  t.match(serve.stdout, /^usage: keygate serve/)
})

t.test('the password prompt does not echo, asks twice, and refuses two that differ', async (t) => {
  const { PassThrough } = await import('node:stream')
  const { readPassword } = await import('../src/cli/prompt.js')
  const terminal = (typed: string) => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input }) as any
    const shown: string[] = []
    const output = { write: (s: string) => shown.push(s) } as any
    setImmediate(() => input.write(typed))
    return { input, output, shown }
  }
  const same = terminal('hunter22 secret\nhunter22 secret\n')
  t.equal(await readPassword(same.input, same.output), 'hunter22 secret')
  t.same(same.shown, ['Password: ', '\n', 'Again: ', '\n'], 'the prompts only: nothing typed is shown')
  const differ = terminal('first one\nsecond one\n')
  await t.rejects(readPassword(differ.input, differ.output), { message: 'the two passwords differ' })
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
  await run('user', 'add', '--email', 'alice@example.com', '--name', 'Alice')
  await run('user', 'add', '--email', 'bob@example.com', '--name', 'Bob')
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
  t.equal((await cli(dir, 'short')('user', 'password', '--email', 'alice@example.com')).code, 2, 'too short')
  const asked = run.asked.length
  t.equal((await run('user', 'password', '--email', 'alice@example.com')).code, 0)
  t.equal(run.asked.length, asked + 1, 'the new password was asked for')
  t.same((await run('user', 'disable', '--email', 'bob@example.com')).out, [
    'bob@example.com disabled: signed out, 0 key(s) revoked',
  ])
  t.match((await run('user', 'list')).out[2], /^2\tbob@example\.com\tBob\t.*\tdisabled$/)
  t.equal((await run('user', 'remove', '--email', 'bob@example.com')).code, 0)
  t.same((await run('user', 'remove', '--email', 'alice@example.com')).err, [
    'keygate: alice@example.com is the only owner of account 3 (Acme): make someone else owner first',
  ])
  t.match((await run('user', 'list')).out[1], /^1\talice@example\.com\tAlice\t.*\tactive$/, 'the only owner stays')
  t.equal((await run('user', 'add', '--email', 'bob@example.com')).code, 0, 'the email is free again')

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
  for (const args of [[id, 'extra'], []])
    t.same((await run('client', 'show', ...args)).err, [
      'keygate: one id is expected',
      'usage: keygate client show CLIENT_ID',
    ])
  t.match((await run('client', 'remove', id)).out[0], /^client -dGhp\S+ removed/)
  t.same((await run('client', 'show', id)).err, [`keygate: no client ${id}`])
})

t.test('npm run bench refuses a bad setting with one line, before it starts anything', async (t) => {
  const run = promisify(execFile)(process.execPath, ['dist/bench/run.js'], {
    env: { PATH: process.env.PATH ?? '', BENCH_BULK_ROWS: 'lots' },
  })
  await t.rejects(run, { code: 2, stderr: 'bench: BENCH_BULK_ROWS must be a positive number, not "lots"\n' })
})

t.test('the build runs only when a source is newer, says so in one line, and drops orphans', async (t) => {
  const { mkdirSync, writeFileSync, utimesSync, existsSync, rmSync } = await import('node:fs')
  const { join } = await import('node:path')
  const project = tempDir(t)
  mkdirSync(join(project, 'src'))
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: '.', module: 'NodeNext' }, include: ['src'] }),
  )
  writeFileSync(join(project, 'src', 'a.ts'), 'export const a = 1\n')
  const build = () => promisify(execFile)(process.execPath, ['bin/ensure-built.js', project])
  t.same(await build(), { stdout: '', stderr: 'keygate: compiling (no build yet)…\n' })
  t.ok(existsSync(join(project, 'dist', 'src', 'a.js')))
  t.same(await build(), { stdout: '', stderr: '' }, 'nothing newer: nothing done, nothing said')
  const later = new Date(Date.now() + 60_000)
  writeFileSync(join(project, 'src', 'b.ts'), 'export const b = 2\n')
  utimesSync(join(project, 'src', 'b.ts'), later, later)
  rmSync(join(project, 'src', 'a.ts'))
  t.same(await build(), { stdout: '', stderr: 'keygate: compiling (src/b.ts changed since the last build)…\n' })
  t.ok(existsSync(join(project, 'dist', 'src', 'b.js')))
  t.notOk(existsSync(join(project, 'dist', 'src', 'a.js')), "a deleted source's output is gone")
})

t.test(
  'the test preflight: a missing service stops the run at once with one line saying how to start it',
  async (t) => {
    const env = {
      PATH: process.env.PATH ?? '',
      CHROMIUM_PATH: '/nowhere/chromium',
      KEYGATE_TEST_REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      KEYGATE_TEST_DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
    }
    await t.rejects(
      promisify(execFile)(process.execPath, ['bin/preflight.js', 'chromium', 'redis', 'database'], { env }),
      {
        code: 1,
        stderr: new RegExp(
          [
            '^keygate tests: Chromium is not at /nowhere/chromium: install it \\(apt-get install -y chromium\\)',
            'keygate tests: Redis does not answer at redis://127\\.0\\.0\\.1:\\d+: start it',
            'keygate tests: PostgreSQL does not answer at 127\\.0\\.0\\.1:\\d+: start it',
          ].join('.*\\n'),
        ),
      },
    )
  },
)

t.test('the load script starts CPU-bound processes and stops them', async (t) => {
  const { join } = await import('node:path')
  const env = { PATH: process.env.PATH ?? '', KEYGATE_LOAD_PIDS: join(tempDir(t), 'load.pids') }
  const exec = promisify(execFile)
  const started = await exec(process.execPath, ['bin/load.js', 'start', '2'], { env })
  const pids = readFileSync(env.KEYGATE_LOAD_PIDS, 'utf8').trim().split('\n').map(Number)
  t.teardown(() => exec(process.execPath, ['bin/load.js', 'stop'], { env }).catch(() => undefined))
  t.match(started.stdout, /^load: 2 CPU-bound processes started/)
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  t.same(pids.map(alive), [true, true])
  t.equal((await exec(process.execPath, ['bin/load.js', 'stop'], { env })).stdout, 'load: 2 stopped\n')
  // A killed process is reaped by the system a moment later: wait for that, not for a time.
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 20))
  t.pass('both gone')
  await t.rejects(exec(process.execPath, ['bin/load.js', 'sometimes'], { env }), { code: 2 })
})
