// The plain 2026-07-28 tools/call that keygate answers itself (src/mcp/modern.ts), against
// the SDK's createMcpHandler it bypasses: one corpus goes to keygate as it runs and to
// keygate with every request handed to the SDK (the same store, key and upstream), and every
// answer must be the same bytes with the same status and headers.
import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { modernToolCall } from '../../src/mcp/modern.js'
import { dispatchPair, sameAnswer } from '../support/dispatch-pair.js'
import { INJECT_HEADERS } from '../support/mcp.js'

const V = '2026-07-28'
const envelope = { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {} }
const call = (name: unknown, args?: unknown, id: unknown = 1, meta: Record<string, unknown> = envelope) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, ...(args === undefined ? {} : { arguments: args }), _meta: meta },
})
const headersFor = (name?: unknown) => ({
  'mcp-protocol-version': V,
  'mcp-method': 'tools/call',
  ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
})
const TOOLS = ['list_items', 'create_item', 'delete_item', 'fault']

/** [name, body, headers, whether keygate answers it itself]. */
const CORPUS: Array<[string, unknown, Record<string, string>, boolean]> = [
  ['a call without arguments', call('list_items'), headersFor('list_items'), true],
  ['query and header arguments', call('list_items', { limit: 5, 'X-Trace': 't' }), headersFor('list_items'), true],
  ['arguments of the wrong type', call('list_items', { limit: 'many' }), headersFor('list_items'), true],
  ['a write with a body', call('create_item', { body: { name: 'x' } }), headersFor('create_item'), true],
  ['a path parameter', call('delete_item', { id: 'a/b?c' }), headersFor('delete_item'), true],
  ...['500', '404', 'huge', 'badjson', 'text', 'array', 'nothing'].map(
    (kind): [string, unknown, Record<string, string>, boolean] => [
      `the upstream answers ${kind}`,
      call('fault', { kind }),
      headersFor('fault'),
      true,
    ],
  ),
  ['id 0', call('list_items', {}, 0), headersFor('list_items'), true],
  ['a string id with non-ASCII', call('list_items', {}, 'ключ-🔑'), headersFor('list_items'), true],
  ['a negative id', call('list_items', {}, -7), headersFor('list_items'), true],
  ['an id of 1e300', call('list_items', {}, 1e300), headersFor('list_items'), false],
  ['a fractional id', call('list_items', {}, 1.5), headersFor('list_items'), false],
  ['an id beyond 2^53', call('list_items', {}, 2 ** 60), headersFor('list_items'), false],
  [
    'client info and capabilities',
    call('list_items', {}, 2, {
      ...envelope,
      'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
    }),
    headersFor('list_items'),
    true,
  ],
  // For the SDK: anything unusual.
  ['an unknown tool', call('no_such_tool'), headersFor('no_such_tool'), false],
  ['arguments as a string', call('list_items', 'x'), headersFor('list_items'), false],
  ['no Mcp-Name', call('list_items'), { 'mcp-protocol-version': V, 'mcp-method': 'tools/call' }, false],
  ['Mcp-Name of another tool', call('list_items'), headersFor('delete_item'), false],
  [
    'an envelope without capabilities',
    call('list_items', {}, 1, { 'io.modelcontextprotocol/protocolVersion': V }),
    headersFor('list_items'),
    false,
  ],
  [
    'capabilities that are not an object',
    call('list_items', {}, 1, { ...envelope, 'io.modelcontextprotocol/clientCapabilities': 'all' }),
    headersFor('list_items'),
    false,
  ],
  [
    'another key in the envelope',
    call('list_items', {}, 1, { ...envelope, 'io.modelcontextprotocol/logLevel': 'debug' }),
    headersFor('list_items'),
    false,
  ],
  ['a progress token', call('list_items', {}, 1, { ...envelope, progressToken: 'p' }), headersFor('list_items'), false],
  ['fields beside params', { ...call('list_items'), extra: 1 }, headersFor('list_items'), false],
  ['a batch', [call('list_items')], headersFor('list_items'), false],
  [
    'a version the body and header disagree on',
    call('list_items', {}, 1, { ...envelope, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }),
    headersFor('list_items'),
    false,
  ],
]

t.test("every 2026-07-28 answer is the SDK handler's, byte for byte", async (t) => {
  const { direct, reference, key } = await dispatchPair(t)
  for (const [name, body, headers] of CORPUS) {
    const send = (app: typeof direct) =>
      app.inject({
        method: 'POST',
        url: '/mcp',
        headers: { ...INJECT_HEADERS, authorization: `Bearer ${key}`, ...headers },
        payload: JSON.stringify(body),
      })
    sameAnswer(t, name, await send(direct), await send(reference))
  }
})

t.test('the corpus reaches the direct path where it should', async (t) => {
  const known = (tool: string) => TOOLS.includes(tool)
  for (const [name, body, headers, taken] of CORPUS) {
    const req = {
      headers: { ...INJECT_HEADERS, ...headers },
      body: JSON.stringify(body),
    } as unknown as FastifyRequest<{ Body: string }>
    t.equal(modernToolCall(req, known) !== undefined, taken, `${name}: ${taken ? 'answered here' : "the SDK's"}`)
  }
})
