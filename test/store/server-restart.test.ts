// The database server ending keygate's idle connections (a restart, an administrator, a
// proxy's time-out) does not stop keygate: the pool drops them and the next request opens
// new ones.
import t from 'tap'
import { build, onTestServer, schemaFor, TEST_DIALECT } from '../helper.js'

t.test(`${TEST_DIALECT}: idle connections ended by the server`, async (t) => {
  const { app, dir } = await build(t)
  if (TEST_DIALECT === 'sqlite') {
    t.pass('SQLite runs in the process: there is no server to end a connection')
    return
  }
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  const schema = schemaFor(dir)
  await onTestServer([
    TEST_DIALECT === 'postgres'
      ? `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keygate:${schema}'`
      : `SELECT 1`,
  ])
  if (TEST_DIALECT === 'mysql') {
    const { default: mysql } = await import('mysql2/promise')
    const admin = await mysql.createConnection({ uri: process.env.KEYGATE_TEST_DATABASE_URL })
    const [rows] = await admin.query('SELECT id FROM information_schema.processlist WHERE db = ?', [schema])
    for (const { id } of rows as Array<{ id: number }>) await admin.query(`KILL ${Number(id)}`)
    await admin.end()
  }
  await new Promise((r) => setTimeout(r, 200))
  // Still answering: the first request may meet a dead connection, none stops the process.
  const answers: number[] = []
  for (let i = 0; i < 5; i++) answers.push((await app.inject({ url: '/readyz' })).statusCode)
  t.equal(answers.at(-1), 200, `answers after the server ended the connections: ${answers.join(', ')}`)
  t.ok(await app.store.ping())
})
