// The 20-way races of concurrency.test.ts, run by two processes at once (ten each) on one
// database: SQLite's file, or a PostgreSQL schema or MySQL database (npm run test:pg,
// npm run test:mysql). Single use, single revocation, single rotation and the sign-in
// count hold across processes, not only across one process's connections.
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import t, { type Test as Tap } from 'tap'
import { mintToken, refreshPrefix } from '../../src/keys/format.js'
import { createStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { newKey, TEST_DIALECT, tempDir, testConfig, testEnv } from '../helper.js'
import type { RaceJob } from '../support/race-worker.js'

const WORKER = new URL('../support/race-worker.js', import.meta.url).pathname
const PER_PROCESS = 10

/** Starts two workers with `job(n)` (n = 0, 1), lets them go at once, and answers all 20 results. */
async function race(t: Tap, dir: string, job: (n: number) => RaceJob): Promise<unknown[]> {
  const env = { PATH: process.env.PATH ?? '', ...testEnv(dir) }
  const workers = [0, 1].map((n) => {
    const child: ChildProcess = spawn(process.execPath, [WORKER, JSON.stringify(job(n))], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    t.teardown(() => void child.kill())
    const stderr: string[] = []
    child.stderr!.on('data', (d) => stderr.push(String(d)))
    const lines = createInterface({ input: child.stdout! })
    const next = () =>
      new Promise<string>((resolve, reject) => {
        lines.once('line', resolve)
        child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${stderr.join('')}`)))
      })
    return { child, next }
  })
  await Promise.all(workers.map(async (w) => t.equal(await w.next(), 'ready')))
  const results = workers.map((w) => w.next())
  for (const w of workers) w.child.stdin!.write('go\n')
  return (await Promise.all(results)).flatMap((line) => JSON.parse(line) as unknown[])
}

async function setUp(t: Tap): Promise<{ dir: string; store: Store; userId: number; accountId: number }> {
  const dir = tempDir(t)
  const store = await createStore(testConfig(dir))
  t.teardown(() => store.close())
  const user = await store.users.create({ email: 'race@example.com', name: 'race', passwordHash: 'x', createdAt: 1 })
  const account = await store.accounts.create({ name: 'race', kind: 'personal', ownerId: user.id, createdAt: 1 })
  return { dir, store, userId: user.id, accountId: account.id }
}

t.test(`one grant id, 20 inserts from two processes: exactly one key (${TEST_DIALECT})`, async (t) => {
  const { dir, store, userId, accountId } = await setUp(t)
  const results = await race(t, dir, () => ({
    op: 'grant',
    count: PER_PROCESS,
    userId,
    accountId,
    grantId: 'raced-jti',
    hashes: Array.from({ length: PER_PROCESS }, () => mintToken('kg_').hash),
  }))
  t.equal(results.filter((r) => r === 'ok').length, 1, 'one insert lands')
  t.equal(results.filter((r) => r === 'grant_used').length, 19, 'the others are told the grant is used')
  const keys = await store.keys.list({ accountId })
  t.equal(keys.filter((k) => k.grantId === 'raced-jti').length, 1, 'one row holds the grant id')
})

t.test(`one key, 20 revokes from two processes: exactly one revokes it (${TEST_DIALECT})`, async (t) => {
  const { dir, store, userId, accountId } = await setUp(t)
  const inserted = await store.keys.insert(newKey({ userId, accountId }).key)
  if (!inserted.ok) throw new Error('key not inserted')
  const results = await race(t, dir, () => ({ op: 'revoke', count: PER_PROCESS, keyId: inserted.key.id }))
  t.equal(results.filter((r) => r === true).length, 1)
  t.ok((await store.keys.byId(inserted.key.id))!.revokedAt)
})

t.test(`one refresh token, 20 first uses from two processes: exactly one is first (${TEST_DIALECT})`, async (t) => {
  const { dir, store, userId, accountId } = await setUp(t)
  const client = await store.clients.register(
    {
      clientId: 'race-client',
      clientName: 'race',
      redirectUris: ['https://client.example/cb'],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      metadata: {},
      source: 'dcr',
      fingerprint: null,
    },
    1,
  )
  const refresh = mintToken(refreshPrefix('kg_'))
  const inserted = await store.keys.insert(
    newKey({ userId, accountId }, { grantId: 'jti-r', clientId: client.clientId }).key,
    { tokenHash: refresh.hash, expiresAt: 2_000_000_000 },
  )
  t.ok(inserted.ok)
  const results = await race(t, dir, () => ({ op: 'rotate', count: PER_PROCESS, tokenHash: refresh.hash }))
  t.equal(results.filter((r) => r === true).length, 1)
})

t.test(`20 sign-in attempts from two processes: exactly the limit (5) is allowed (${TEST_DIALECT})`, async (t) => {
  const { dir, store } = await setUp(t)
  const results = await race(t, dir, () => ({ op: 'signin', count: PER_PROCESS, address: 'a:race', email: 'e:race' }))
  t.equal(results.filter((r) => r === true).length, 5, 'five attempts counted and allowed, whichever process')
  t.equal(results.filter((r) => r === false).length, 15)
  await store.signins.succeeded({ address: 'a:race', email: 'e:race' })
})
