// /mcp against a real upstream on a local port: scopes, forwarding, faults.
import t from 'tap'
import { createKey, createUser, tempDir } from '../helper.js'
import { listen } from '../support/http.js'
import { callTool, MCP_HEADERS, rpc } from '../support/mcp.js'
import { startUpstream } from '../support/upstream.js'

async function setup(t: any, env: Record<string, string> = {}) {
  const dir = tempDir(t)
  const upstream = await startUpstream(t, dir)
  const gate = await listen(
    t,
    {
      KEYGATE_UPSTREAM: upstream.url,
      KEYGATE_OPENAPI: upstream.openapiFile,
      KEYGATE_UPSTREAM_TIMEOUT_MS: '500',
      KEYGATE_UPSTREAM_MAX_BYTES: '100000',
      ...env,
    },
    dir,
  )
  const { user, account } = await createUser(gate.app, 'alice@example.com')
  const owner = { userId: user.id, accountId: account.id }
  return { ...gate, upstream, owner }
}

t.test('tools come from the OpenAPI document', async (t) => {
  const { base, owner, app } = await setup(t)
  const key = await createKey(app, owner)
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, authorization: `Bearer ${key.token}` },
    body: rpc('tools/list'),
  })
  const { tools } = (await res.json()).result
  t.same(
    tools.map((x: any) => x.name),
    ['list_items', 'create_item', 'delete_item', 'fault'],
    'x-mcp: false operations are left out',
  )
  const list = tools[0]
  t.equal(list.description, 'List items\n\nRequires scope: read.')
  t.same(list.inputSchema, {
    type: 'object',
    properties: { limit: { type: 'integer' }, 'X-Trace': { type: 'string' } },
  })
  t.same(list.annotations, { title: 'List items', readOnlyHint: true })
  t.same(tools[2].annotations, {
    title: 'Delete an item',
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
  })
  t.same(tools[2].inputSchema.required, ['id'])
  t.equal(tools[1].description, 'Create an item\n\nRequires scope: write.')
  for (const tool of tools) t.match(tool.name, /^[A-Za-z0-9_.-]{1,128}$/)
})

t.test('forwarding: path, query, header and body arguments; only the key as credential', async (t) => {
  const { base, owner, app, upstream } = await setup(t)
  const key = await createKey(app, owner)
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: {
      ...MCP_HEADERS,
      authorization: `Bearer ${key.token}`,
      cookie: 'session=secret',
      'x-forwarded-for': '1.2.3.4',
    },
    body: rpc('tools/call', { name: 'list_items', arguments: { limit: 5, 'X-Trace': 'abc' } }),
  })
  const result = (await res.json()).result
  t.same(result.structuredContent, { items: [{ id: 'a' }], query: { limit: '5' } })
  t.equal(result.content[0].type, 'text')
  t.same(JSON.parse(result.content[0].text), result.structuredContent)
  const seen = upstream.seen.at(-1)!
  t.equal(seen.url, '/v1/items?limit=5')
  t.equal(seen.headers.authorization, `Bearer ${key.token}`, 'the same key goes upstream')
  t.equal(seen.headers['x-trace'], 'abc')
  t.equal(seen.headers.cookie, undefined, 'client cookies are not forwarded')
  t.equal(seen.headers['x-forwarded-for'], undefined)
  t.equal(seen.headers['mcp-protocol-version'], undefined)

  const created = await callTool(base, key.token, 'create_item', { body: { name: 'n' } })
  t.same(created.body.result.structuredContent, { created: { name: 'n' } })
  const del = await callTool(base, key.token, 'delete_item', { id: 'a/../b' })
  t.equal(upstream.seen.at(-1)!.url, '/v1/items/a%2F..%2Fb', 'path arguments are encoded')
  t.same(del.body.result.content, [{ type: 'text', text: 'HTTP 204 (no content)' }])
  for (const [id, sent] of [
    ['..%2F', '..%252F'],
    ['a/b', 'a%2Fb'],
    ['...', '...'],
  ]) {
    await callTool(base, key.token, 'delete_item', { id })
    t.equal(upstream.seen.at(-1)!.url, `/v1/items/${sent}`, `the path argument ${id} stays one segment`)
  }
  const before = upstream.seen.length
  for (const id of ['.', '..']) {
    const res = await callTool(base, key.token, 'delete_item', { id })
    t.equal(res.body.result.isError, true, `the path argument ${id} is refused`)
    t.same(res.body.result.content, [
      { type: 'text', text: 'Invalid arguments for delete_item: the path argument id must not be "." or ".."' },
    ])
  }
  const empty = await callTool(base, key.token, 'delete_item', { id: '' })
  t.equal(empty.body.result.isError, true, 'an empty path argument is refused')
  t.same(empty.body.result.content, [
    { type: 'text', text: 'Invalid arguments for delete_item: the path argument id must not be empty' },
  ])
  t.equal(upstream.seen.length, before, 'nothing went upstream for ., .. and the empty string')
})

