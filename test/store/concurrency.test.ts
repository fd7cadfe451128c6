// Atomicity under concurrency, on whichever database the suite runs against (SQLite for
// npm test, PostgreSQL for npm run test:pg, MySQL for npm run test:mysql): no
// read-then-write races.

import Database from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import {
  build,
  createKey,
  createUser,
  newKey,
  onTestServer,
  registerClient,
  schemaFor,
  TEST_DIALECT,
} from '../helper.js'

t.test('consent upserts: many at once leave one row with the last values', async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const team = await app.store.accounts.create({ name: 'team', kind: 'team', ownerId: user.id, createdAt: app.now() })
  const client = await registerClient(app)
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      app.store.consents.upsert(
        { userId: user.id, clientId: client.client_id, accountId: i % 2 ? team.id : account.id, scopes: ['read'] },
        app.now() + i,
      ),
    ),
  )
  t.ok(
    results.every((r) => r.userId === user.id && r.clientId === client.client_id),
    'each upsert answers with the row',
  )
  const rows = await app.store.consents.listForUser(user.id)
  t.equal(rows.length, 1, 'one consent row')
  const row = rows[0]!
  // Whichever upsert inserted the row (not always the first sent: on a pool any may be) set
  // created_at; the others left it.
  const created = row.createdAt - app.now()
  t.ok(created >= 0 && created < 20, 'created by one of the upserts')
  // Whichever upsert wrote last, the row holds that upsert's values, not a mix of two.
  const last = row.updatedAt - app.now()
  t.ok(last >= 0 && last < 20, 'updated by one of the upserts')
  t.equal(row.accountId, last % 2 ? team.id : account.id, 'the account of the upsert that wrote last')
  await app.store.consents.upsert(
    { userId: user.id, clientId: client.client_id, accountId: account.id, scopes: ['read'] },
    app.now() + 100,
  )
  const [again] = await app.store.consents.listForUser(user.id)
  t.same(
    [again!.createdAt, again!.updatedAt],
    [row.createdAt, app.now() + 100],
    'created once: a later upsert keeps it',
  )
})

t.test('revocation: of 20 concurrent revokes, exactly one reports it revoked the key', async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const results = await Promise.all(Array.from({ length: 20 }, () => app.store.keys.revoke(key.key.id, app.now())))
  t.equal(results.filter(Boolean).length, 1)
  t.ok((await app.store.keys.byId(key.key.id))!.revokedAt)
})

t.test('refresh rotation: of 20 concurrent first uses, exactly one is first', async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const client = await registerClient(app)
  const { mintToken } = await import('../../src/keys/format.js')
  const refresh = mintToken('kgrt_')
  const inserted = await app.store.keys.insert(
    newKey(
      { userId: user.id, accountId: account.id },
      { clientId: client.client_id, grantId: 'jti-1', createdAt: app.now(), expiresAt: app.now() + 60 },
    ).key,
    { tokenHash: refresh.hash, expiresAt: app.now() + 3600 },
  )
  t.ok(inserted.ok)
  const results = await Promise.all(
    Array.from({ length: 20 }, () => app.store.refresh.markRotated(refresh.hash, app.now())),
  )
  t.equal(results.filter((r) => r.first).length, 1)
  t.ok(results.every((r) => r.rotatedAt === app.now()))
})

/** Inserts a key minted from the code whose jti is `grantId`, as /token does. */
const insertGrantKey = (app: FastifyInstance, owner: { userId: number; accountId: number }, grantId: string) =>
  app.store.keys.insert(newKey(owner, { grantId, createdAt: app.now() }).key)

t.test('grant ids: of 20 concurrent inserts with one grant id, exactly one row lands', async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const results = await Promise.all(
    Array.from({ length: 20 }, () => insertGrantKey(app, { userId: user.id, accountId: account.id }, 'same-jti')),
  )
  t.equal(results.filter((r) => r.ok).length, 1)
  t.equal(results.filter((r) => !r.ok && r.reason === 'grant_used').length, 19)
})

t.test('a used grant id is found by the database itself, whatever its unique index is called', async (t) => {
  const { app, dir } = await build(t)
  // An operator's own name for the index: no error text is matched, so nothing changes.
  if (TEST_DIALECT === 'postgres')
    await onTestServer(
      ['ALTER TABLE api_keys RENAME CONSTRAINT api_keys_grant_id_key TO one_key_per_code'],
      schemaFor(dir),
    )
  if (TEST_DIALECT === 'mysql')
    await onTestServer(['ALTER TABLE api_keys RENAME INDEX grant_id TO one_key_per_code'], schemaFor(dir))
  if (TEST_DIALECT === 'sqlite') {
    // SQLite cannot rename an index: the table is made again with a unique index of its own name.
    const db = new Database(`${dir}/keygate.db`)
    const create = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'api_keys'").pluck().get() as string
    const unnamed = create
      .replace('CREATE TABLE api_keys', 'CREATE TABLE api_keys_new')
      .replace(/(grant_id\s+TEXT)\s+UNIQUE/, '$1')
    t.not(unnamed, create, 'the UNIQUE column is made plain')
    db.exec(`PRAGMA foreign_keys = OFF; BEGIN; ${unnamed};
      INSERT INTO api_keys_new SELECT * FROM api_keys; DROP TABLE api_keys;
      ALTER TABLE api_keys_new RENAME TO api_keys;
      CREATE UNIQUE INDEX one_key_per_code ON api_keys (grant_id); COMMIT;`)
    t.same(
      db
        .prepare(
          `SELECT l.name FROM pragma_index_list('api_keys') l, pragma_index_info(l.name) i
           WHERE l."unique" AND i.name = 'grant_id'`,
        )
        .pluck()
        .all(),
      ['one_key_per_code'],
    )
    db.close()
  }
  const { user, account } = await createUser(app, 'alice@example.com')
  const insert = () => insertGrantKey(app, { userId: user.id, accountId: account.id }, 'jti-1')
  t.equal((await insert()).ok, true)
  t.same(await insert(), { ok: false, reason: 'grant_used' }, 'the second use is a replay, not an error')
})

