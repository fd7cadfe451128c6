// Runs the MCP conformance suite's server scenarios against the demo: the 2025 ones named
// below, then every scenario the 2026-07-28 revision requires, less those that do not apply
// to keygate (not-applicable.2026-07-28.yaml says which and why). The suite cannot
// send a Bearer header, so a small local proxy adds one (a real key made through the
// store) and passes everything else through unchanged, Host and Origin included.
// Then it runs the suite's authorization-server scenarios (0.2 prerelease): the suite
// prints an authorization URL and waits for the callback; a signed-in test browser
// approves the consent, as a person would.
//   npm run test:conformance            (needs the npm registry: it fetches node@22)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/index.js'
import { hashPassword } from '../../src/crypto/password.js'
import { createManualKey } from '../../src/keys/manual.js'
import { buildApp } from '../../src/server/app.js'
import { repoPath } from '../../src/shared/paths.js'
import { Browser, freePort } from '../support/http.js'

const SCENARIOS = (
  process.env.CONFORMANCE_SCENARIOS ?? 'server-initialize,ping,tools-list,dns-rebinding-protection'
).split(',')

const dir = mkdtempSync(join(tmpdir(), 'keygate-conformance-'))
const port = await freePort()
const app = await buildApp(
  loadConfig(
    { KEYGATE_DB: join(dir, 'k.db'), KEYGATE_SECRET: 'conformance-secret-0123456789-abcdefghij', PORT: String(port) },
    { generateSecret: false },
  ),
)
await app.listen({ port, host: '127.0.0.1' })
const PASSWORD = 'conformance password'
const user = await app.store.users.create({
  email: 'conformance@example.com',
  name: 'conformance',
  passwordHash: await hashPassword(PASSWORD),
  createdAt: app.now(),
})
const account = await app.store.accounts.create({
  name: 'conformance',
  kind: 'personal',
  ownerId: user.id,
  createdAt: app.now(),
})
const key = await createManualKey(app.store, app.config.keyPrefix, {
  accountId: account.id,
  userId: user.id,
  name: 'conformance',
  scopes: ['read', 'write'],
  expiresAt: null,
  now: app.now(),
  ip: null,
  via: 'cli',
})

const proxyPort = await freePort()
const proxy = createServer((req, res) => {
  const host =
    req.headers.host === `localhost:${proxyPort}` || req.headers.host === `127.0.0.1:${proxyPort}`
      ? `localhost:${port}`
      : req.headers.host
  const upstream = httpRequest(
    {
      host: '127.0.0.1',
      port,
      path: req.url,
      method: req.method,
      headers: { ...req.headers, host, authorization: `Bearer ${key.token}` },
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    },
  )
  upstream.on('error', () => res.writeHead(502).end())
  req.pipe(upstream)
})
await new Promise<void>((resolve) => proxy.listen(proxyPort, '127.0.0.1', resolve))

function conformance(version: string, command: string, onLine?: (line: string) => void): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(
      'npx',
      ['-y', '-p', 'node@22', '-p', `@modelcontextprotocol/conformance@${version}`, '-c', command],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    child.stdout!.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk)
      for (const line of String(chunk).split('\n')) onLine?.(line)
    })
    child.on('exit', (c) => resolve(c ?? 1))
  })
}

let failed = 0
for (const scenario of SCENARIOS) {
  const code = await conformance(
    '0.1.16',
    `conformance server --url http://localhost:${proxyPort}/mcp --scenario ${scenario}`,
  )
  console.log(`scenario ${scenario}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`}`)
  if (code !== 0) failed++
}

// The 2026-07-28 revision: exactly the server scenarios it requires, as frozen at its release.
if (process.env.CONFORMANCE_MODERN !== 'skip') {
  const modern = await conformance(
    '0.2.0-alpha.12',
    // CONFORMANCE_MODERN_ARGS: other arguments for the suite ({url} stands for keygate's /mcp).
    (
      process.env.CONFORMANCE_MODERN_ARGS ??
      `conformance server --url {url} --requirements 2026-07-28 --expected-failures ${repoPath('test/conformance/not-applicable.2026-07-28.yaml')}`
    ).replace('{url}', `http://localhost:${proxyPort}/mcp`),
  )
  console.log(`2026-07-28 server scenarios: ${modern === 0 ? 'passed' : `FAILED (exit ${modern})`}`)
  if (modern !== 0) failed++
}

// Clients people use, as they are published: MCP Inspector's CLI and mcp-remote, with the key
// as a header, straight to keygate (both need Node 22, fetched as the suite is).
const node22 = (packages: string[], command: string) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    const child = spawn('npx', ['-y', '-p', 'node@22', ...packages.flatMap((p) => ['-p', p]), '-c', command], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += String(chunk)
    })
    child.on('exit', (c) => resolve({ code: c ?? 1, out }))
  })
