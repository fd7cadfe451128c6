// The in-process cost of one bearer check (format, SHA-256, indexed lookup, revocation and
// expiry checks) on each database, set against the same check with the lookup written as
// keygate 0.1.0 wrote it: the raw driver (a better-sqlite3 statement prepared once; a
// parameterised pg or mysql2 query). Both run in the same process on the same rows, in
// interleaved rounds; the ratio is the median of the rounds' ratios. On SQLite also with
// 1,000,000 key rows (bulk-inserted with random hashes: the lookup only needs them to exist).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { loadConfig } from '../src/config/index.js'
import { lookUpKey } from '../src/keys/lookup.js'
import { buildApp } from '../src/server/app.js'
import { toKey } from '../src/store/rows.js'
import type { KeyRow } from '../src/store/tables.js'
import type { ApiKey } from '../src/store/types.js'
import { newKey } from '../test/helper.js'
import { type DatabaseUnderTest, dropSchema, median } from './databases.js'

const PROBES = 1000
const ROUNDS = 8
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop'

export type BearerCost = {
  database: string
  rows: number
  micros: number
  baselineMicros: number
  ratio: number
  /** keygate's µs per check, round by round. */
  rounds: number[]
}

function fill(path: string, rows: number, userId: number, accountId: number): void {
  const db = new Database(path)
  const insert =
    db.prepare(`INSERT INTO api_keys (account_id, user_id, name, key_hash, display_prefix, scopes, created_at)
    VALUES (?, ?, 'bulk', ?, 'kg_bulk', 'read', 0)`)
  const batch = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run(accountId, userId, randomBytes(32).toString('hex'))
  })
  for (let done = 0; done < rows; done += 50_000) batch(Math.min(50_000, rows - done))
  db.close()
}

/** The lookup as keygate 0.1.0 made it, with the raw driver; and how to close it. */
async function rawLookup(
  database: DatabaseUnderTest,
  dbPath: string,
  schema: string,
): Promise<{ byHash(hash: string): Promise<ApiKey | undefined>; close(): Promise<void> }> {
  if (database.name === 'SQLite') {
    const db = new Database(dbPath)
    const statement = db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE key_hash = ?')
    return {
      async byHash(hash) {
        const row = statement.get(hash)
        return row && toKey(row)
      },
      close: async () => void db.close(),
    }
  }
  if (database.name === 'PostgreSQL') {
    const pool = new pg.Pool({ connectionString: database.url, max: 10, options: `-c search_path=${schema}` })
    return {
      async byHash(hash) {
        const { rows } = await pool.query<KeyRow>('SELECT * FROM api_keys WHERE key_hash = $1', [hash])
        return rows[0] && toKey(rows[0])
      },
      close: () => pool.end(),
    }
  }
  const pool = mysql.createPool({ uri: database.url, database: schema, connectionLimit: 10 })
  return {
    async byHash(hash) {
      const [rows] = await pool.query('SELECT * FROM api_keys WHERE key_hash = ?', [hash])
      const row = (rows as KeyRow[])[0]
      return row && toKey(row)
    },
    close: () => pool.end(),
  }
}

async function timeChecks(app: FastifyInstance, keys: string[], iterations: number): Promise<number> {
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) {
    const { outcome } = await lookUpKey(app, keys[(i * 7919) % keys.length], app.config.resource)
    if (outcome !== 'ok') throw new Error(`bench key refused: ${outcome}`)
  }
  return Number(process.hrtime.bigint() - start) / 1000 / iterations
}

type Setup = { rows: number; app: FastifyInstance; baseline: FastifyInstance; keys: string[]; close(): Promise<void> }

/** A keygate app over `rows` key rows, the same app with the raw lookup, and the probe keys. */
async function setUp(database: DatabaseUnderTest, rows: number): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'))
  const schema = `kgbench_${randomBytes(6).toString('hex')}`
  const remove = async () => {
    rmSync(dir, { recursive: true, force: true })
    await dropSchema(database, schema)
  }
  const env: Record<string, string> = { KEYGATE_DB: join(dir, 'k.db'), KEYGATE_SECRET: SECRET }
  if (database.url) Object.assign(env, { KEYGATE_DATABASE_URL: database.url, KEYGATE_DATABASE_SCHEMA: schema })
  const config = loadConfig(env, { generateSecret: false })
  let app: FastifyInstance | undefined
  try {
    app = await buildApp(config)
    const user = await app.store.users.create({ email: 'b@example.com', name: 'b', passwordHash: 'x', createdAt: 0 })
    const account = await app.store.accounts.create({ name: 'b', kind: 'personal', ownerId: user.id, createdAt: 0 })
    const keys: string[] = []
    for (let i = 0; i < Math.min(PROBES, rows); i++) {
      const k = newKey({ userId: user.id, accountId: account.id })
      keys.push(k.token)
      await app.store.keys.insert(k.key)
    }
    if (rows > keys.length) {
      if (database.name !== 'SQLite') throw new Error('bulk rows are filled on SQLite only')
      await app.close()
      app = undefined
      fill(config.dbPath, rows - keys.length, user.id, account.id)
      app = await buildApp(config)
    }
    const raw = await rawLookup(database, config.dbPath, schema)
    // The same app, its key lookup replaced by the raw driver's: the rest of the check is shared.
    const baseline = Object.create(app, {
      store: { value: { ...app.store, keys: { ...app.store.keys, byHash: raw.byHash } } },
    }) as FastifyInstance
    const opened = app
    return {
      rows,
      app,
      baseline,
      keys,
      close: async () => {
        await raw.close()
        await opened.close()
        await remove()
      },
    }
  } catch (err) {
    await app?.close()
    await remove()
    throw err
  }
}

/**
 * The bearer check's cost on `database` with each of `rowCounts` key rows, all measured in
 * the same interleaved rounds (each table, keygate's lookup and the raw one, in a rotating
 * order), so that tables of different sizes are compared within a round.
 */
export async function bearerCheckCosts(
  database: DatabaseUnderTest,
  rowCounts: number[],
  iterations: number,
): Promise<BearerCost[]> {
  const setups: Setup[] = []
  try {
    for (const rows of rowCounts) setups.push(await setUp(database, rows))
    const perRound = Math.ceil(iterations / ROUNDS)
    const runs = setups.flatMap((s) => [
      () => timeChecks(s.app, s.keys, perRound),
      () => timeChecks(s.baseline, s.keys, perRound),
    ])
    for (const run of runs) await run()
    const times: number[][] = runs.map(() => [])
    for (let round = 0; round < ROUNDS; round++) {
      // A rotating order, so that no measurement always runs on a warmer (or colder) machine.
      for (let k = 0; k < runs.length; k++) {
        const i = (k + round) % runs.length
        times[i]!.push(await runs[i]!())
      }
    }
    return setups.map((s, n) => {
      const ours = times[2 * n]!
      const theirs = times[2 * n + 1]!
      return {
        database: database.name,
        rows: s.rows,
        micros: median(ours),
        baselineMicros: median(theirs),
        ratio: median(ours.map((x, i) => x / theirs[i]!)),
        rounds: ours,
      }
    })
  } finally {
    for (const s of setups) await s.close()
  }
}
