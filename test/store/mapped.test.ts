// KEYGATE_KEYS_TABLE: keys in a product's own table, on the test's database (SQLite,
// PostgreSQL or MySQL/MariaDB), in a shape keygate did not choose: the product's names, an
// HMAC with a pepper, scopes as a JSON array, a boolean for revocation, epoch times, and
// (MySQL) uuid ids keygate must generate. The product's table is in a schema (database) of
// its own, apart from keygate's.
import { createHmac } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { SignJWT } from 'jose'
import t from 'tap'
import type { Config } from '../../src/config/index.js'
import { buildApp } from '../../src/server/app.js'
import {
  approve,
  authorizeQuery,
  codeFor,
  cookiesOf,
  csrfOf,
  exchangeCode,
  onTestServer,
  pkce,
  registerClient,
  schemaFor,
  sessionCookie,
  TEST_DIALECT,
  TestClock,
  tempDir,
  testConfig,
  tokenRequest,
} from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'
import { rawRows } from '../support/raw.js'
import { Database } from '../support/sqlite.js'

const PRODUCT = 'https://product.example'
const PEPPER = 'the-product-pepper-0123456789'
const digest = (token: string) => createHmac('sha256', PEPPER).update(token).digest('hex')

const DDL = {
  sqlite: `CREATE TABLE acme_tokens (
    token_id INTEGER PRIMARY KEY, org TEXT NOT NULL, creator TEXT NOT NULL, label TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE, perms TEXT NOT NULL, made_at INTEGER NOT NULL, used_at INTEGER,
    valid_until INTEGER, is_revoked INTEGER NOT NULL DEFAULT 0, shown TEXT, note TEXT)`,
  postgres: `CREATE TABLE acme_tokens (
    token_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, org TEXT NOT NULL, creator TEXT NOT NULL,
    label TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, perms JSONB NOT NULL, made_at BIGINT NOT NULL,
    used_at BIGINT, valid_until BIGINT, is_revoked BOOLEAN NOT NULL DEFAULT FALSE, shown TEXT, note TEXT)`,
  mysql: `CREATE TABLE acme_tokens (
    token_id CHAR(36) NOT NULL PRIMARY KEY, org VARCHAR(64) NOT NULL, creator VARCHAR(64) NOT NULL,
    label VARCHAR(200) NOT NULL, digest VARCHAR(64) NOT NULL UNIQUE, perms JSON NOT NULL,
    made_at BIGINT NOT NULL, used_at BIGINT, valid_until BIGINT, is_revoked TINYINT(1) NOT NULL DEFAULT 0,
    shown VARCHAR(32), note TEXT)`,
}
/** MySQL: milliseconds and uuid ids; elsewhere seconds and integer ids. */
const MS = TEST_DIALECT === 'mysql' ? 1000 : 1

/** The product's schema (database) name for a test; undefined on SQLite. */
const productSchema = (dir: string) => (TEST_DIALECT === 'sqlite' ? undefined : `${schemaFor(dir)}_p`)

/** Runs statements in the product's schema (SQLite: keygate's file), making it first. */
async function onProduct(_t: unknown, dir: string, statements: string[]): Promise<void> {
  const schema = productSchema(dir)
  if (!schema) {
    const db = new Database(join(dir, 'keygate.db'))
    try {
      for (const s of statements) db.exec(s)
    } finally {
      db.close()
    }
    return
  }
  const create =
    TEST_DIALECT === 'mysql' ? `CREATE DATABASE IF NOT EXISTS ${schema}` : `CREATE SCHEMA IF NOT EXISTS ${schema}`
  await onTestServer([create])
  await onTestServer(statements, schema)
}

/** A test folder, and the product's schema (database) for it, dropped at the end; none on SQLite. */
function productDir(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t)
  const schema = productSchema(dir)
  if (schema)
    t.teardown(() =>
      onTestServer([
        TEST_DIALECT === 'mysql' ? `DROP DATABASE IF EXISTS ${schema}` : `DROP SCHEMA IF EXISTS ${schema} CASCADE`,
      ]),
    )
  return { dir, schema }
}

