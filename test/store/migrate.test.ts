// Versioned migrations: applied at start and by `keygate migrate`, listed by
// `keygate migrate --status`, and a database made by keygate 0.1.0 (its schema, a row in
// every table) is adopted in place with nothing lost. On SQLite, on PostgreSQL (npm run
// test:pg) and on MySQL/MariaDB (npm run test:mysql), which keygate 0.1.0 did not support:
// there the same rows are loaded into a database made by migration 0001.
import { readFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import t, { type Test as Tap } from 'tap'
import { main } from '../../src/cli/index.js'
import { hashPassword } from '../../src/crypto/password.js'
import { mintToken, refreshPrefix } from '../../src/keys/format.js'
import { buildApp } from '../../src/server/app.js'
import { repoPath } from '../../src/shared/paths.js'
import { collationsFor } from '../../src/store/dialects/mysql.js'
import { statements, withCollations } from '../../src/store/migrate.js'
import {
  createUser,
  onTestServer,
  schemaFor,
  TEST_DIALECT,
  TEST_SCRYPT_COST,
  TestClock,
  tempDir,
  testConfig,
  testEnv,
} from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

const fixture = (name: string) => readFileSync(repoPath('test', 'fixtures', 'v0.1.0', name), 'utf8')

async function cli(env: Record<string, string>, ...argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l), env }
  const code = await main(argv, { ...io, password: async () => 'long enough' })
  return { code, out, err }
}

/** Runs SQL on the test's database directly, as keygate 0.1.0 (or another tool) would have. */
/** Every migration, in order: `keygate migrate --status` lists them so. */
const MIGRATIONS = [
  '0001-baseline',
  '0002-product-identity',
  '0003-key-grants',
  '0004-device-grants',
  '0005-grant-lifecycle',
  '0006-signing-keys',
  '0007-live-keys',
  '0008-email-verified',
]
const PENDING = MIGRATIONS.map((m) => `${m}  pending`)
const APPLIED = `keygate: applied ${MIGRATIONS.join(', ')}`

