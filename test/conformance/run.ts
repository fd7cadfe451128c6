// Runs the MCP conformance suite's server scenarios against the demo. The suite cannot
// send a Bearer header, so a small local proxy adds one (a real key made through the
// store) and passes everything else through unchanged, Host and Origin included.
//   npm run test:conformance            (needs the npm registry: it fetches node@22)
import { spawn } from 'node:child_process'
import { createServer, request as httpRequest } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { mintKey } from '../../src/crypto/api-key.js'
import { freePort } from '../support/http.js'

const SCENARIOS = (process.env.CONFORMANCE_SCENARIOS ?? 'server-initialize,ping,tools-list,dns-rebinding-protection').split(',')

const dir = mkdtempSync(join(tmpdir(), 'keygate-conformance-'))
const port = await freePort()
const app = await buildApp(loadConfig({ KEYGATE_DB: join(dir, 'k.db'), KEYGATE_SECRET: 'conformance-secret-0123456789-abcdefghij', PORT: String(port) }, { generateSecret: false }))
await app.listen({ port, host: '127.0.0.1' })
const user = await app.store.users.create({ email: 'conformance@example.com', name: 'conformance', passwordHash: 'x', createdAt: app.now() })
const account = await app.store.accounts.create({ name: 'conformance', kind: 'personal', ownerId: user.id, createdAt: app.now() })
const key = mintKey('kg_')
await app.store.keys.insert({ accountId: account.id, userId: user.id, name: 'conformance', keyHash: key.hash, displayPrefix: key.displayPrefix, scopes: ['read', 'write'], resource: null, clientId: null, grantId: null, familyId: null, createdAt: app.now(), expiresAt: null })

const proxyPort = await freePort()
const proxy = createServer((req, res) => {
  const host = req.headers.host === `localhost:${proxyPort}` || req.headers.host === `127.0.0.1:${proxyPort}` ? `localhost:${port}` : req.headers.host
  const upstream = httpRequest({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: { ...req.headers, host, authorization: `Bearer ${key.raw}` } }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers)
    up.pipe(res)
  })
  upstream.on('error', () => res.writeHead(502).end())
  req.pipe(upstream)
})
await new Promise<void>((resolve) => proxy.listen(proxyPort, '127.0.0.1', resolve))

let failed = 0
for (const scenario of SCENARIOS) {
  const code = await new Promise<number>((resolve) => {
    const child = spawn('npx', ['-y', '-p', 'node@22', '-p', '@modelcontextprotocol/conformance@0.1.16', '-c', `conformance server --url http://localhost:${proxyPort}/mcp --scenario ${scenario}`], { stdio: 'inherit' })
    child.on('exit', (c) => resolve(c ?? 1))
  })
  console.log(`scenario ${scenario}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`}`)
  if (code !== 0) failed++
}
proxy.close()
await app.close()
rmSync(dir, { recursive: true, force: true })
process.exit(failed ? 1 : 0)