function mappingFile(dir: string, over: Record<string, unknown> = {}): string {
  const schema = productSchema(dir)
  const mapping = {
    table: schema ? `${schema}.acme_tokens` : 'acme_tokens',
    columns: {
      id: 'token_id',
      account: 'org',
      user: 'creator',
      name: 'label',
      hash: 'digest',
      scopes: 'perms',
      createdAt: 'made_at',
      lastUsedAt: 'used_at',
      expiresAt: 'valid_until',
      revoked: 'is_revoked',
      prefix: 'shown',
    },
    hash: 'hmac-sha256-hex',
    scopes: 'json',
    revoked: 'boolean',
    time: TEST_DIALECT === 'mysql' ? 'epoch-ms' : 'epoch-seconds',
    id: TEST_DIALECT === 'mysql' ? 'uuid' : 'integer',
    ...over,
  }
  const path = join(dir, `mapping-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(path, JSON.stringify(mapping))
  return path
}

const ENV = {
  KEYGATE_LOGIN: 'handoff',
  KEYGATE_HANDOFF_URL: `${PRODUCT}/keygate-handoff`,
  KEYGATE_HANDOFF_ISSUER: PRODUCT,
  KEYGATE_HANDOFF_SECRET: 'product-handoff-secret-0123456789-abcdef',
  KEYGATE_KEY_PEPPER: PEPPER,
  KEYGATE_ACCESS_TTL: '3600',
}

async function setUp(t: Parameters<typeof tempDir>[0], env: Record<string, string> = {}) {
  const { dir } = productDir(t)
  await onProduct(t, dir, [DDL[TEST_DIALECT]])
  const config = testConfig(dir, { ...ENV, KEYGATE_KEYS_TABLE: mappingFile(dir), ...env })
  const clock = new TestClock()
  const app = await buildApp(config, { clock: clock.now })
  t.teardown(() => app.close())
  const synced = await app.store.product.sync(
    {
      issuer: PRODUCT,
      subject: 'u-1',
      email: 'alice@product.example',
      emailVerified: true,
      name: 'Alice',
      accounts: [{ id: 'org-1', name: 'Acme', role: 'admin' }],
    },
    app.now(),
    null,
  )
  if (!synced.ok) throw new Error('sync failed')
  const accountId = (await app.store.accounts.membershipsOf(synced.user.id))[0]!.account.id
  return { dir, app, config, clock, userId: synced.user.id, accountId }
}

const rows = (config: Config, dir: string, where = '') =>
  rawRows(config, `SELECT * FROM ${productSchema(dir) ? `${productSchema(dir)}.` : ''}acme_tokens ${where}`)

async function connect(app: FastifyInstance) {
  const client = await registerClient(app, { grant_types: ['authorization_code', 'refresh_token'] })
  const cookie = await sessionCookie(app, 'alice@product.example')
  const { verifier, challenge } = pkce()
  const res = await approve(app, cookie, authorizeQuery(client.client_id, challenge))
  if (res.statusCode !== 302) throw new Error(`approve: ${res.statusCode} ${res.body.slice(0, 300)}`)
  const code = new URL(res.headers.location as string).searchParams.get('code')!
  const form = {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: client.client_id,
    redirect_uri: 'https://client.example/callback',
    resource: 'http://localhost:3000/mcp',
  }
  const token = await tokenRequest(app, form)
  return { client, cookie, form, token }
}

const mcp = (app: FastifyInstance, key: string) =>
  app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...INJECT_HEADERS, authorization: `Bearer ${key}` },
    payload: rpc('tools/list'),
  })

t.test(`${TEST_DIALECT}: the token endpoint mints a row in the product's table, written its way`, async (t) => {
  const { app, config, dir, accountId } = await setUp(t)
  const { token, client, form } = await connect(app)
  t.equal(token.statusCode, 200, token.body)
  const body = token.json()
  const [row] = await rows(config, dir)
  t.ok(row, 'one row in the product table')
  t.equal(row!.org, 'org-1', "the product's account id")
  t.equal(row!.creator, 'u-1', "the product's user id")
  t.equal(row!.digest, digest(body.access_token), 'the HMAC of the key with the pepper; never the key')
  t.same(typeof row!.perms === 'string' ? JSON.parse(row!.perms as string) : row!.perms, ['read', 'write'])
  t.equal(Number(row!.is_revoked), 0)
  t.equal(Number(row!.made_at), app.now() * MS, 'epoch times in the mapping unit')
  t.equal(Number(row!.valid_until), (app.now() + 3600) * MS)
  t.equal(row!.shown, body.access_token.slice(0, 11))
  if (TEST_DIALECT === 'mysql') t.match(String(row!.token_id), /^[0-9a-f-]{36}$/, 'a uuid keygate generated')
  const [grant] = await rawRows(config, 'SELECT * FROM key_grants')
  t.equal(String(grant!.key_id), String(row!.token_id), "keygate's facts beside it, in its own table")
  t.equal(grant!.client_id, client.client_id)

  t.equal((await mcp(app, body.access_token)).statusCode, 200, '/mcp finds the key by the mapped hash')

  // The code again: refused, no second row, and the first key revoked in the product's column.
  const replay = await tokenRequest(app, form)
  t.equal(replay.json().error, 'invalid_grant')
  const after = await rows(config, dir)
  t.equal(after.length, 1, 'the second insert rolled back with the side row it could not write')
  t.equal(Number(after[0]!.is_revoked), 1, 'the replay revoked the key the product way')
  t.equal((await mcp(app, body.access_token)).statusCode, 401)
  t.ok(accountId)
})

