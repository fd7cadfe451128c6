// keygate's /mcp against the SDK v2 serving the same tools the way its documentation shows
// (the 2025 era through its stateless transport, the 2026-07-28 era through
// createMcpHandler): the same where keygate means to be the same, and each intended
// difference listed here, with both sides' answers.
import {
  createMcpHandler,
  Server,
  type Tool,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server'
import t from 'tap'
import { VERSION } from '../../src/shared/version.js'
import { build, createKey, createUser } from '../helper.js'
import { INJECT_HEADERS } from '../support/mcp.js'

const V = '2026-07-28'
const envelope = { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {} }
const modernHeaders = (method: string, name?: string) => ({
  'mcp-protocol-version': V,
  'mcp-method': method,
  ...(name ? { 'mcp-name': name } : {}),
})

/** The SDK's server with keygate's tools, every one listed and every call answered. */
function reference(tools: Tool[]) {
  const server = () => {
    const s = new Server(
      { name: 'keygate', title: 'keygate', version: VERSION },
      { capabilities: { tools: { listChanged: false } } },
    )
    s.setRequestHandler('tools/list', async () => ({ tools }))
    s.setRequestHandler('tools/call', async () => ({ content: [{ type: 'text', text: 'called' }] }))
    return s
  }
  const modern = createMcpHandler(server, { legacy: 'reject' })
  return async (body: unknown, headers: Record<string, string> = {}) => {
    const request = new Request('http://localhost:3000/mcp', {
      method: 'POST',
      headers: { ...INJECT_HEADERS, ...headers } as Record<string, string>,
      body: JSON.stringify(body),
    })
    let res: Response
    if (headers['mcp-protocol-version'] === V) res = await modern.fetch(request)
    else {
      const s = server()
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      })
      await s.connect(transport)
      res = await transport.handleRequest(request)
    }
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : undefined }
  }
}

async function setup(t: Parameters<typeof build>[0]) {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const readOnly = await createKey(app, { userId: user.id, accountId: account.id }, { scopes: ['read'] })
  const keygate = async (body: unknown, headers: Record<string, string> = {}) => {
    const res = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...INJECT_HEADERS, authorization: `Bearer ${readOnly.token}`, ...headers },
      payload: JSON.stringify(body),
    })
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers }
  }
  // Every tool keygate has, as the SDK's server would list them.
  const all = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: {
      ...INJECT_HEADERS,
      authorization: `Bearer ${(await createKey(app, { userId: user.id, accountId: account.id })).token}`,
    },
    payload: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  })
  return { keygate, sdk: reference(JSON.parse(all.body).result.tools as Tool[]) }
}

t.test('the same where keygate means to be the same', async (t) => {
  const { keygate, sdk } = await setup(t)
  const ping = { jsonrpc: '2.0', id: 1, method: 'ping' }
  t.same((await keygate(ping)).body, (await sdk(ping)).body, 'ping')
  const discover = { jsonrpc: '2.0', id: 2, method: 'server/discover', params: { _meta: envelope } }
  const [k, s] = [
    await keygate(discover, modernHeaders('server/discover')),
    await sdk(discover, modernHeaders('server/discover')),
  ]
  t.equal(k.status, s.status)
  t.same(k.body, s.body, 'server/discover: versions, capabilities, identity')
  const unknown = { jsonrpc: '2.0', id: 3, method: 'nope/nope', params: { _meta: envelope } }
  t.same(
    (await keygate(unknown, modernHeaders('nope/nope'))).body,
    (await sdk(unknown, modernHeaders('nope/nope'))).body,
  )
})

t.test('intended difference: invalid params are -32602 naming the field, in one line', async (t) => {
  const { keygate, sdk } = await setup(t)
  const cases: Array<[string, unknown, Record<string, string>, number]> = [
    ['2025 initialize without params', { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, {}, -32603],
    ['2025 tools/call without a name', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }, {}, -32602],
    [
      '2026-07-28 arguments that are not an object',
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_notes', arguments: 'x', _meta: envelope } },
      modernHeaders('tools/call', 'list_notes'),
      -32602,
    ],
  ]
  for (const [name, body, headers, sdkCode] of cases) {
    const [k, s] = [await keygate(body, headers), await sdk(body, headers)]
    t.equal(s.body.error.code, sdkCode, `${name}: the SDK answers ${sdkCode}`)
    t.match(s.body.error.message, /\n/, `${name}: the SDK's message is the schema's whole error`)
    t.equal(k.body.error.code, -32602, `${name}: keygate answers -32602`)
    t.match(k.body.error.message, /^Invalid params: params\.\w+: [^\n]+$/, `${name}: in one line naming the field`)
  }
})

t.test('intended difference: a key sees and calls only the tools its scopes allow', async (t) => {
  const { keygate, sdk } = await setup(t)
  for (const [era, params, headers] of [
    ['2025', {}, {}],
    ['2026-07-28', { _meta: envelope }, modernHeaders('tools/list')],
  ] as const) {
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list', params }
    const names = (r: { body: { result: { tools: Array<{ name: string }> } } }) =>
      r.body.result.tools.map((x) => x.name).sort()
    t.same(
      names(await sdk(list, headers)),
      ['create_note', 'delete_note', 'get_note', 'list_notes'],
      `${era}: the SDK lists every tool`,
    )
    t.same(names(await keygate(list, headers)), ['get_note', 'list_notes'], `${era}: keygate the read key's`)
  }
  const write = {
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'create_note', arguments: { body: { title: 'x' } }, _meta: envelope },
  }
  const headers = modernHeaders('tools/call', 'create_note')
  t.equal((await sdk(write, headers)).status, 200, 'the SDK calls it')
  const refused = await keygate(write, headers)
  t.equal(refused.status, 403, 'keygate: 403 insufficient_scope')
  t.match(String(refused.headers['www-authenticate']), /scope="write"/)
})