t.test('arguments that do not fit the inputSchema: an isError result, and upstream sees nothing', async (t) => {
  const { base, owner, app, upstream } = await setup(t)
  const key = await createKey(app, owner)
  const before = upstream.seen.length
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['delete_item', {}, "must have required property 'id'"],
    ['delete_item', { id: 7 }, 'data/id must be string'],
    ['list_items', { limit: 'five' }, 'data/limit must be integer'],
    ['list_items', { limit: 2.5 }, 'data/limit must be integer'],
    ['create_item', {}, "must have required property 'body'"],
    ['create_item', { body: { name: ['n'] } }, 'data/body/name must be string'],
    ['create_item', { body: 'text' }, 'data/body must be object'],
  ]
  for (const [name, args, expected] of cases) {
    const res = await callTool(base, key.token, name, args)
    t.equal(res.status, 200, `${name} ${JSON.stringify(args)}`)
    t.equal(res.body.result.isError, true)
    t.match(res.body.result.content[0].text, `Invalid arguments for ${name}: `)
    t.match(res.body.result.content[0].text, expected)
  }
  t.equal(upstream.seen.length, before, 'no upstream request was made')
  const fine = await callTool(base, key.token, 'list_items', { limit: 3, unknown: 'ignored' })
  t.equal(fine.body.result.isError, undefined, 'arguments that fit still go through')
  t.equal(upstream.seen.at(-1)!.url, '/v1/items?limit=3', 'arguments the tool does not declare are not forwarded')
})