t.test(
  `${TEST_DIALECT}: refresh, revocation by the product, by /revoke, and by a membership the product ended`,
  async (t) => {
    const { app, config, dir, clock } = await setUp(t)
    const connected = await connect(app)
    const first = connected.token.json()
    const client = connected.client.client_id as string
    clock.advance(10)
    const refreshed = await tokenRequest(app, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      client_id: client,
    })
    t.equal(refreshed.statusCode, 200, refreshed.body)
    const second = refreshed.json()
    t.equal((await rows(config, dir)).length, 2, 'the refresh minted a second row')
    t.equal((await mcp(app, second.access_token)).statusCode, 200)

    // The product revokes its own way: its own UPDATE, no call to keygate.
    const yes = TEST_DIALECT === 'postgres' ? 'TRUE' : '1'
    await onProduct(t, dir, [
      `UPDATE acme_tokens SET is_revoked = ${yes} WHERE digest = '${digest(second.access_token)}'`,
    ])
    const refused = await mcp(app, second.access_token)
    t.equal(refused.statusCode, 401)
    t.match(refused.headers['www-authenticate'], /revoked/)

    // A new connection, revoked by the client at /revoke: the product's column says so.
    const thirdConnection = await connect(app)
    const third = thirdConnection.token.json()
    const revoke = await app.inject({
      method: 'POST',
      url: '/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        token: third.access_token,
        client_id: thirdConnection.client.client_id,
      }).toString(),
    })
    t.equal(revoke.statusCode, 200)
    t.equal((await mcp(app, third.access_token)).statusCode, 401)

    // The product ends Alice's membership of org-1: keygate's keys there are revoked in the product's table.
    const fourth = (await connect(app)).token.json()
    t.equal((await mcp(app, fourth.access_token)).statusCode, 200)
    await app.store.product.sync(
      {
        issuer: PRODUCT,
        subject: 'u-1',
        email: 'alice@product.example',
        emailVerified: true,
        name: 'Alice',
        accounts: [],
      },
      app.now(),
      null,
    )
    t.equal((await mcp(app, fourth.access_token)).statusCode, 401)
    const live = (await rows(config, dir)).filter((r) => Number(r.is_revoked) === 0)
    t.same(live, [], 'every row revoked, none deleted')
  },
)

