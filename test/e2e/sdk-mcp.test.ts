// End to end with the official MCP SDK client: from a bare 401 through discovery,
// registration, consent and token, to tools/list and a tools/call that reaches the demo
// API; then revocation (store, CLI) and the fresh OAuth flow a client starts after it.

import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { main } from '../../src/cli/index.js'
import { hashToken } from '../../src/keys/format.js'
import { createUser, testEnv } from '../helper.js'
import { Browser, listen } from '../support/http.js'
import { callTool } from '../support/mcp.js'
import { TestOAuthProvider } from '../support/oauth-provider.js'

async function connect(base: string, provider: TestOAuthProvider): Promise<Client> {
  const client = new Client({ name: 'e2e', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })
  try {
    await client.connect(transport)
    return client
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err
  }
  await transport.finishAuth(await provider.code(base))
  const again = new Client({ name: 'e2e', version: '1.0.0' })
  await again.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }))
  return again
}

/** alice signs in; an SDK client connects, going through OAuth with her consent. */
async function signedInClient(app: FastifyInstance, base: string) {
  await createUser(app, 'alice@example.com')
  const browser = new Browser(base)
  await browser.signIn('alice@example.com')
  const provider = new TestOAuthProvider(browser)
  return { browser, provider, client: await connect(base, provider) }
}

t.test('SDK client: 401 → OAuth → tools/list → tools/call reaching the demo API', async (t) => {
  const { app, base } = await listen(t)
  const { provider, client } = await signedInClient(app, base)
  t.teardown(() => client.close())
  t.equal(provider.redirects.length, 1, 'one trip through the consent page')

  const { tools } = await client.listTools()
  t.same(tools.map((x) => x.name).sort(), ['create_note', 'delete_note', 'get_note', 'list_notes'])
  for (const tool of tools) {
    t.ok(tool.description && tool.description.length > 0, `${tool.name} has a description`)
    t.equal(tool.inputSchema.type, 'object')
  }
  const created = await client.callTool({
    name: 'create_note',
    arguments: { body: { title: 'From MCP', body: 'hello' } },
  })
  t.notOk(created.isError)
  const note = created.structuredContent as { id: number; title: string }
  t.equal(note.title, 'From MCP')
  const listed = await client.callTool({ name: 'list_notes', arguments: {} })
  t.same(
    (listed.structuredContent as any).notes.map((n: any) => n.title),
    ['From MCP'],
  )
  const fetched = await client.callTool({ name: 'get_note', arguments: { id: note.id } })
  t.equal((fetched.structuredContent as any).body, 'hello')
  const gone = await client.callTool({ name: 'get_note', arguments: { id: 999 } })
  t.equal(gone.isError, true)
  t.match((gone.content as any)[0].text, /HTTP 404/)
  t.same(await client.ping(), {})

  // The note lives in the account the user approved.
  const key = await app.store.keys.byHash(hashToken(provider.tokens()!.access_token))
  t.same(
    (await app.store.notes.list(key!.accountId!)).map((n) => n.title),
    ['From MCP'],
  )
})

t.test('revocation: store and CLI; the next call is 401 and the client starts a fresh OAuth flow', async (t) => {
  const { app, base, dir } = await listen(t)
  const { browser, provider, client } = await signedInClient(app, base)
  const token = provider.tokens()!.access_token
  t.equal((await callTool(base, token, 'list_notes')).status, 200)

  const key = await app.store.keys.byHash(hashToken(token))
  await app.store.keys.revoke(key!.id, app.now())
  const after = await callTool(base, token, 'list_notes')
  t.equal(after.status, 401, 'the very next call after revocation is 401')
  t.match(
    after.headers.get('www-authenticate'),
    /error="invalid_token", error_description="the access token has been revoked"/,
  )
  await t.rejects(
    client.callTool({ name: 'list_notes', arguments: {} }),
    { message: 'Unauthorized' },
    'the SDK client sees the 401 and asks for authorization',
  )
  t.equal(provider.redirects.length, 2, 'it started a fresh authorization')
  t.ok((await provider.pending)!.searchParams.get('code'), 'and the consent gives it a new code')
  await client.close()

  // The fresh flow yields a new key; revoke that one through the CLI.
  const freshProvider = new TestOAuthProvider(browser)
  const fresh = await connect(base, freshProvider)
  t.teardown(() => fresh.close())
  const listed = await fresh.callTool({ name: 'list_notes', arguments: {} })
  t.notOk(listed.isError)
  const keys = await app.store.keys.list({})
  const live = keys.find((k) => k.revokedAt === null)!
  const out: string[] = []
  const code = await main(['key', 'revoke', String(live.id)], {
    out: (l) => out.push(l),
    err: (l) => out.push(l),
    env: testEnv(dir),
  })
  t.equal(code, 0)
  await t.rejects(
    fresh.callTool({ name: 'list_notes', arguments: {} }),
    { message: 'Unauthorized' },
    'CLI revocation takes effect on the next call',
  )
  await freshProvider.pending
})

