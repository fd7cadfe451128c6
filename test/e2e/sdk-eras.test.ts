// Both protocol eras on one /mcp, with the official SDK v2 client and a key from the
// dashboard: the 2025 handshake (its default), `auto` (a server/discover probe that finds
// the 2026-07-28 era) and a pin to 2026-07-28. Every HTTP request the client makes is
// counted: a pinned client reaches its first tool result in two.
import { Client, type FetchLike, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import t from 'tap'
import { createKey, createUser } from '../helper.js'
import { listen } from '../support/http.js'

type Mode = 'legacy' | 'auto' | { pin: '2026-07-28' }

/** A client of `mode` with the key as Bearer token; `sent` lists each request's method and MCP method. */
function clientFor(base: string, token: string, mode: Mode) {
  const sent: string[] = []
  const counting: FetchLike = async (url, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { method?: string }) : undefined
    sent.push(`${init?.method ?? 'GET'} ${body?.method ?? ''}`.trim())
    return fetch(url, init)
  }
  const client = new Client({ name: 'eras', version: '1.0.0' }, { versionNegotiation: { mode } })
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    fetch: counting,
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  })
  return { client, transport, sent }
}

async function setUp(t: Parameters<typeof listen>[0]) {
  const { app, base } = await listen(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const all = await createKey(app, { userId: user.id, accountId: account.id }, { scopes: ['read', 'write'] })
  const readOnly = await createKey(app, { userId: user.id, accountId: account.id }, { scopes: ['read'] })
  return { app, base, all, readOnly }
}

t.test('a pinned 2026-07-28 client: server/discover, then its first tool result, in two requests', async (t) => {
  const { base, all } = await setUp(t)
  const { client, transport, sent } = clientFor(base, all.token, { pin: '2026-07-28' })
  await client.connect(transport)
  t.teardown(() => client.close())
  t.equal(client.getProtocolEra(), 'modern')
  t.same(client.getServerVersion(), {
    name: 'keygate',
    title: 'keygate',
    version: client.getServerVersion()!.version,
  })
  const listed = await client.callTool({ name: 'list_notes', arguments: {} })
  t.notOk(listed.isError, 'the tool reached the demo API')
  t.same(sent, ['POST server/discover', 'POST tools/call'], 'two requests to the first tool result')
  const created = await client.callTool({ name: 'create_note', arguments: { body: { title: 'modern', body: 'x' } } })
  t.equal((created.structuredContent as { title: string }).title, 'modern')
  const { tools } = await client.listTools()
  t.same(tools.map((x) => x.name).sort(), ['create_note', 'delete_note', 'get_note', 'list_notes'])
})

t.test('auto finds the 2026-07-28 era at once; the default handshake still gets the 2025 era', async (t) => {
  const { base, all } = await setUp(t)
  const auto = clientFor(base, all.token, 'auto')
  await auto.client.connect(auto.transport)
  t.teardown(() => auto.client.close())
  t.equal(auto.client.getProtocolEra(), 'modern', 'no fallback: the probe succeeds')
  await auto.client.callTool({ name: 'list_notes', arguments: {} })
  t.same(auto.sent, ['POST server/discover', 'POST tools/call'])

  const legacy = clientFor(base, all.token, 'legacy')
  await legacy.client.connect(legacy.transport)
  t.teardown(() => legacy.client.close())
  t.equal(legacy.client.getProtocolEra(), 'legacy')
  const listed = await legacy.client.callTool({ name: 'list_notes', arguments: {} })
  t.notOk(listed.isError)
  t.equal(legacy.sent[0], 'POST initialize', 'the 2025 handshake')
})

t.test('in both eras a key lists only the tools its scopes allow, and a call to another is 403', async (t) => {
  const { base, readOnly } = await setUp(t)
  for (const mode of ['legacy', { pin: '2026-07-28' }] as Mode[]) {
    const { client, transport } = clientFor(base, readOnly.token, mode)
    await client.connect(transport)
    const { tools } = await client.listTools()
    t.same(tools.map((x) => x.name).sort(), ['get_note', 'list_notes'], `${JSON.stringify(mode)}: read tools only`)
    await t.rejects(
      client.callTool({ name: 'create_note', arguments: { body: { title: 'x', body: 'y' } } }),
      /Insufficient scope|403/,
      `${JSON.stringify(mode)}: a write tool is refused`,
    )
    await client.close()
  }
})
