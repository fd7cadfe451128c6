// compiledOnce: a statement built and compiled once, run with each call's values put in
// the compiled statement's order by name; a statement with a parameter that is not one of
// the named markers is refused when it is compiled, not run with a value out of place.
import t from 'tap'
import { compiledOnce } from '../../src/store/database.js'
import { openDatabase } from '../../src/store/index.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { TEST_DIALECT, tempDir, testConfig } from '../helper.js'

t.test(`${TEST_DIALECT}: compiled once, run with values by name`, async (t) => {
  const config = testConfig(tempDir(t))
  const database = await openDatabase(config)
  t.teardown(() => database.close())
  await migrateToLatest(database, config.databaseSchema)
  const { db } = database
  for (const [email, name] of [
    ['a@example.com', 'Ann'],
    ['b@example.com', 'Bob'],
  ])
    await db.insertInto('users').values({ email, name, password_hash: 'x', created_at: 5 }).execute()
  // The markers are given in the other order than the statement holds its parameters.
  const find = compiledOnce(['createdAt', 'email'], (p) =>
    db.selectFrom('users').select('name').where('email', '=', p.email).where('created_at', '=', p.createdAt),
  )
  t.same(await find(db, { email: 'b@example.com', createdAt: 5 }), [{ name: 'Bob' }], 'each value in its place')
  t.same(await find(db, { createdAt: 5, email: 'a@example.com' }), [{ name: 'Ann' }], 'a second call, new values')
  t.same(await find(db, { email: 'a@example.com', createdAt: 6 }), [], 'no row where one value does not match')
  const inTransaction = await db.transaction().execute((trx) => find(trx, { email: 'b@example.com', createdAt: 5 }))
  t.same(inTransaction, [{ name: 'Bob' }], 'in a transaction')

  t.throws(
    () => compiledOnce(['email'], (p) => db.selectFrom('users').select('id').where('email', '=', p.email).limit(1)),
    /a parameter is not named/,
    'a value written into the statement (the limit) is refused at compile time',
  )
})
