// The in-process cost of one bearer check (checksum, SHA-256, indexed lookup, revocation
// and expiry checks) against a SQLite file holding N key rows.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { mintKey } from '../src/crypto/api-key.js'
import { lookUpKey } from '../src/mcp/bearer.js'

export async function bearerCheckCost(sizes: number[], iterations = 20_000): Promise<Array<{ rows: number; micros: number }>> {
  const out: Array<{ rows: number; micros: number }> = []
  for (const rows of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'))
    const app = await buildApp(loadConfig({ KEYGATE_DB: join(dir, 'k.db'), KEYGATE_SECRET: 'bench-secret-0123456789-abcdefghijklmnop' }, { generateSecret: false }))
    const user = await app.store.users.create({ email: 'b@example.com', name: 'b', passwordHash: 'x', createdAt: 0 })
    const account = await app.store.accounts.create({ name: 'b', kind: 'personal', ownerId: user.id, createdAt: 0 })
    const keys: string[] = []
    for (let i = 0; i < rows; i++) {
      const k = mintKey('kg_')
      if (i % Math.max(1, Math.floor(rows / 100)) === 0) keys.push(k.raw)
      await app.store.keys.insert({ accountId: account.id, userId: user.id, name: 'k', keyHash: k.hash, displayPrefix: k.displayPrefix, scopes: ['read'], resource: null, clientId: null, grantId: null, familyId: null, createdAt: 0, expiresAt: null })
    }
    for (let i = 0; i < 2000; i++) await lookUpKey(app, keys[i % keys.length], app.config.resource)
    const start = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) {
      const { outcome } = await lookUpKey(app, keys[i % keys.length], app.config.resource)
      if (outcome !== 'ok') throw new Error(`bench key refused: ${outcome}`)
    }
    out.push({ rows, micros: Number(process.hrtime.bigint() - start) / 1000 / iterations })
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return out
}
