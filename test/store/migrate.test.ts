// Versioned migrations: applied at start and by `keygate migrate`, listed by
// `keygate migrate --status`, and a database made by keygate 0.1.0 (its schema, a row in
// every table) is adopted in place with nothing lost. On SQLite, and on PostgreSQL with
// npm run test:pg.
import { readFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { main } from '../../src/cli.js'
import { hashPassword } from '../../src/crypto/password.js'
import { mintToken, refreshPrefix } from '../../src/keys/format.js'
import { repoPath } from '../../src/paths.js'
import { statements } from '../../src/store/migrate.js'
import { schemaFor, TEST_DATABASE_URL, TEST_SCRYPT_COST, TestClock, tempDir, testConfig, testEnv } from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

const DIALECT = TEST_DATABASE_URL ? 'postgres' : 'sqlite'
const fixture = (name: string) => readFileSync(repoPath('test', 'fixtures', 'v0.1.0', name), 'utf8')

async function cli(env: Record<string, string>, ...argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: (l) => void out.push(l), err: (l) => void err.push(l), env })
  return { code, out, err }
}

/** Runs SQL on the test's database directly, as keygate 0.1.0 would have left it. */
async function runSql(dir: string, texts: string[]): Promise<void> {
  if (TEST_DATABASE_URL) {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schemaFor(dir)}` })
    await client.connect()
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schemaFor(dir)}`)
      for (const text of texts) for (const statement of statements(text)) await client.query(statement)
    } finally {
      await client.end()
    }
    return
  }
  const db = new Database(`${dir}/keygate.db`)
  try {
    for (const text of texts) db.exec(text)
  } finally {
    db.close()
  }
}

t.test('statements are split at a semicolon ending a line, comments dropped', async (t) => {
  t.same(statements('-- a comment; with a semicolon\nCREATE TABLE a (x TEXT);\n\nCREATE INDEX i ON a (x) ;\n'), [
    'CREATE TABLE a (x TEXT)',
    'CREATE INDEX i ON a (x)',
  ])
  t.same(
    statements("INSERT INTO a VALUES ('x;y');"),
    ["INSERT INTO a VALUES ('x;y')"],
    'a semicolon inside a line stays',
  )
})

t.test('keygate migrate: pending, applied once, then up to date', async (t) => {
  const env = testEnv(tempDir(t))
  const before = await cli(env, 'migrate', '--status')
  t.equal(before.code, 0, before.err.join('\n'))
  t.same(before.out, ['0001-baseline  pending'])
  const applied = await cli(env, 'migrate')
  t.same(applied.out, ['keygate: applied 0001-baseline'])
  const again = await cli(env, 'migrate')
  t.same(again.out, ['keygate: the database is up to date'])
  const after = await cli(env, 'migrate', '--status')
  t.match(after.out, [/^0001-baseline {2}applied \d{4}-\d\d-\d\dT/])
  const wrong = await cli(env, 'migrate', '--down')
  t.same([wrong.code, wrong.err], [1, ['keygate: unknown option --down for migrate']])
})

t.test('a migration that fails says which and why, applies nothing, and stops start-up', async (t) => {
  const dir = tempDir(t)
  // A table of the same name but another shape: 0001's indexes on api_keys cannot be made.
  await runSql(dir, ['CREATE TABLE api_keys (id INTEGER PRIMARY KEY);'])
  const env = testEnv(dir)
  const failed = await cli(env, 'migrate')
  t.equal(failed.code, 1)
  t.match(failed.err, [/^keygate: migration 0001-baseline failed: .*account_id/])
  t.same((await cli(env, 'migrate', '--status')).out, ['0001-baseline  pending'], 'nothing recorded')
  await t.rejects(buildApp(testConfig(dir)), { message: /^migration 0001-baseline failed/ }, 'keygate does not start')
  const users = await cli(env, 'user', 'add', '--email', 'a@example.com', '--password', 'long enough')
  t.same([users.code, users.err], [1, failed.err], 'every command refuses the same way until it is mended')
})

t.test(`a database made by keygate 0.1.0 is adopted with every row kept (${DIALECT})`, async (t) => {
  const dir = tempDir(t)
  const key = mintToken('kg_')
  const refresh = mintToken(refreshPrefix('kg_'))
  const data = fixture('data.sql')
    .replace('{{PASSWORD_HASH}}', await hashPassword('correct horse battery', TEST_SCRYPT_COST))
    .replace('{{KEY_HASH}}', key.hash)
    .replace('{{REFRESH_HASH}}', refresh.hash)
  const texts = TEST_DATABASE_URL
    ? [fixture('schema.postgres.sql'), data, fixture('sequences.postgres.sql')]
    : [fixture('schema.sqlite.sql'), data]
  await runSql(dir, texts)

  const env = testEnv(dir)
  t.same((await cli(env, 'migrate', '--status')).out, ['0001-baseline  pending'], 'not yet recorded')
  const app = await buildApp(testConfig(dir, { KEYGATE_ACCESS_TTL: '3600' }), { clock: new TestClock().now })
  t.teardown(() => app.close())
  t.match((await cli(env, 'migrate', '--status')).out, [/^0001-baseline {2}applied /], 'adopted at start')

  // Every table's row is still there and still works.
  const user = await app.store.users.byEmail('alice@example.com')
  t.equal(user?.name, 'Alice')
  t.same(
    (await app.store.accounts.membershipsOf(1)).map((m) => [m.account.name, m.role]),
    [
      ['Alice personal', 'owner'],
      ['Team', 'admin'],
    ],
  )
  t.equal((await app.store.clients.byId('client-1'))?.clientName, 'Old Client')
  t.same((await app.store.consents.get(1, 'client-1'))?.scopes, ['read', 'write'])
  t.equal((await app.store.refresh.byHash(refresh.hash))?.keyId, 1)
  t.same(
    (await app.store.audit.list(2, { limit: 10 })).map((e) => [e.event, e.subject]),
    [['consent_granted', 'client-1']],
  )
  t.equal(await app.store.sessions.validAfter(1), 1795000000000)
  const mcp = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...INJECT_HEADERS, authorization: `Bearer ${key.token}` },
    payload: rpc('tools/list'),
  })
  t.equal(mcp.statusCode, 200, "0.1.0's key still opens /mcp")
  const notes = await app.inject({ url: '/api/v1/notes', headers: { authorization: `Bearer ${key.token}` } })
  t.same(
    notes.json().notes.map((n: { title: string; body: string }) => [n.title, n.body]),
    [['kept', 'written by 0.1.0']],
    "and reads the team's note",
  )
  const signIn = await app.inject({ method: 'GET', url: '/login' })
  t.equal(signIn.statusCode, 200)

  // New rows get fresh ids after the old ones.
  const bob = await app.store.users.create({ email: 'bob@example.com', name: 'Bob', passwordHash: 'x', createdAt: 1 })
  t.equal(bob.id, 2)
  const note = await app.store.notes.create({ accountId: 2, title: 'new', body: '', createdAt: 1 })
  t.equal(note.id, 2)
})
