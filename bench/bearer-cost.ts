// The in-process cost of one bearer check (checksum, SHA-256, indexed lookup, revocation
// and expiry checks) against a SQLite file holding N key rows. Rows other than the probed
// keys are bulk-inserted with random hashes (the lookup only needs them to exist).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { mintToken } from '../src/keys/format.js'
import { lookUpKey } from '../src/keys/lookup.js'

const PROBES = 1000

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

export async function bearerCheckCost(
  sizes: number[],
  iterations = 50_000,
): Promise<Array<{ rows: number; micros: number }>> {
  const out: Array<{ rows: number; micros: number }> = []
  for (const rows of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'))
    const config = loadConfig(
      { KEYGATE_DB: join(dir, 'k.db'), KEYGATE_SECRET: 'bench-secret-0123456789-abcdefghijklmnop' },
      { generateSecret: false },
    )
    let app = await buildApp(config)
    const user = await app.store.users.create({ email: 'b@example.com', name: 'b', passwordHash: 'x', createdAt: 0 })
    const account = await app.store.accounts.create({ name: 'b', kind: 'personal', ownerId: user.id, createdAt: 0 })
    const keys: string[] = []
    for (let i = 0; i < Math.min(PROBES, rows); i++) {
      const k = mintToken('kg_')
      keys.push(k.token)
      await app.store.keys.insert({
        accountId: account.id,
        userId: user.id,
        name: 'k',
        keyHash: k.hash,
        displayPrefix: k.displayPrefix,
        scopes: ['read'],
        resource: null,
        clientId: null,
        grantId: null,
        familyId: null,
        createdAt: 0,
        expiresAt: null,
      })
    }
    await app.close()
    if (rows > keys.length) fill(config.dbPath, rows - keys.length, user.id, account.id)
    app = await buildApp(config)
    for (let i = 0; i < 5000; i++) await lookUpKey(app, keys[i % keys.length], app.config.resource)
    const start = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) {
      const { outcome } = await lookUpKey(app, keys[(i * 7919) % keys.length], app.config.resource)
      if (outcome !== 'ok') throw new Error(`bench key refused: ${outcome}`)
    }
    out.push({ rows, micros: Number(process.hrtime.bigint() - start) / 1000 / iterations })
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return out
}