t.test('a manual key from the CLI works on /mcp with no OAuth', async (t) => {
  const { app, base, dir } = await listen(t)
  await createUser(app, 'alice@example.com')
  const out: string[] = []
  const env = testEnv(dir)
  t.equal(
    await main(['key', 'create', '--email', 'alice@example.com', '--account', '1', '--name', 'desktop'], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
      env,
    }),
    0,
  )
  const raw = out.at(-1)!
  const client = new Client({ name: 'manual', version: '1' })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${raw}` } },
    }),
  )
  t.teardown(() => client.close())
  const created = await client.callTool({ name: 'create_note', arguments: { body: { title: 'manual' } } })
  t.equal((created.structuredContent as any).title, 'manual')
})

t.test('revocation under concurrent load: nothing is accepted after the revocation commits', async (t) => {
  const { app, base } = await listen(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const { createKey } = await import('../helper.js')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  let revokedAt = Infinity
  const results: Array<{ sentAt: number; status: number }> = []
  // A safety net only: each worker ends by itself after a few 401s.
  const deadline = performance.now() + 60_000
  const worker = async () => {
    // Each worker stops by itself: after the first 401 it sends a few more, then ends.
    let after = 0
    while (performance.now() < deadline && after < 5) {
      const sentAt = performance.now()
      const { status } = await callTool(base, key.token, 'list_notes')
      results.push({ sentAt, status })
      if (status === 401) after++
    }
  }
  const workers = Array.from({ length: 8 }, worker)
  // Revoked once calls have gone through (however long that takes on a loaded machine).
  while (!results.some((r) => r.status === 200)) await new Promise((r) => setTimeout(r, 10))
  await app.store.keys.revoke(key.key.id, app.now())
  revokedAt = performance.now()
  await Promise.all(workers)
  const before = results.filter((r) => r.sentAt < revokedAt)
  const afterRevoke = results.filter((r) => r.sentAt >= revokedAt)
  t.ok(
    before.some((r) => r.status === 200),
    `calls succeeded before the revocation (${before.length})`,
  )
  t.ok(afterRevoke.length >= 8, `calls were sent after it (${afterRevoke.length})`)
  t.same(
    afterRevoke.filter((r) => r.status !== 401),
    [],
    'every call sent after the revocation got 401',
  )
})

t.test('SSE responses (KEYGATE_MCP_RESPONSE=sse) work with the SDK client', async (t) => {
  const { app, base } = await listen(t, { KEYGATE_MCP_RESPONSE: 'sse' })
  const { user, account } = await createUser(app, 'alice@example.com')
  const { createKey } = await import('../helper.js')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const raw = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${key.token}`,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    }),
  })
  t.match(raw.headers.get('content-type'), /^text\/event-stream/)
  t.match(await raw.text(), /event: message\ndata: \{"result":\{"protocolVersion":"2025-06-18"/)
  const client = new Client({ name: 'sse', version: '1' })
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${key.token}` } },
    }),
  )
  t.teardown(() => client.close())
  const created = await client.callTool({ name: 'create_note', arguments: { body: { title: 'sse' } } })
  t.equal((created.structuredContent as any).title, 'sse')
})

t.test('expiring keys: the SDK client refreshes on its own after expiry and carries on', async (t) => {
  const { TestClock, tempDir } = await import('../helper.js')
  const clock = new TestClock()
  const { app, base } = await listen(t, { KEYGATE_ACCESS_TTL: '60' }, tempDir(t), clock.now)
  const { provider, client } = await signedInClient(app, base)
  t.teardown(() => client.close())
  const first = provider.tokens()!
  t.equal(first.expires_in, 60)
  t.ok(first.refresh_token)
  t.notOk((await client.callTool({ name: 'create_note', arguments: { body: { title: 'before expiry' } } })).isError)
  clock.advance(61)
  t.equal((await callTool(base, first.access_token, 'list_notes')).status, 401, 'the first key has expired')
  const listed = await client.callTool({ name: 'list_notes', arguments: {} })
  t.same(
    (listed.structuredContent as any).notes.map((n: any) => n.title),
    ['before expiry'],
    'the call succeeded after a refresh',
  )
  t.not(provider.tokens()!.access_token, first.access_token, 'a new key')
  t.not(provider.tokens()!.refresh_token, first.refresh_token, 'a rotated refresh token')
  t.equal(provider.redirects.length, 1, 'no new trip through the consent page')
})
