// The keys a new grant replaces are read through an index of live keys (migration 0007),
// not through every key ever revoked for that user and client: revoked keys are kept, and
// each reconnection of a shared client adds one.
import { CompiledQuery } from 'kysely'
import t from 'tap'
import { openDatabase } from '../../src/store/index.js'
import { liveOfClientQuery } from '../../src/store/keys.js'
import { build, createKey, createUser, registerClient, TEST_DIALECT } from '../helper.js'

const EXPLAIN = { sqlite: 'EXPLAIN QUERY PLAN ', postgres: 'EXPLAIN ', mysql: 'EXPLAIN ' }[TEST_DIALECT]
const ANALYZE = { sqlite: 'ANALYZE', postgres: 'ANALYZE api_keys', mysql: 'ANALYZE TABLE api_keys' }[TEST_DIALECT]

t.test(`a new grant reads the live keys of the user and client through their index (${TEST_DIALECT})`, async (t) => {
  const { app, config } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const owner = { userId: user.id, accountId: account.id }
  const client = { clientId: (await registerClient(app)).client_id as string }
  for (let i = 0; i < 300; i++) await createKey(app, owner, { clientId: client.clientId })
  const database = await openDatabase(config)
  t.teardown(() => database.close())
  await database.db.updateTable('api_keys').set({ revoked_at: app.now() }).where('user_id', '=', user.id).execute()
  const live = await createKey(app, owner, { clientId: client.clientId })
  await database.db.executeQuery(CompiledQuery.raw(ANALYZE))

  const query = liveOfClientQuery(database.db, user.id, client.clientId, app.now())
  const rows = await query.execute()
  t.same(
    rows.map((r) => String(r.id)),
    [live.key.id],
    'the one live key of 301',
  )
  const { sql, parameters } = query.compile()
  const plan = await database.db.executeQuery(CompiledQuery.raw(EXPLAIN + sql, [...parameters]))
  t.match(JSON.stringify(plan.rows), /api_keys_live_user_client/, JSON.stringify(plan.rows))
})
