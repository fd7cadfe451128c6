// /mcp's transport: one SDK Server per process, shared by every request. Ids clients reuse
// never cross, batches keep their order, a client that hangs up cancels its upstream call,
// and no client can cancel another's request.

import { request } from 'node:http'
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js'
import t from 'tap'
import { ExchangeTransport } from '../../src/mcp/transport.js'
import { createKey, createUser, tempDir } from '../helper.js'
import { listen } from '../support/http.js'
import { MCP_HEADERS, rpc } from '../support/mcp.js'
import { startUpstream } from '../support/upstream.js'

async function setup(t: any) {
  const dir = tempDir(t)
  const upstream = await startUpstream(t, dir)
  const gate = await listen(
    t,
    { KEYGATE_UPSTREAM: upstream.url, KEYGATE_OPENAPI: upstream.openapiFile, KEYGATE_UPSTREAM_TIMEOUT_MS: '5000' },
    dir,
  )
  const { user, account } = await createUser(gate.app, 'alice@example.com')
  const key = await createKey(gate.app, { userId: user.id, accountId: account.id })
  const post = async (body: string, headers: Record<string, string> = {}, k = key.token) => {
    const res = await fetch(`${gate.base}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${k}`, ...headers },
      body,
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : undefined }
  }
  return { ...gate, upstream, key, post, owner: { userId: user.id, accountId: account.id } }
}

/** Waits for what the check sees to happen, however long a loaded machine takes (the test's time-out bounds it). */
const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 10))
  return true
}

t.test('clients that reuse the same ids get their own answers, with their own ids', async (t) => {
  const { base, app } = await setup(t)
  const users = await Promise.all(['a', 'b', 'c'].map((n) => createUser(app, `${n}@example.com`)))
  const keys = await Promise.all(users.map((u) => createKey(app, { userId: u.user.id, accountId: u.account.id })))
  // A demo-API gate would hold notes; here the upstream echoes the query, so each caller's
  // limit argument tells the answers apart.
  const ids: Array<number | string> = [0, 1, '1', 'x', 0, 1]
  const calls = Array.from({ length: 60 }, (_, i) => {
    const id = ids[i % ids.length]!
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'list_items', arguments: { limit: i } },
    })
    return fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${keys[i % 3]!.token}` },
      body,
    })
      .then((r) => r.json())
      .then((answer) => ({ i, id, answer }))
  })
  for (const { i, id, answer } of await Promise.all(calls)) {
    t.equal(answer.id, id, `call ${i}: the client's id comes back`)
    t.same(answer.result.structuredContent.query, { limit: String(i) }, `call ${i}: its own answer`)
  }
})

t.test('batches: answers in order with the client ids; bad batches are refused whole', async (t) => {
  const { post, upstream } = await setup(t)
  const batch = [
    { jsonrpc: '2.0', id: 'first', method: 'ping' },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_items', arguments: { limit: 2 } } },
  ]
  const ok = await post(JSON.stringify(batch))
  t.equal(ok.status, 200)
  t.same(
    ok.body.map((a: any) => a.id),
    ['first', 2, 3],
    'one answer per request, in order',
  )
  t.same(ok.body[0].result, {})
  t.ok(ok.body[1].result.tools.length > 0)
  t.same(ok.body[2].result.structuredContent.query, { limit: '2' })

  const refused: Array<[string, unknown, number, number]> = [
    ['empty batch', [], 400, -32600],
    ['101 messages', Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })), 400, -32600],
    [
      'initialize with company',
      [
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: LATEST_PROTOCOL_VERSION,
            capabilities: {},
            clientInfo: { name: 'x', version: '1' },
          },
        },
        { jsonrpc: '2.0', id: 2, method: 'ping' },
      ],
      400,
      -32600,
    ],
    ['one bad member', [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { hello: 'world' }], 400, -32700],
  ]
  const before = upstream.seen.length
  for (const [name, body, status, code] of refused) {
    const res = await post(JSON.stringify(body))
    t.equal(res.status, status, name)
    t.equal(res.body.error.code, code, `${name}: code`)
    t.equal(res.body.id, null, `${name}: id null`)
  }
  t.equal(upstream.seen.length, before, 'nothing reached the upstream')

  const notifications = await post(
    JSON.stringify([
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 9, result: {} },
    ]),
  )
  t.equal(notifications.status, 202, 'only notifications and responses: 202, no body')
  t.equal(notifications.body, undefined)
})