t.test(
  `${TEST_DIALECT}: the product's own keys: any format on /mcp when allowed, listed and revocable on the dashboard`,
  async (t) => {
    const { app, config, dir, accountId } = await setUp(t, { KEYGATE_KEY_FORMAT: 'any' })
    const own = 'acme_live_made-by-the-product-before-keygate'
    const id = TEST_DIALECT === 'mysql' ? "'8d3c2a1e-0000-4000-8000-000000000001', " : ''
    const idColumn = TEST_DIALECT === 'mysql' ? 'token_id, ' : ''
    await onProduct(t, dir, [
      `INSERT INTO acme_tokens (${idColumn}org, creator, label, digest, perms, made_at)
     VALUES (${id}'org-1', 'u-1', 'CI deploy key', '${digest(own)}', '["read"]', ${1000 * MS})`,
    ])
    t.equal((await mcp(app, own)).statusCode, 200, "a key in the product's format works on /mcp")
    t.equal((await mcp(app, 'acme_live_not-a-key')).statusCode, 401)

    const mine = (await connect(app)).token.json()
    const cookie = await sessionCookie(app, 'alice@product.example')
    const page = await app.inject({ url: `/dashboard?account=${accountId}`, headers: { cookie } })
    t.match(page.body, /CI deploy key/, "the product's own key is listed")
    t.match(page.body, /<td data-label="Source">the product<\/td>/, 'its source: the product')
    t.match(page.body, /MCP — Test Client/, "and keygate's")

    const key = (await app.store.keys.byHash(digest(own)))!
    t.equal(key.origin, 'product')
    t.equal(key.accountId, accountId, "the product's account, as keygate knows it")
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!
    const revoked = await app.inject({
      method: 'POST',
      url: `/dashboard/keys/${key.id}/revoke`,
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ csrf, confirm: 'yes' }).toString(),
    })
    t.equal(revoked.statusCode, 303, revoked.body)
    const [row] = await rows(config, dir, `WHERE label = 'CI deploy key'`)
    t.equal(Number(row!.is_revoked), 1, "revoked in the product's column")
    t.equal((await mcp(app, own)).statusCode, 401)
    t.equal((await mcp(app, mine.access_token)).statusCode, 200)

    // Approving the app again replaces keygate's key in the product's table, and nothing else.
    const other = 'acme_live_another-product-key'
    const id2 = TEST_DIALECT === 'mysql' ? "'8d3c2a1e-0000-4000-8000-000000000003', " : ''
    await onProduct(t, dir, [
      `INSERT INTO acme_tokens (${idColumn}org, creator, label, digest, perms, made_at)
       VALUES (${id2}'org-1', 'u-1', 'Nightly job', '${digest(other)}', '["read"]', ${1000 * MS})`,
    ])
    const again = (await connect(app)).token.json()
    t.equal((await mcp(app, mine.access_token)).statusCode, 401, 'the previous key of the connection is revoked')
    t.equal((await mcp(app, again.access_token)).statusCode, 200)
    t.equal((await mcp(app, other)).statusCode, 200, "the product's own keys are not keygate's to replace")
    const [replaced] = await rows(config, dir, `WHERE digest = '${digest(mine.access_token)}'`)
    t.equal(Number(replaced!.is_revoked), 1, "in the product's column")
  },
)

t.test(`${TEST_DIALECT}: a new grant reads only the grants not known to have ended`, async (t) => {
  const { app, config, dir, clock } = await setUp(t)
  const client = await registerClient(app)
  const grant = async () => {
    clock.advance(1)
    const { code, verifier } = await codeFor(app, { email: 'alice@product.example', client })
    const token = await exchangeCode(app, code, verifier, client.client_id)
    t.equal(token.statusCode, 200, token.body)
    return token.json().access_token as string
  }
  const ended = async () =>
    (await rawRows(config, 'SELECT ended_at FROM key_grants ORDER BY created_at')).map((r) =>
      r.ended_at === null ? null : Number(r.ended_at),
    )
  const first = await grant()
  const second = await grant()
  t.equal((await mcp(app, first)).statusCode, 401, 'the second grant replaced the first')
  t.same(await ended(), [app.now(), null], 'and marked its grant ended')
  // The product revokes the second key its own way: the next grant finds it so, and marks it.
  const yes = TEST_DIALECT === 'postgres' ? 'TRUE' : '1'
  await onProduct(t, dir, [`UPDATE acme_tokens SET is_revoked = ${yes} WHERE digest = '${digest(second)}'`])
  const secondEnded = app.now() + 1
  const third = await grant()
  t.same(await ended(), [secondEnded - 1, secondEnded, null])
  t.equal((await mcp(app, third)).statusCode, 200)
  t.same(
    (await rows(config, dir, 'ORDER BY made_at')).map((r) => Number(r.is_revoked)),
    [1, 1, 0],
    "the product's column: only the newest key is live",
  )
})