t.test('a read-only key calling a write tool gets 403 insufficient_scope, and upstream sees nothing', async (t) => {
  const { base, owner, app, upstream } = await setup(t)
  const key = await createKey(app, owner, { scopes: ['read'] })
  const before = upstream.seen.length
  const res = await callTool(base, key.token, 'create_item', { body: { name: 'x' } })
  t.equal(res.status, 403)
  t.equal(
    res.headers.get('www-authenticate'),
    `Bearer error="insufficient_scope", error_description="this tool needs the write scope", scope="read write", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
  )
  t.same(res.body, { error: 'insufficient_scope', error_description: 'this tool needs the write scope' })
  const batch = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, authorization: `Bearer ${key.token}` },
    body: JSON.stringify([
      JSON.parse(rpc('tools/list')),
      JSON.parse(rpc('tools/call', { name: 'delete_item', arguments: { id: '1' } }, 2)),
    ]),
  })
  t.equal(batch.status, 403, 'a batch hiding a write call is refused too')
  t.equal(upstream.seen.length, before, 'no upstream request was made')
  const read = await callTool(base, key.token, 'list_items')
  t.equal(read.status, 200, 'read tools still work')
  t.equal(upstream.seen.length, before + 1)
})

t.test('upstream faults become isError results and keygate stays up', async (t) => {
  const { base, owner, app } = await setup(t)
  const key = await createKey(app, owner)
  const expect = async (kind: string, pattern: RegExp) => {
    const res = await callTool(base, key.token, 'fault', { kind })
    t.equal(res.status, 200, kind)
    t.equal(res.body.result.isError, true, `${kind}: isError`)
    t.match(res.body.result.content[0].text, pattern, kind)
    return res.body.result.content[0].text as string
  }
  const e500 = await expect('500', /^The upstream API answered HTTP 500\.\n\n\{"error":"boom"/)
  t.ok(e500.length < 2100, 'the error body excerpt is bounded')
  await expect('404', /^The upstream API answered HTTP 404\.\n\n\{"error":"nope"\}$/)
  await expect('slow', /^The upstream API did not answer within 500 ms\.$/)
  await expect('huge', /^The upstream response is larger than the 100000-byte limit\.$/)
  await expect('hugechunked', /^The upstream response is larger than the 100000-byte limit\.$/)
  const started = performance.now()
  await expect('drip', /^The upstream API did not answer within 500 ms\.$/)
  t.ok(performance.now() - started < 2000, 'a body that trickles in is cut off at the time-out, not at its end')
  const sized = performance.now()
  await expect('driplength', /^The upstream API did not answer within 500 ms\.$/)
  t.ok(performance.now() - sized < 2000, 'so is one whose length was declared')
  await expect('badjson', /^The upstream API sent invalid JSON\.$/)
  const text = await callTool(base, key.token, 'fault', { kind: 'text' })
  t.same(text.body.result, { content: [{ type: 'text', text: 'plain words' }] })
  const array = await callTool(base, key.token, 'fault', { kind: 'array' })
  t.same(array.body.result.structuredContent, { result: [1, 2, 3] }, 'non-object JSON is wrapped')
  const after = await callTool(base, key.token, 'list_items')
  t.equal(after.status, 200, 'still up after every fault')
})

t.test('a refused connection becomes an isError result', async (t) => {
  const { freePort } = await import('../support/http.js')
  const dir = tempDir(t)
  const { openapiFile } = await startUpstream(t, dir)
  const gate = await listen(
    t,
    { KEYGATE_UPSTREAM: `http://127.0.0.1:${await freePort()}/v1`, KEYGATE_OPENAPI: openapiFile },
    dir,
  )
  const { user, account } = await createUser(gate.app, 'alice@example.com')
  const key = await createKey(gate.app, { userId: user.id, accountId: account.id })
  const res = await callTool(gate.base, key.token, 'list_items')
  t.same(res.body.result, {
    content: [{ type: 'text', text: 'The upstream API refused the connection (is it running?).' }],
    isError: true,
  })
})

t.test("concurrent calls with different keys never see each other's data", async (t) => {
  const { base, app } = await listen(t)
  const a = await createUser(app, 'a@example.com')
  const b = await createUser(app, 'b@example.com')
  const ka = await createKey(app, { userId: a.user.id, accountId: a.account.id })
  const kb = await createKey(app, { userId: b.user.id, accountId: b.account.id })
  await callTool(base, ka.token, 'create_note', { body: { title: 'only-a' } })
  await callTool(base, kb.token, 'create_note', { body: { title: 'only-b' } })
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      callTool(base, i % 2 ? ka.token : kb.token, 'list_notes').then((r) => [i % 2 ? 'a' : 'b', r] as const),
    ),
  )
  for (const [who, r] of results) {
    const titles = r.body.result.structuredContent.notes.map((n: any) => n.title)
    t.same(titles, [`only-${who}`])
  }
})

t.test('an OpenAPI document that cannot be loaded: a clean 503, and a retry on the next request', async (t) => {
  const { writeFileSync, rmSync } = await import('node:fs')
  const { join } = await import('node:path')
  const dir = tempDir(t)
  const upstream = await startUpstream(t, dir)
  const missing = join(dir, 'later.json')
  const gate = await listen(t, { KEYGATE_UPSTREAM: upstream.url, KEYGATE_OPENAPI: missing }, dir)
  const { user, account } = await createUser(gate.app, 'alice@example.com')
  const key = await createKey(gate.app, { userId: user.id, accountId: account.id })
  const first = await callTool(gate.base, key.token, 'list_items')
  t.equal(first.status, 503)
  t.same(first.body, {
    jsonrpc: '2.0',
    error: { code: -32603, message: "The upstream API's OpenAPI document could not be loaded; try again later." },
    id: 1,
  })
  writeFileSync(missing, JSON.stringify((await import('../support/upstream.js')).UPSTREAM_OPENAPI))
  t.equal((await callTool(gate.base, key.token, 'list_items')).status, 200, 'loaded on the next request')
  rmSync(missing)
  t.equal((await callTool(gate.base, key.token, 'list_items')).status, 200, 'and kept once loaded')
})