t.test('a read-only key: a batch holding a write call is refused whole with 403', async (t) => {
  const { post, app, owner, upstream } = await setup(t)
  const reader = await createKey(app, owner, { scopes: ['read'] })
  const before = upstream.seen.length
  const res = await post(
    JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_items', arguments: {} } },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'create_item', arguments: { body: { name: 'n' } } },
      },
    ]),
    {},
    reader.token,
  )
  t.equal(res.status, 403)
  t.equal(res.body.error, 'insufficient_scope')
  t.equal(upstream.seen.length, before, 'not even the read call was made')
})

t.test('protocol versions: negotiated by the SDK server; an unsupported header is refused', async (t) => {
  const { post } = await setup(t)
  const init = (version: string) =>
    rpc('initialize', { protocolVersion: version, capabilities: {}, clientInfo: { name: 'test', version: '1' } })
  const known = await post(init('2025-03-26'))
  t.equal(known.body.result.protocolVersion, '2025-03-26', 'a supported version is kept')
  t.equal(known.body.result.serverInfo.name, 'keygate')
  t.same(known.body.result.capabilities.tools, { listChanged: false })
  const unknown = await post(init('1999-01-01'))
  t.equal(unknown.body.result.protocolVersion, LATEST_PROTOCOL_VERSION, 'an unknown one gets the latest')
  const header = await post(rpc('ping', {}, 'ping-7'), { 'mcp-protocol-version': '1999-01-01' })
  t.equal(header.status, 400)
  t.equal(header.body.error.code, -32000)
  t.equal(header.body.id, 'ping-7', 'the refused request keeps its id')
  t.match(header.body.error.message, /Unsupported protocol version: 1999-01-01/)
  t.equal(
    (await post(init('2025-06-18'), { 'mcp-protocol-version': '1999-01-01' })).status,
    200,
    'initialize is judged by its params, not the header',
  )
  t.equal((await post(rpc('ping'), { 'mcp-protocol-version': '2025-03-26' })).status, 200)
})

t.test('a client that hangs up cancels its upstream call; keygate carries on', async (t) => {
  const { base, key, upstream, post } = await setup(t)
  const url = new URL(`${base}/mcp`)
  const body = rpc('tools/call', { name: 'fault', arguments: { kind: 'pause' } })
  const req = request({
    host: '127.0.0.1',
    port: url.port,
    path: '/mcp',
    method: 'POST',
    headers: {
      ...MCP_HEADERS,
      host: url.host,
      authorization: `Bearer ${key.token}`,
      'content-length': Buffer.byteLength(body),
    },
  })
  req.on('error', () => {})
  req.end(body)
  t.ok(await until(() => upstream.paused.length === 1), 'the upstream received the call')
  req.destroy()
  t.ok(await until(() => upstream.paused[0]!.hungUp), 'keygate hung up on the upstream before its answer')
  const next = await post(rpc('tools/call', { name: 'fault', arguments: { kind: 'pause' } }))
  t.same(next.body.result.structuredContent, { paused: true }, 'the next call completes')
  t.equal(upstream.paused[1]!.hungUp, false)
})

t.test("no client can cancel another's request", async (t) => {
  const { post, app, upstream } = await setup(t)
  const other = await createUser(app, 'mallory@example.com')
  const mallory = await createKey(app, { userId: other.user.id, accountId: other.account.id })
  const victim = post(rpc('tools/call', { name: 'fault', arguments: { kind: 'pause' } }))
  t.ok(await until(() => upstream.paused.length === 1))
  // Whatever id the victim's request has inside keygate, a cancellation for it is dropped.
  for (let id = 0; id < 50; id++) {
    const res = await post(
      rpc('notifications/cancelled', { requestId: id, reason: 'mine now' }, null),
      {},
      mallory.token,
    )
    t.equal(res.status, 202)
  }
  const answer = await victim
  t.equal(answer.status, 200)
  t.same(answer.body.result.structuredContent, { paused: true }, 'the victim gets its answer')
  t.equal(upstream.paused[0]!.hungUp, false)
})