async function runSql(dir: string, texts: string[]): Promise<void> {
  if (TEST_DIALECT === 'sqlite') {
    const db = new Database(`${dir}/keygate.db`)
    try {
      for (const text of texts) db.exec(text)
    } finally {
      db.close()
    }
    return
  }
  const schema = schemaFor(dir)
  await onTestServer([
    TEST_DIALECT === 'mysql' ? `CREATE DATABASE IF NOT EXISTS ${schema}` : `CREATE SCHEMA IF NOT EXISTS ${schema}`,
  ])
  await onTestServer(texts.flatMap(statements), schema)
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

t.test("MySQL's migrations name the server's NO PAD collations", async (t) => {
  const mariadb = collationsFor('10.11.19-MariaDB-0+deb12u1')
  t.same(mariadb, { exact: 'utf8mb4_nopad_bin', caseless: 'utf8mb4_unicode_nopad_ci' })
  t.same(collationsFor('8.0.40'), { exact: 'utf8mb4_0900_bin', caseless: 'utf8mb4_0900_as_ci' })
  t.equal(
    withCollations('email VARCHAR(320) COLLATE {{caseless}}) COLLATE={{exact}}; {{exact}}', mariadb),
    'email VARCHAR(320) COLLATE utf8mb4_unicode_nopad_ci) COLLATE=utf8mb4_nopad_bin; utf8mb4_nopad_bin',
  )
})

t.test('keygate migrate: pending, applied once, then up to date', async (t) => {
  const env = testEnv(tempDir(t))
  const before = await cli(env, 'migrate', '--status')
  t.equal(before.code, 0, before.err.join('\n'))
  t.same(before.out, PENDING)
  const applied = await cli(env, 'migrate')
  t.same(applied.out, [APPLIED])
  const again = await cli(env, 'migrate')
  t.same(again.out, ['keygate: the database is up to date'])
  const after = await cli(env, 'migrate', '--status')
  t.match(after.out, [
    new RegExp(`^${MIGRATIONS[0]} {2}applied \\d{4}-\\d\\d-\\d\\dT`),
    ...MIGRATIONS.slice(1).map((m) => new RegExp(`^${m} {2}applied `)),
  ])
  const wrong = await cli(env, 'migrate', '--down')
  t.same(
    [wrong.code, wrong.err],
    [2, ['keygate: unknown option --down for migrate', 'usage: keygate migrate [--status]']],
  )
})

t.test('a migration that fails says which and why, applies nothing, and stops start-up', async (t) => {
  const dir = tempDir(t)
  // A table of the same name but another shape: 0001's indexes on api_keys (SQLite,
  // PostgreSQL) or the foreign key refresh_tokens -> api_keys (MySQL) cannot be made.
  await runSql(dir, [
    TEST_DIALECT === 'mysql'
      ? 'CREATE TABLE api_keys (id VARCHAR(10) PRIMARY KEY);'
      : 'CREATE TABLE api_keys (id INTEGER PRIMARY KEY);',
  ])
  const env = testEnv(dir)
  const failed = await cli(env, 'migrate')
  t.equal(failed.code, 1)
  t.match(failed.err, [
    TEST_DIALECT === 'mysql'
      ? /^keygate: migration 0001-baseline failed: .*foreign key/i
      : /^keygate: migration 0001-baseline failed: .*account_id/,
  ])
  t.same((await cli(env, 'migrate', '--status')).out, PENDING, 'nothing recorded')
  await t.rejects(buildApp(testConfig(dir)), { message: /^migration 0001-baseline failed/ }, 'keygate does not start')
  const users = await cli(env, 'user', 'add', '--email', 'a@example.com')
  t.same([users.code, users.err], [1, failed.err], 'every command refuses the same way until it is mended')
})

t.test('on MySQL, a migration that stopped half-way is finished by the next run', async (t) => {
  if (TEST_DIALECT !== 'mysql') {
    t.pass('SQLite and PostgreSQL run each migration in a transaction: nothing is left half-way')
    return
  }
  const dir = tempDir(t)
  const env = testEnv(dir)
  t.equal((await cli(env, 'migrate')).code, 0)
  // As if migration 0005 had stopped before its last statement: that column gone, its
  // record and the later ones' too. Its first statements meet what they made (duplicate
  // column), and 0007 its index (duplicate key name): each counts as done.
  await onTestServer(
    [
      'ALTER TABLE users DROP COLUMN disabled_at',
      'DROP TABLE signing_keys',
      'ALTER TABLE users DROP COLUMN email_verified',
      "DELETE FROM keygate_migration WHERE name IN ('0005-grant-lifecycle', '0006-signing-keys', '0007-live-keys', '0008-email-verified')",
    ],
    schemaFor(dir),
  )
  const again = await cli(env, 'migrate')
  t.same(
    again.out,
    ['keygate: applied 0005-grant-lifecycle, 0006-signing-keys, 0007-live-keys, 0008-email-verified'],
    again.err.join('\n'),
  )
  const app = await buildApp(testConfig(dir))
  t.teardown(() => app.close())
  t.ok(await app.store.ping())
  const { user } = await createUser(app, 'alice@example.com')
  t.equal(user.disabledAt, null, 'the column is back')
})

t.test(`a database made by keygate 0.1.0 is adopted with every row kept (${TEST_DIALECT})`, async (t) => {
  const dir = tempDir(t)
  const key = mintToken('kg_')
  const refresh = mintToken(refreshPrefix('kg_'))
  const data = fixture('data.sql')
    .replace('{{PASSWORD_HASH}}', await hashPassword('correct horse battery', TEST_SCRYPT_COST))
    .replace('{{KEY_HASH}}', key.hash)
    .replace('{{REFRESH_HASH}}', refresh.hash)
  if (TEST_DIALECT === 'mysql') {
    // No 0.1.0 schema: migration 0001 makes the tables, and the same rows go in.
    t.same((await cli(testEnv(dir), 'migrate')).out, [APPLIED])
    await runSql(dir, [data])
    return checkKept(t, dir, key.token, refresh.hash)
  }
  await runSql(
    dir,
    TEST_DIALECT === 'postgres'
      ? [fixture('schema.postgres.sql'), data, fixture('sequences.postgres.sql')]
      : [fixture('schema.sqlite.sql'), data],
  )
  t.same((await cli(testEnv(dir), 'migrate', '--status')).out, PENDING, 'not yet recorded')
  return checkKept(t, dir, key.token, refresh.hash)
})

/** Starts keygate on the database holding data.sql's rows, and finds every one of them. */
async function checkKept(t: Tap, dir: string, token: string, refreshHash: string) {
  const env = testEnv(dir)
  const app = await buildApp(testConfig(dir, { KEYGATE_ACCESS_TTL: '3600' }), { clock: new TestClock().now })
  t.teardown(() => app.close())
  t.match(
    (await cli(env, 'migrate', '--status')).out,
    MIGRATIONS.map((m) => new RegExp(`^${m} {2}applied `)),
    'adopted and brought up to date at start',
  )

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
  t.equal((await app.store.refresh.byHash(refreshHash))?.keyId, '1')
  t.same(
    (await app.store.audit.list(2, { limit: 10 })).map((e) => [e.event, e.subject]),
    [['consent_granted', 'client-1']],
  )
  t.equal(await app.store.sessions.validAfter(1), 1795000000000)
  const mcp = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...INJECT_HEADERS, authorization: `Bearer ${token}` },
    payload: rpc('tools/list'),
  })
  t.equal(mcp.statusCode, 200, "0.1.0's key still opens /mcp")
  const notes = await app.inject({ url: '/api/v1/notes', headers: { authorization: `Bearer ${token}` } })
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
}
