// The stdio bridge as a child process (real stdin/stdout) against keygate on a real port.

import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { promisify } from 'node:util'
import { Client as ClientV2 } from '@modelcontextprotocol/client'
import { StdioClientTransport as StdioClientTransportV2 } from '@modelcontextprotocol/client/stdio'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import t from 'tap'
import { createKey, createUser, tempDir } from '../helper.js'
import { listen } from '../support/http.js'

function bridge(url: string, key: string) {
  return new StdioClientTransport({
    command: process.execPath,
    args: ['bin/keygate.js', 'stdio', '--url', url],
    env: { PATH: process.env.PATH ?? '', KEYGATE_API_KEY: key },
    stderr: 'pipe',
  })
}

t.test('a stdio client reaches /mcp through the bridge with a pasted key', async (t) => {
  const { app, base } = await listen(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const client = new Client({ name: 'desktop', version: '1' })
  await client.connect(bridge(`${base}/mcp`, key.token))
  t.teardown(() => client.close())
  t.equal(client.getServerVersion()?.name, 'keygate')
  const { tools } = await client.listTools()
  t.ok(tools.some((x) => x.name === 'create_note'))
  const created = await client.callTool({ name: 'create_note', arguments: { body: { title: 'via stdio' } } })
  t.equal((created.structuredContent as any).title, 'via stdio')
  const listed = await client.callTool({ name: 'list_notes', arguments: {} })
  t.same(
    (listed.structuredContent as any).notes.map((n: any) => n.title),
    ['via stdio'],
  )

  await app.store.keys.revoke(key.key.id, app.now())
  await t.rejects(
    client.listTools(),
    { message: /refused the API key \(HTTP 401\)/ },
    'a revoked key is reported clearly',
  )
})

t.test('the bridge refuses to start without a key or a URL', async (t) => {
  const run = (args: string[], env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ['bin/keygate.js', 'stdio', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    )
  // No pasted key and no stored one (an empty credentials file of its own).
  const credentials = { KEYGATE_CREDENTIALS: `${tempDir(t)}/credentials.json` }
  t.same(await run(['--url', 'http://localhost:1/mcp'], credentials), {
    code: 1,
    stderr:
      'keygate: no key for http://localhost:1/mcp: run `keygate login --url http://localhost:1/mcp`, or set KEYGATE_API_KEY to a key from the dashboard\n',
  })
  // A wrong call: exit 2, with the usage line.
  t.same(await run([], { KEYGATE_API_KEY: 'kg_x' }), {
    code: 2,
    stderr: 'keygate: --url is required, like --url https://mcp.example.com/mcp\nusage: keygate stdio --url URL\n',
  })
  t.same(await run(['--url', 'ftp://x/mcp'], { KEYGATE_API_KEY: 'kg_x' }), {
    code: 2,
    stderr: 'keygate: --url must be http(s)\nusage: keygate stdio --url URL\n',
  })
})

/** A pass-through proxy in front of keygate that records each request's MCP method and protocol version. */
async function recordingProxy(t: Parameters<typeof listen>[0], target: string) {
  const seen: string[] = []
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString()
    let method = ''
    try {
      method = (JSON.parse(body) as { method?: string }).method ?? ''
    } catch {}
    seen.push(`${req.method} ${method} ${req.headers['mcp-protocol-version'] ?? '-'}`.replace(/ +/g, ' '))
    const answer = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers: Object.fromEntries(
        Object.entries(req.headers).filter(([name]) => name !== 'host' && name !== 'content-length') as [
          string,
          string,
        ][],
      ),
      ...(req.method === 'POST' ? { body } : {}),
    })
    res.writeHead(answer.status, Object.fromEntries(answer.headers))
    res.end(Buffer.from(await answer.arrayBuffer()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`, seen }
}

t.test('either era on stdio; the remote is spoken to in the newest era it offers', async (t) => {
  const { app, base } = await listen(t, { KEYGATE_ALLOWED_HOSTS: '127.0.0.1' })
  const { user, account } = await createUser(app, 'alice@example.com')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const proxy = await recordingProxy(t, base)

  // A 2026-07-28 client on stdio: server/discover, no initialize.
  const modern = new ClientV2(
    { name: 'desktop', version: '2' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  )
  await modern.connect(
    new StdioClientTransportV2({
      command: process.execPath,
      args: ['bin/keygate.js', 'stdio', '--url', proxy.url],
      env: { PATH: process.env.PATH ?? '', KEYGATE_API_KEY: key.token },
      stderr: 'pipe',
    }),
  )
  t.teardown(() => modern.close())
  t.equal(modern.getProtocolEra(), 'modern')
  const created = await modern.callTool({ name: 'create_note', arguments: { body: { title: 'modern stdio' } } })
  t.equal((created.structuredContent as { title: string }).title, 'modern stdio')

  // A 2025 client on stdio (initialize) through the same bridge program.
  const legacy = new Client({ name: 'desktop', version: '1' })
  await legacy.connect(bridge(proxy.url, key.token))
  t.teardown(() => legacy.close())
  const listed = await legacy.callTool({ name: 'list_notes', arguments: {} })
  t.same(
    (listed.structuredContent as { notes: Array<{ title: string }> }).notes.map((n) => n.title),
    ['modern stdio'],
  )
  // Whatever the local client spoke, the bridge spoke 2026-07-28 to the remote: no initialize.
  t.notOk(
    proxy.seen.some((r) => r.includes('initialize')),
    `no initialize reached the remote: ${proxy.seen.join('; ')}`,
  )
  t.ok(
    proxy.seen.filter((r) => r.startsWith('POST tools/')).every((r) => r.endsWith('2026-07-28')),
    'every tool request in the 2026-07-28 era',
  )
  t.ok(proxy.seen.includes('POST server/discover 2026-07-28'), 'the bridge probed with server/discover')
})

t.test('a stored key that expires during a session is refreshed, and the call goes through', async (t) => {
  const { TestClock, codeFor, exchangeCode } = await import('../helper.js')
  const { saveCredential, storedCredential } = await import('../../src/cli/login.js')
  const clock = new TestClock()
  const { app, base } = await listen(t, { KEYGATE_ACCESS_TTL: '600' }, tempDir(t), clock.now)
  const { code, verifier, client: registered } = await codeFor(app, { query: { resource: `${base}/mcp` } })
  const tokens = (await exchangeCode(app, code, verifier, registered.client_id)).json()
  t.ok(tokens.refresh_token, 'keys expire, so a refresh token came with the key')
  const url = new URL(`${base}/mcp`)
  const env = { PATH: process.env.PATH ?? '', KEYGATE_CREDENTIALS: `${tempDir(t)}/credentials.json` }
  // As `keygate login` stores it; by this machine's clock the key has an hour left.
  saveCredential(env, url, {
    issuer: base,
    clientId: registered.client_id,
    tokenEndpoint: `${base}/token`,
    revocationEndpoint: `${base}/revoke`,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  })
  const client = new Client({ name: 'desktop', version: '1' })
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['bin/keygate.js', 'stdio', '--url', url.href],
      env,
      stderr: 'pipe',
    }),
  )
  t.teardown(() => client.close())
  t.notOk((await client.callTool({ name: 'list_notes', arguments: {} })).isError, 'the stored key works')
  // By the server's clock the key has expired: the bridge refreshes it and calls again.
  clock.advance(601)
  const later = await client.callTool({ name: 'list_notes', arguments: {} })
  t.notOk(later.isError, 'the call after the expiry goes through')
  const saved = storedCredential(env, url)!
  t.not(saved.accessToken, tokens.access_token, 'a new key is stored')
  t.not(saved.refreshToken, tokens.refresh_token, 'with the rotated refresh token')
})
