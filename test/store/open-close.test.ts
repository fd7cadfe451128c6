// A keygate that fails to start closes the database it opened: a pool left open on
// PostgreSQL or MySQL would hold the process (and the server's connections) forever.
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildApp } from '../../src/server/app.js'
import { TEST_DIALECT, tempDir, testConfig } from '../helper.js'

const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length

t.test('a start-up that fails after the store opened closes it', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'clients.json')
  writeFileSync(file, JSON.stringify({ nope: 1 }))
  const config = testConfig(dir, { KEYGATE_CLIENTS_FILE: file })
  const before = sockets()
  await t.rejects(buildApp(config), { message: /^KEYGATE_CLIENTS_FILE: file: / })
  if (TEST_DIALECT === 'sqlite') {
    // SQLite removes the write-ahead log when its last connection closes.
    t.notOk(existsSync(`${config.dbPath}-wal`), 'the SQLite connection is closed')
  } else {
    // Closed sockets leave the count when the system has closed them: waited for, not timed.
    while (sockets() > before) await sleep(20)
    t.equal(sockets(), before, `no ${TEST_DIALECT} connection is left open`)
  }
})
