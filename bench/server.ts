// The benchmark's keygate process, in front of the product's API (bench/peers/product-api.ts,
// a process of its own; KEYGATE_UPSTREAM). Makes a key and prints it, with the SQLite file
// the peers look keys up in, as JSON.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/index.js'
import { createManualKey } from '../src/keys/manual.js'
import { buildApp } from '../src/server/app.js'

const port = Number(process.argv[2])
const upstream = process.argv[3]!
const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'))
// The per-key /mcp and /token rate limits would cap the runs; the benchmark measures throughput, so they are lifted.
const app = await buildApp(
  loadConfig(
    {
      KEYGATE_DB: join(dir, 'k.db'),
      KEYGATE_SECRET: 'bench-secret-0123456789-abcdefghijklmnop',
      PORT: String(port),
      KEYGATE_RATE_LIMIT_MCP: '100000000',
      KEYGATE_RATE_LIMIT_TOKEN: '100000000',
      KEYGATE_UPSTREAM: `${upstream}/api/v1`,
      KEYGATE_LOG_LEVEL: 'warn',
    },
    { generateSecret: false },
  ),
)
await app.listen({ port, host: '127.0.0.1' })
const user = await app.store.users.create({
  email: 'bench@example.com',
  name: 'bench',
  passwordHash: 'x',
  createdAt: app.now(),
})
const account = await app.store.accounts.create({
  name: 'bench',
  kind: 'personal',
  ownerId: user.id,
  createdAt: app.now(),
})
const key = await createManualKey(app.store, app.config.keyPrefix, {
  accountId: account.id,
  userId: user.id,
  name: 'bench',
  scopes: ['read', 'write'],
  expiresAt: null,
  now: app.now(),
  ip: null,
  via: 'cli',
})
// A client and a consent to exchange codes under (the bench signs the codes itself, with the same secret).
const client = await app.store.clients.register(
  {
    clientId: 'bench',
    clientName: 'bench',
    redirectUris: ['https://client.example/cb'],
    tokenEndpointAuthMethod: 'none',
    clientSecretHash: null,
    metadata: {},
    source: 'dcr',
    fingerprint: null,
  },
  app.now(),
)
const consent = await app.store.consents.upsert(
  { userId: user.id, clientId: client.clientId, accountId: account.id, scopes: ['read'] },
  app.now(),
)
process.stdout.write(
  `${JSON.stringify({
    port,
    key: key.token,
    db: join(dir, 'k.db'),
    issuer: app.config.issuer,
    exchange: {
      clientId: client.clientId,
      userId: user.id,
      accountId: account.id,
      consentCreatedAt: consent.createdAt,
    },
  })}\n`,
)
process.on('SIGTERM', async () => {
  await app.close()
  process.exit(0)
})