t.test('the transport on its own: a request the server never answers ends at the deadline', async (t) => {
  const transport = new ExchangeTransport()
  const delivered: any[] = []
  transport.onmessage = (m) => void delivered.push(m)
  const { answers } = transport.exchange([{ jsonrpc: '2.0', id: 'mine', method: 'ping' }], {}, 50)
  t.equal(transport.inFlight, 1)
  await transport.send({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } })
  await transport.send({ jsonrpc: '2.0', id: 999_999, result: {} })
  t.equal(transport.inFlight, 1, 'notifications and unknown ids are dropped')
  const [answer] = (await answers) as any[]
  t.equal(answer.id, 'mine', "the client's id")
  t.equal(answer.error.code, -32603)
  t.match(answer.error.message, /took too long/)
  t.not(delivered[0].id, 'mine', 'the server saw an internal id')
  t.same(
    delivered[1],
    {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: delivered[0].id, reason: answer.error.message },
    },
    'and was told to cancel it',
  )
  t.equal(transport.inFlight, 0)
  // A newer request is in flight when the late answer to the old one arrives.
  const next = transport.exchange([{ jsonrpc: '2.0', id: 'next', method: 'ping' }], {}, 5_000)
  t.not(delivered[2].id, delivered[0].id, 'the newer request has an internal id of its own')
  await transport.send({ jsonrpc: '2.0', id: delivered[0].id, result: { late: true } })
  t.equal(transport.inFlight, 1, 'a late answer settles nothing, not even a newer request')
  await transport.send({ jsonrpc: '2.0', id: delivered[2].id, result: { fresh: true } })
  t.same(
    await next.answers,
    [{ jsonrpc: '2.0', id: 'next', result: { fresh: true } }],
    'the newer request gets its own answer',
  )
})

t.test('errors about a known request answer with its id; an unknown tool is a JSON-RPC error', async (t) => {
  const { post, upstream } = await setup(t)
  const before = upstream.seen.length
  const unknown = await post(rpc('tools/call', { name: 'no_such_tool', arguments: {} }, 42))
  t.equal(unknown.status, 200)
  t.same(unknown.body, {
    jsonrpc: '2.0',
    id: 42,
    error: { code: -32602, message: 'Unknown tool: no_such_tool' },
  })
  const notAcceptable = await post(rpc('ping', {}, 5), { accept: 'application/json' })
  t.equal(notAcceptable.status, 406)
  t.equal(notAcceptable.body.id, 5, '406 keeps the id')
  const wrongType = await post(rpc('ping', {}, 6), { 'content-type': 'text/plain' })
  t.equal(wrongType.status, 415)
  t.equal(wrongType.body.id, 6, '415 keeps the id')
  t.equal(upstream.seen.length, before, 'nothing reached the upstream')
})

t.test('params that do not fit their method: -32602 naming the field, in one line', async (t) => {
  const { post, upstream } = await setup(t)
  const before = upstream.seen.length
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['initialize', {}, 'Invalid params: params.protocolVersion: Invalid input: expected string, received undefined'],
    ['tools/call', {}, 'Invalid params: params.name: Invalid input: expected string, received undefined'],
    [
      'tools/call',
      { name: 'list_items', arguments: 'x' },
      'Invalid params: params.arguments: Invalid input: expected record, received string',
    ],
    ['tools/list', { cursor: 7 }, 'Invalid params: params.cursor: Invalid input: expected string, received number'],
  ]
  for (const [method, params, message] of cases) {
    const res = await post(rpc(method, params, 9))
    t.equal(res.status, 200, method)
    t.same(res.body, { jsonrpc: '2.0', id: 9, error: { code: -32602, message } }, `${method} ${JSON.stringify(params)}`)
  }
  // In a batch, each request is answered for itself.
  const batch = await post(JSON.stringify([JSON.parse(rpc('tools/call', {}, 1)), JSON.parse(rpc('ping', {}, 2))]))
  t.same(
    batch.body.map((a: { id: number; error?: { code: number } }) => [a.id, a.error?.code ?? 'ok']),
    [
      [1, -32602],
      [2, 'ok'],
    ],
  )
  t.equal(upstream.seen.length, before, 'nothing reached the upstream')
})