t.test(`${TEST_DIALECT}: keygate's checked format only, by default`, async (t) => {
  const { app, dir } = await setUp(t)
  const own = 'acme_live_made-by-the-product-before-keygate'
  const id = TEST_DIALECT === 'mysql' ? "'8d3c2a1e-0000-4000-8000-000000000002', " : ''
  const idColumn = TEST_DIALECT === 'mysql' ? 'token_id, ' : ''
  await onProduct(t, dir, [
    `INSERT INTO acme_tokens (${idColumn}org, creator, label, digest, perms, made_at)
     VALUES (${id}'org-1', 'u-1', 'CI deploy key', '${digest(own)}', '["read"]', 1000)`,
  ])
  const res = await mcp(app, own)
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], /malformed/)
})

t.test(`${TEST_DIALECT}: a mapping that does not fit the table stops start-up with one line`, async (t) => {
  const { dir, schema } = productDir(t)
  await onProduct(t, dir, [DDL[TEST_DIALECT]])
  const where = schema ? `${schema}.acme_tokens` : 'acme_tokens'
  const start = async (over: Record<string, unknown>, env: Record<string, string> = {}) =>
    buildApp(testConfig(dir, { ...ENV, KEYGATE_KEYS_TABLE: mappingFile(dir, over), ...env }))
  const columns = JSON.parse(
    JSON.stringify({
      id: 'token_id',
      account: 'org',
      user: 'creator',
      name: 'label',
      hash: 'digest',
      scopes: 'perms',
      createdAt: 'made_at',
      expiresAt: 'valid_until',
      revoked: 'is_revoked',
    }),
  )
  await t.rejects(start({ columns: { ...columns, hash: 'token_digest' } }), {
    message: `KEYGATE_KEYS_TABLE: columns.hash: ${where} has no column token_digest`,
  })
  await t.rejects(start({ columns: { ...columns, createdAt: 'note' } }), {
    message: new RegExp(
      `^KEYGATE_KEYS_TABLE: columns.createdAt: ${where}.note is .*, which cannot hold a time as epoch`,
    ),
  })
  await t.rejects(start({ columns: { ...columns, revoked: 'note' } }), {
    message: /^KEYGATE_KEYS_TABLE: columns.revoked: .*note is .*, which cannot hold a boolean$/,
  })
  await t.rejects(start({ table: schema ? `${schema}.nope` : 'nope' }), {
    message: `KEYGATE_KEYS_TABLE: table ${schema ? `${schema}.nope` : 'nope'} does not exist`,
  })
  const { account: _, ...noAccount } = columns
  await t.rejects(start({ columns: noAccount }), {
    message: /^KEYGATE_KEYS_TABLE: .*mapping-.*\.json: columns\.account: .*expected string/,
  })
  await t.rejects(start({ hash: 'md5' }), { message: /^KEYGATE_KEYS_TABLE: .*\.json: hash: .*sha256-hex/ })
  await t.rejects(start({ columns: { ...columns, note: 'note' } }), {
    message: /^KEYGATE_KEYS_TABLE: .*\.json: columns: .*note/,
  })
  const { expiresAt: __, ...noExpiry } = columns
  await t.rejects(start({ columns: noExpiry }), { message: /columns.expiresAt: must be set with KEYGATE_ACCESS_TTL/ })
  await t.rejects(start({}, { KEYGATE_KEY_PEPPER: 'short' }), { message: /^KEYGATE_KEY_PEPPER: must be set/ })
  await t.rejects(start({}, { KEYGATE_LOGIN: 'local' }), {
    message: /^KEYGATE_KEYS_TABLE: needs KEYGATE_LOGIN=handoff/,
  })
  // A NOT NULL column keygate would not write: every insert would fail.
  await onProduct(t, dir, [
    TEST_DIALECT === 'mysql'
      ? 'ALTER TABLE acme_tokens ADD COLUMN plan VARCHAR(10) NOT NULL'
      : 'ALTER TABLE acme_tokens ADD COLUMN plan TEXT NOT NULL DEFAULT 0',
  ])
  if (TEST_DIALECT !== 'mysql') {
    // SQLite and PostgreSQL cannot add a NOT NULL column without a default; the default dropped where it can be.
    if (TEST_DIALECT === 'postgres') await onProduct(t, dir, ['ALTER TABLE acme_tokens ALTER COLUMN plan DROP DEFAULT'])
  }
  if (TEST_DIALECT !== 'sqlite')
    await t.rejects(start({}), {
      message: `KEYGATE_KEYS_TABLE: ${where}.plan is NOT NULL without a default, and the mapping does not name it`,
    })
  else t.ok(await start({}).then((app) => app.close().then(() => true)), 'a column with a default is left to it')
})

