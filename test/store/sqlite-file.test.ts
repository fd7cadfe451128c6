// The SQLite file holds key hashes, client secrets' hashes and the audit log: it and its
// WAL files are created readable by their owner only.

import { statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createStore } from '../../src/store/index.js'
import { tempDir } from '../helper.js'

t.test('the database file, its WAL files and a new data folder are owner-only', async (t) => {
  const dir = join(tempDir(t), 'data')
  const path = join(dir, 'keygate.db')
  const previous = process.umask(0o022)
  t.teardown(() => process.umask(previous))
  const store = await createStore({ dbPath: path, databaseUrl: undefined, databaseSchema: undefined })
  t.teardown(() => store.close())
  await store.users.create({ email: 'a@example.com', name: 'a', passwordHash: 'x', createdAt: 1 })
  t.equal(statSync(dir).mode & 0o777, 0o700, 'data folder 0700')
  for (const file of [path, `${path}-wal`, `${path}-shm`])
    t.equal(statSync(file).mode & 0o777, 0o600, `${file.slice(dir.length)} is 0600`)
})
