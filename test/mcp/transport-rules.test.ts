// keygate's /mcp checks mirror the rules of the SDK's own Streamable HTTP transport (v2, the
// 2025 era it serves beside the 2026-07-28 one) with
// constants and code of keygate's own. Here the same requests go to both: when an SDK
// upgrade changes a rule (a status, an error code, a message, the batch bound, what counts
// as JSON), this test fails and says which.
import {
  Server,
  isJsonContentType as sdkIsJsonContentType,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server'
import t from 'tap'
import { isJsonContentType } from '../../src/mcp/media-type.js'
import { MAX_BATCH_SIZE } from '../../src/mcp/route.js'
import { build, createKey, createUser } from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

const MAX_BODY = 4096
type Case = { name: string; headers?: Record<string, string>; body: string }
type Answer = { status: number; code?: number; message?: string }

const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' })
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
}

const CASES: Case[] = [
  { name: 'accepts JSON only', headers: { accept: 'application/json' }, body: rpc('tools/list') },
  { name: 'accepts an event stream only', headers: { accept: 'text/event-stream' }, body: rpc('tools/list') },
  { name: 'no Accept', headers: { accept: '' }, body: rpc('tools/list') },
  { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: rpc('tools/list') },
  {
    name: 'JSON only in a parameter',
    headers: { 'content-type': 'text/plain; a=application/json' },
    body: rpc('tools/list'),
  },
  {
    name: 'JSON in capitals with a charset',
    headers: { 'content-type': 'Application/JSON; charset=utf-8' },
    body: rpc('tools/list'),
  },
  {
    name: 'JSON with an empty parameter section',
    headers: { 'content-type': 'application/json;' },
    body: rpc('tools/list'),
  },
  {
    name: 'joined duplicate Content-Types',
    headers: { 'content-type': 'application/json, text/plain' },
    body: rpc('tools/list'),
  },
  { name: 'not JSON', body: '{"jsonrpc":' },
  { name: 'JSON but not JSON-RPC', body: '{"hello":"world"}' },
  {
    name: 'a batch of the largest size',
    body: JSON.stringify(Array.from({ length: MAX_BATCH_SIZE }, (_, i) => ping(i + 1))),
  },
  {
    name: 'a batch one too large',
    body: JSON.stringify(Array.from({ length: MAX_BATCH_SIZE + 1 }, (_, i) => ping(i + 1))),
  },
  { name: 'initialize in a batch', body: JSON.stringify([initialize, ping(2)]) },
  {
    name: 'an unsupported protocol version',
    headers: { 'mcp-protocol-version': '1999-01-01' },
    body: rpc('tools/list'),
  },
  { name: 'a body over the limit', body: rpc('tools/list', { pad: 'x'.repeat(MAX_BODY) }) },
  { name: 'notifications only', body: rpc('notifications/initialized', {}, null) },
  { name: 'a good request', body: rpc('tools/list') },
]

/** The SDK's transport, stateless and answering JSON, in front of a Server with one handler. */
async function sdkAnswer(c: Case): Promise<Answer> {
  const server = new Server({ name: 'sdk', version: '1' }, { capabilities: { tools: {} } })
  server.setRequestHandler('tools/list', async () => ({ tools: [] }))
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
    maxRequestBodySize: MAX_BODY,
  })
  await server.connect(transport)
  const headers = { ...INJECT_HEADERS, ...c.headers }
  const res = await transport.handleRequest(
    new Request('http://localhost:3000/mcp', {
      method: 'POST',
      headers: headers as Record<string, string>,
      body: c.body,
    }),
  )
  const text = await res.text()
  await server.close()
  return answerOf(res.status, text)
}

function answerOf(status: number, text: string): Answer {
  const body = text ? JSON.parse(text) : undefined
  const error = Array.isArray(body) ? undefined : body?.error
  return error ? { status, code: error.code, message: error.message } : { status }
}

t.test('keygate answers bad /mcp requests exactly as the SDK transport does', async (t) => {
  // The SDK does not export its batch bound: the cases of the largest batch and one over it check it.
  const { app } = await build(t, { KEYGATE_MCP_MAX_BODY_BYTES: String(MAX_BODY) })
  const { user, account } = await createUser(app, 'alice@example.com')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  for (const c of CASES) {
    const headers = { ...INJECT_HEADERS, authorization: `Bearer ${key.token}`, ...c.headers }
    const res = await app.inject({ method: 'POST', url: '/mcp', headers, payload: c.body })
    t.same(answerOf(res.statusCode, res.body), await sdkAnswer(c), c.name)
  }
})

t.test('Content-Type is judged as the SDK judges it', async (t) => {
  const headers = [
    undefined,
    '',
    'application/json',
    'APPLICATION/JSON',
    'application/json; charset=utf-8',
    'application/json;',
    'application/json; charset=',
    'application/json ; charset=utf-8',
    'application/jsonx',
    'application/json-seq',
    'text/json',
    'application/json, text/plain',
    'text/plain; a=application/json',
    'application/problem+json',
    ' application/json',
  ]
  for (const header of headers) t.equal(isJsonContentType(header), sdkIsJsonContentType(header), String(header))
})
