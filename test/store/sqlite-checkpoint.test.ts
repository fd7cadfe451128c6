// SQLite's checkpoints (the write-ahead log copied back into the database file, both files
// synced) run in a worker thread, not on the connection that serves requests: a process
// that has written enough starts one, it checkpoints within a second of the writes, a
// failed worker does not stop the process, and closing the store waits for it.
import { execFile } from 'node:child_process'
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { createStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { tempDir } from '../helper.js'

/** A write per user: a few pages of the log each, 200 of them well under SQLite's own 1,000-page threshold. */
async function writeUsers(store: Store, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++)
    await store.users.create({ email: `u${i}@example.com`, name: `u${i}`, passwordHash: 'x', createdAt: 1 })
}

async function until(check: () => boolean, seconds: number): Promise<boolean> {
  for (let waited = 0; waited < seconds * 1000; waited += 50) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return check()
}

const open = (path: string) => createStore({ dbPath: path, databaseUrl: undefined, databaseSchema: undefined })

t.test('the log is checkpointed into the database file by the worker, well before SQLite would have', async (t) => {
  const path = join(tempDir(t), 'keygate.db')
  const store = await open(path)
  t.teardown(() => store.close())
  await writeUsers(store, 200)
  const size = () => statSync(path).size
  const before = size()
  // Fewer pages than the serving connection's threshold: only the worker copies them back.
  t.ok(
    await until(() => size() > before, 5),
    `the database file grew from ${before} bytes: the log was checkpointed (now ${size()})`,
  )
  const read = await store.users.byEmail('u199@example.com')
  t.equal(read?.name, 'u199', 'the rows read back')
})

t.test('a process that writes little starts no worker', async (t) => {
  const path = join(tempDir(t), 'keygate.db')
  const store = await open(path)
  t.teardown(() => store.close())
  await writeUsers(store, 20)
  const before = statSync(path).size
  await new Promise((r) => setTimeout(r, 800))
  t.equal(statSync(path).size, before, 'nothing checkpointed: the writes are still in the log')
})

t.test('a checkpointer that cannot open the file does not stop the process', async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'keygate.db')
  const store = await open(path)
  t.teardown(() => store.close())
  // The serving connection keeps its open file; the worker finds none to open.
  rmSync(path)
  await writeUsers(store, 150)
  await new Promise((r) => setTimeout(r, 500))
  await writeUsers(store, 10, 150)
  t.equal((await store.users.byEmail('u159@example.com'))?.name, 'u159', 'still writing and reading')
  await store.close()
  t.pass('the store closed: nothing waited for the worker that had already ended')
})

t.test(
  'a process run with flags of its own (here -e) checkpoints in the worker and exits once the store is closed',
  async (t) => {
    const dir = tempDir(t)
    const storeModule = fileURLToPath(new URL('../../src/store/index.js', import.meta.url))
    const path = join(dir, 'k.db')
    const script = `
    const { statSync } = await import('node:fs')
    const { createStore } = await import(${JSON.stringify(storeModule)})
    const store = await createStore({ dbPath: ${JSON.stringify(path)}, databaseUrl: undefined, databaseSchema: undefined })
    for (let i = 0; i < 200; i++) await store.users.create({ email: 'u' + i + '@example.com', name: 'u', passwordHash: 'x', createdAt: 1 })
    const before = statSync(${JSON.stringify(path)}).size
    let grew = false
    for (let waited = 0; waited < 5000 && !grew; waited += 50) {
      await new Promise((r) => setTimeout(r, 50))
      grew = statSync(${JSON.stringify(path)}).size > before
    }
    console.log(grew ? 'checkpointed' : 'not checkpointed')
    await store.close()
    console.log('closed')
  `
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 30_000,
    })
    t.same(
      stdout.trim().split('\n'),
      ['checkpointed', 'closed'],
      "the worker ran (the process's flags are not its own), close() resolved, exit 0",
    )
  },
)