t.test('lookups by client-sent text holding U+0000 find nothing, on every database', async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const client = await registerClient(app)
  t.equal(await app.store.clients.byId(`${client.client_id}\u0000`), undefined)
  t.equal(await app.store.users.byEmail('alice@example.com\u0000'), undefined)
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/notes',
    headers: { authorization: `Bearer ${key.token}` },
    payload: { title: 'a\u0000b' },
  })
  t.equal(res.statusCode, 400, 'the demo API refuses a note holding U+0000')
  t.same(res.json(), {
    type: 'about:blank',
    title: 'Bad Request',
    status: 400,
    detail: 'title and body must not contain U+0000',
  })
})

/** A team account with two owners, alice and bob. */
async function twoOwners(app: FastifyInstance, round: number) {
  const alice = await createUser(app, `alice-${round}@example.com`)
  const bob = await createUser(app, `bob-${round}@example.com`)
  const team = await app.store.accounts.create({
    name: `team ${round}`,
    kind: 'team',
    ownerId: alice.user.id,
    createdAt: app.now(),
  })
  await app.store.accounts.addMember(team.id, bob.user.id, 'owner', app.now())
  return { alice: alice.user, bob: bob.user, team }
}

const ownersOf = async (app: FastifyInstance, accountId: number) =>
  (await app.store.admin.membersOf(accountId)).filter((m) => m.role === 'owner').length

t.test(`two owners demoting or removing each other at once leave one owner (${TEST_DIALECT})`, async (t) => {
  const { app } = await build(t)
  const now = app.now()
  const outcomes = { demote: [0, 0], remove: [0, 0], userRemove: [0, 0] }
  for (let round = 0; round < 15; round++) {
    for (const kind of ['demote', 'remove', 'userRemove'] as const) {
      const { alice, bob, team } = await twoOwners(app, round * 3 + ['demote', 'remove', 'userRemove'].indexOf(kind))
      const results =
        kind === 'demote'
          ? await Promise.all(
              [alice, bob].map((u) => app.store.admin.setRole(team.id, u.id, 'member', now, app.config.roleScopes)),
            )
          : kind === 'remove'
            ? await Promise.all([alice, bob].map((u) => app.store.admin.removeMember(team.id, u.id, now)))
            : // One operator removes alice while bob is demoted from the dashboard.
              await Promise.all([
                app.store.admin.removeUser(alice.id, now).then((r) => r!),
                app.store.admin.setRole(team.id, bob.id, 'member', now, app.config.roleScopes),
              ])
      const owners = await ownersOf(app, team.id)
      if (owners !== 1) t.fail(`${kind}, round ${round}: ${owners} owners left (${JSON.stringify(results)})`)
      outcomes[kind][0]! += results.filter((r) => r.ok).length
      outcomes[kind][1]! += results.filter((r) => !r.ok).length
    }
  }
  // In every round one change went through and the other was refused as the last owner's.
  t.same(outcomes, { demote: [15, 15], remove: [15, 15], userRemove: [15, 15] })
})

t.test('removing the only owner of a team is refused, and changes nothing', async (t) => {
  const { app } = await build(t)
  const { user, account: personal } = await createUser(app, 'alice@example.com')
  const team = await app.store.accounts.create({ name: 'team', kind: 'team', ownerId: user.id, createdAt: app.now() })
  const key = await createKey(app, { userId: user.id, accountId: team.id })
  const refused = await app.store.admin.removeUser(user.id, app.now())
  t.same(refused, { ok: false, lastOwnerOf: [team] }, 'names the team (the personal account does not count)')
  t.equal((await app.store.users.byId(user.id))!.disabledAt, null, 'not disabled')
  t.equal((await app.store.keys.byId(key.key.id))!.revokedAt, null, 'the key still works')
  t.equal(await ownersOf(app, team.id), 1)
  const bob = await createUser(app, 'bob@example.com')
  await app.store.accounts.addMember(team.id, bob.user.id, 'owner', app.now())
  const done = await app.store.admin.removeUser(user.id, app.now())
  t.same(done, { ok: true, revokedKeys: 1 }, 'with another owner, the removal goes through')
  t.equal(await ownersOf(app, team.id), 1, 'bob owns the team')
  t.same(await app.store.admin.membersOf(personal.id), [], 'the personal account is left without members')
})