t.test(`${TEST_DIALECT}: product ids the key table cannot hold are refused at sign-in, not with a 500`, async (t) => {
  const { dir, schema } = productDir(t)
  // The product's accounts are integers, and its keys must name one it has.
  const id =
    TEST_DIALECT === 'sqlite'
      ? 'INTEGER PRIMARY KEY'
      : TEST_DIALECT === 'postgres'
        ? 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY'
        : 'BIGINT AUTO_INCREMENT PRIMARY KEY'
  const text = TEST_DIALECT === 'mysql' ? 'VARCHAR(64)' : 'TEXT'
  await onProduct(t, dir, [
    'CREATE TABLE orgs (id INTEGER PRIMARY KEY)',
    'INSERT INTO orgs (id) VALUES (42)',
    `CREATE TABLE org_keys (id ${id}, org_id INTEGER NOT NULL REFERENCES orgs(id), creator ${text} NOT NULL,
      label ${text} NOT NULL, digest ${text} NOT NULL, perms ${text} NOT NULL, made_at BIGINT NOT NULL)`,
  ])
  const mapping = join(dir, 'org-keys.json')
  writeFileSync(
    mapping,
    JSON.stringify({
      table: schema ? `${schema}.org_keys` : 'org_keys',
      columns: {
        id: 'id',
        account: 'org_id',
        user: 'creator',
        name: 'label',
        hash: 'digest',
        scopes: 'perms',
        createdAt: 'made_at',
      },
      hash: 'sha256-hex',
      scopes: 'space',
      time: 'epoch-seconds',
      id: 'integer',
    }),
  )
  const token = 'provisioning-token-0123456789-abcdefghij'
  const { KEYGATE_ACCESS_TTL: _, KEYGATE_KEY_PEPPER: __, ...env } = ENV
  const app = await buildApp(
    testConfig(dir, { ...env, KEYGATE_KEYS_TABLE: mapping, KEYGATE_PROVISIONING_TOKEN: token }),
  )
  t.teardown(() => app.close())

  // Sign-in through the product with an account id that is not an integer: a page, nothing stored.
  const start = await app.inject({ url: '/login' })
  const state = new URL(start.headers.location as string).searchParams.get('state')!
  const assertion = await new SignJWT({
    email: 'alice@product.example',
    nonce: state,
    accounts: [{ id: 'org-1', name: 'Acme', role: 'owner' }],
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(PRODUCT)
    .setAudience('http://localhost:3000')
    .setSubject('u-1')
    .setIssuedAt(app.now())
    .setExpirationTime(app.now() + 60)
    .setJti('j-1')
    .sign(new TextEncoder().encode(ENV.KEYGATE_HANDOFF_SECRET))
  const refused = await app.inject({
    url: `/login/handoff?${new URLSearchParams({ state, assertion })}`,
    headers: { cookie: cookiesOf(start) },
  })
  t.equal(refused.statusCode, 400)
  t.match(refused.headers['content-type'], /text\/html/)
  t.match(refused.body, 'account id “org-1” cannot be stored in its key table: its column org_id holds integers')
  t.equal(await app.store.users.byEmail('alice@product.example'), undefined, 'no user stored')

  // The provisioning API says the same, as JSON.
  const provision = (sub: string, accounts: unknown[]) =>
    app.inject({
      method: 'PUT',
      url: `/provisioning/v1/users/${sub}`,
      headers: { authorization: `Bearer ${token}` },
      payload: { email: `${sub}@product.example`, accounts },
    })
  const bad = await provision('u-1', [{ id: 'org-1', name: 'Acme', role: 'owner' }])
  t.equal(bad.statusCode, 400)
  t.match(bad.json().detail, 'its column org_id holds integers')

  // An integer the product does not have: the product's foreign key refuses the key, and says so.
  t.equal((await provision('u-2', [{ id: '7', name: 'Gone', role: 'owner' }])).statusCode, 200)
  const cookie = await sessionCookie(app, 'u-2@product.example')
  const { verifier, challenge } = pkce()
  const client = await registerClient(app)
  const approved = await approve(app, cookie, authorizeQuery(client.client_id, challenge))
  const code = new URL(approved.headers.location as string).searchParams.get('code')!
  const exchanged = await tokenRequest(app, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: client.client_id,
    redirect_uri: 'https://client.example/callback',
  })
  t.equal(exchanged.statusCode, 400, exchanged.body)
  t.equal(exchanged.json().error, 'invalid_grant')
  t.match(exchanged.json().error_description, "the product's key table refused a key for this account")
  const [gone] = await app.store.accounts.byName('Gone')
  const page = await app.inject({ url: '/dashboard', headers: { cookie } })
  const created = await app.inject({
    method: 'POST',
    url: '/dashboard/keys',
    headers: { cookie: cookiesOf(page, cookie), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ csrf: csrfOf(page.body), account_id: String(gone!.id), name: 'ci' }).toString(),
  })
  t.equal(created.statusCode, 409)
  t.match(created.body, 'Key not created')

  // The account the product has: keys are made.
  t.equal((await provision('u-3', [{ id: '42', name: 'Real', role: 'owner' }])).statusCode, 200)
  const real = await codeFor(app, { email: 'u-3@product.example' })
  const minted = await exchangeCode(app, real.code, real.verifier, real.client.client_id)
  t.equal(minted.statusCode, 200, minted.body)
})

