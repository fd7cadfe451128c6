// The benchmark's server process: keygate (with the built-in demo API as its upstream) and
// a plain Fastify reverse proxy (no auth, no MCP) in front of the same demo API, so that
// both paths cost one extra hop inside one process. Under /checked/ the proxy first runs
// keygate's bearer check, which separates the key check's cost from the MCP translation's.
// Prints its ports and a key as JSON.

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { Pool } from 'undici'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { lookUpKey } from '../src/keys/lookup.js'
import { createManualKey } from '../src/keys/manual.js'
import { bearerToken } from '../src/mcp/bearer.js'

const port = Number(process.argv[2])
const proxyPort = Number(process.argv[3])
const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'))
// The per-key /mcp rate limit would cap run (a); the benchmark measures throughput, so it is lifted.
const app = await buildApp(
  loadConfig(
    {
      KEYGATE_DB: join(dir, 'k.db'),
      KEYGATE_SECRET: 'bench-secret-0123456789-abcdefghijklmnop',
      PORT: String(port),
      KEYGATE_RATE_LIMIT_MCP: '100000000',
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
for (let i = 0; i < 5; i++)
  await app.store.notes.create({
    accountId: account.id,
    title: `note ${i}`,
    body: 'x'.repeat(200),
    createdAt: app.now(),
  })

const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64 })
const proxy = Fastify()
async function forward(path: string, req: FastifyRequest, reply: FastifyReply) {
  const res = await pool.request({
    method: req.method as 'GET',
    path,
    headers: { authorization: req.headers.authorization ?? '', accept: 'application/json' },
  })
  reply.code(res.statusCode).header('content-type', res.headers['content-type'] ?? 'application/json')
  return reply.send(await res.body.text())
}
proxy.all('/*', async (req, reply) => forward(req.url, req, reply))
// Run (d): the same proxy, after keygate's bearer check (the key check alone, no MCP).
proxy.all('/checked/*', async (req, reply) => {
  const { outcome } = await lookUpKey(app, bearerToken(req), app.config.resource)
  if (outcome !== 'ok') return reply.code(401).send({ error: outcome })
  return forward(req.url.slice('/checked'.length), req, reply)
})
await proxy.listen({ port: proxyPort, host: '127.0.0.1' })
process.stdout.write(`${JSON.stringify({ port, proxyPort, key: key.token, dir })}\n`)
process.on('SIGTERM', async () => {
  await proxy.close()
  await app.close()
  await pool.close()
  process.exit(0)
})