const mcpUrl = `http://localhost:${port}/mcp`
const header = `Authorization: Bearer ${key.token}`
for (const [what, args, expected] of [
  ['tools/list', '--method tools/list', '"list_notes"'],
  ['tools/call', '--method tools/call --tool-name list_notes', '"notes"'],
] as const) {
  const run = await node22(
    ['@modelcontextprotocol/inspector@2.12.0'],
    `mcp-inspector --cli ${mcpUrl} --transport http --header "${header}" ${args}`,
  )
  const ok = run.code === 0 && run.out.includes(expected)
  console.log(`MCP Inspector CLI ${what}: ${ok ? 'passed' : `FAILED (exit ${run.code}) ${run.out.slice(0, 500)}`}`)
  if (!ok) failed++
}
/**
 * mcp-remote, a stdio server in front of a remote one, driven by an SDK client: its tools
 * listed and one called. `extra` is its arguments after the URL; `env` its environment.
 */
async function viaMcpRemote(label: string, extra: string, env: Record<string, string> = {}): Promise<void> {
  const { Client } = await import('@modelcontextprotocol/client')
  const { StdioClientTransport } = await import('@modelcontextprotocol/client/stdio')
  const remote = new Client({ name: 'interop', version: '1' })
  let ok = false
  try {
    await remote.connect(
      new StdioClientTransport({
        command: 'npx',
        args: ['-y', '-p', 'node@22', '-p', 'mcp-remote@0.15.1', '-c', `mcp-remote ${mcpUrl} ${extra}`],
        env: { ...(process.env as Record<string, string>), ...env },
        stderr: 'ignore',
      }),
    )
    const { tools } = await remote.listTools()
    const called = await remote.callTool({ name: 'list_notes', arguments: {} })
    ok = tools.some((t) => t.name === 'list_notes') && !called.isError
  } catch (err) {
    console.log(`mcp-remote (${label}): ${(err as Error).message}`)
  } finally {
    await remote.close().catch(() => undefined)
  }
  console.log(`mcp-remote (${label}): ${ok ? 'passed' : 'FAILED'}`)
  if (!ok) failed++
}
await viaMcpRemote('header', `--header "${header}"`)
// Through OAuth: discovery, registration, the consent page in "the browser" (a BROWSER
// program that signs in and approves, as a person would), its callback, the token.
const browserProgram = join(dir, 'browser.mjs')
writeFileSync(
  browserProgram,
  `#!${process.execPath}
import { Browser } from ${JSON.stringify(new URL('../support/http.js', import.meta.url).href)}
const b = new Browser(${JSON.stringify(`http://localhost:${port}`)})
await b.signIn(${JSON.stringify('conformance@example.com')}, ${JSON.stringify(PASSWORD)})
await fetch(await b.approve(process.argv.at(-1)))
`,
  { mode: 0o755 },
)
await viaMcpRemote('OAuth', '', { BROWSER: browserProgram, MCP_REMOTE_CONFIG_DIR: join(dir, 'mcp-auth') })

// Authorization server scenarios, with a client registered for the suite's callback.
const callbackPort = await freePort()
const base = `http://localhost:${port}`
const client = await app.store.clients.register(
  {
    clientId: 'conformance',
    clientName: 'MCP conformance suite',
    redirectUris: [`http://127.0.0.1:${callbackPort}/callback`],
    tokenEndpointAuthMethod: 'none',
    clientSecretHash: null,
    metadata: { grant_types: ['authorization_code'] },
    source: 'cli',
    fingerprint: null,
  },
  app.now(),
)
const browser = new Browser(base)
await browser.signIn('conformance@example.com', PASSWORD)
let approval: Promise<void> | undefined
const authCode = await conformance(
  '0.2.0-alpha.12',
  `conformance authorization --url ${base} --client-id ${client.clientId} --resource ${base}/mcp -p ${callbackPort}`,
  (line) => {
    if (approval || !line.startsWith(`${base}/authorize?`)) return
    approval = browser.approve(line.trim()).then(async (location) => {
      await fetch(location) // deliver the code to the suite's callback server
    })
  },
)
await approval
console.log(`authorization scenarios: ${authCode === 0 ? 'passed' : `FAILED (exit ${authCode})`}`)
if (authCode !== 0) failed++
proxy.close()
await app.close()
rmSync(dir, { recursive: true, force: true })
process.exit(failed ? 1 : 0)