t.test('what an id column can hold: integers, uuids, a bounded length', async (t) => {
  const { unfitFor } = await import('../../src/store/mapped-check.js')
  const integer = { name: 'org_id', kind: 'bigint' as const, maxLength: null }
  t.equal(unfitFor(integer, '42'), undefined)
  t.equal(unfitFor(integer, '-7'), undefined)
  t.equal(unfitFor(integer, 'org-1'), 'its column org_id holds integers')
  t.equal(unfitFor(integer, '1'.repeat(16)), 'its column org_id holds integers', 'past a safe integer')
  const uuid = { name: 'org', kind: 'uuid' as const, maxLength: null }
  t.equal(unfitFor(uuid, '0b7c6a52-2d5e-4a8e-9a51-0f6f2f1d2c3b'), undefined)
  t.equal(unfitFor(uuid, 'org-1'), 'its column org holds uuids')
  const short = { name: 'creator', kind: 'text' as const, maxLength: 8 }
  t.equal(unfitFor(short, '12345678'), undefined)
  t.equal(unfitFor(short, 'é'.repeat(8)), undefined, 'characters, not bytes')
  t.equal(unfitFor(short, '123456789'), 'its column creator holds at most 8 characters')
  t.equal(unfitFor({ name: 'x', kind: 'text' as const, maxLength: null }, 'x'.repeat(5000)), undefined)
})
