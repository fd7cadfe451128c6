// The direct tools/call path (src/mcp/direct.ts) against the SDK Server it bypasses: one
// corpus of /mcp requests goes to keygate as it runs and to keygate with every request
// handed to the SDK Server (the same store, key and upstream), and every answer must be the
// same bytes with the same status and headers, in JSON and in event-stream responses.
import type { JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js'
import t from 'tap'
import { answerDirect, directCall } from '../../src/mcp/direct.js'
import { type Cancellation, Stop } from '../../src/mcp/forward.js'
import { DEADLINE_PASSED } from '../../src/mcp/transport.js'
import { dispatchPair, sameAnswer } from '../support/dispatch-pair.js'
import { INJECT_HEADERS } from '../support/mcp.js'
import { UPSTREAM_OPENAPI } from '../support/upstream.js'

const call = (name: unknown, args?: unknown, id: unknown = 1, extra: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, ...(args === undefined ? {} : { arguments: args }) },
  ...extra,
})
const TOOLS = ['list_items', 'create_item', 'delete_item', 'fault']

/** [name, body, whether every request in it is one the direct path answers]. */
const CORPUS: Array<[string, unknown, boolean]> = [
  ['a call without arguments', call('list_items'), true],
  ['a call with query and header arguments', call('list_items', { limit: 5, 'X-Trace': 't-1' }), true],
  ['arguments of the wrong type (a tool result with isError)', call('list_items', { limit: 'many' }), true],
  ['an argument the tool does not know', call('list_items', { colour: 'red' }), true],
  ['a write with a body', call('create_item', { body: { name: 'x' } }), true],
  ['a required path parameter missing', call('delete_item', {}), true],
  ['a path parameter', call('delete_item', { id: 'a/b?c' }), true],
  ...['500', '404', 'huge', 'hugechunked', 'badjson', 'text', 'array', 'slow', 'nothing'].map(
    (kind): [string, unknown, boolean] => [`the upstream answers ${kind}`, call('fault', { kind }), true],
  ),
  ['an unknown tool', call('no_such_tool'), false],
  ['an unknown tool with a 10,000-character name', call('n'.repeat(10_000)), false],
  ['no tool name', call(undefined), false],
  ['a number as the tool name', call(42), false],
  ['arguments as a string', call('list_items', 'limit=5'), false],
  ['arguments as an array', call('list_items', [1, 2]), false],
  ['arguments null', call('list_items', null), false],
  ['no params', { jsonrpc: '2.0', id: 1, method: 'tools/call' }, false],
  ['a task-augmented call', { ...call('list_items'), params: { name: 'list_items', task: { ttl: 1000 } } }, false],
  [
    'a progress token in _meta',
    { ...call('list_items'), params: { name: 'list_items', _meta: { progressToken: 'p' } } },
    true,
  ],
  ['fields beside params', call('list_items', {}, 1, { extra: { a: 1 } }), true],
  ['id 0', call('list_items', {}, 0), true],
  ['a negative id', call('list_items', {}, -7), true],
  ['a fractional id', call('list_items', {}, 1.5), true],
  ['an id beyond 2^53', call('list_items', {}, 2 ** 60), true],
  ['an id of 1e300', call('list_items', {}, 1e300), true],
  ['a 10,000-character string id', call('list_items', {}, 'i'.repeat(10_000)), true],
  ['a string id with non-ASCII', call('list_items', {}, 'ключ-🔑'), true],
  ['an empty string id', call('list_items', {}, ''), true],
  ['a notification named tools/call', { jsonrpc: '2.0', method: 'tools/call', params: { name: 'list_items' } }, false],
  [
    'a batch mixing calls, other requests and notifications',
    [
      call('list_items', { limit: 1 }, 1),
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 3, method: 'ping' },
      call('no_such_tool', {}, 4),
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
      call('fault', { kind: '404' }, 5),
      call('list_items', 'bad', 6),
      { jsonrpc: '2.0', id: 7, method: 'resources/list' },
    ],
    false,
  ],
  ['a batch of calls reusing one id', [call('list_items', {}, 9), call('fault', { kind: 'text' }, 9)], true],
  ['a batch of one call', [call('list_items', {}, 'only')], true],
  ['a call after a notification', [{ jsonrpc: '2.0', method: 'notifications/initialized' }, call('list_items')], true],
]

for (const mode of ['json', 'sse']) {
  t.test(`every answer is the SDK Server's, byte for byte (${mode} responses)`, async (t) => {
    const { direct, reference, key } = await dispatchPair(t, mode === 'sse' ? { KEYGATE_MCP_RESPONSE: 'sse' } : {})
    for (const [name, body] of CORPUS) {
      const send = (app: typeof direct) =>
        app.inject({
          method: 'POST',
          url: '/mcp',
          headers: { ...INJECT_HEADERS, authorization: `Bearer ${key}` },
          payload: JSON.stringify(body),
        })
      sameAnswer(t, name, await send(direct), await send(reference))
    }
  })
}

t.test(
  'the corpus reaches the direct path where it should (the comparison is not between two SDK paths)',
  async (t) => {
    const known = (name: string) => TOOLS.includes(name)
    t.same(UPSTREAM_OPENAPI.paths['/items'].get.operationId, 'list_items', "the corpus' tools are the upstream's")
    for (const [name, body, direct] of CORPUS) {
      const messages = (Array.isArray(body) ? body : [body]) as Array<Record<string, unknown>>
      const requests = messages.filter((m) => 'id' in m && 'method' in m) as JSONRPCRequest[]
      const taken = requests.map((r) => directCall(r, known) !== undefined)
      t.equal(
        requests.length > 0 && taken.every(Boolean),
        direct,
        `${name}: ${direct ? 'every request is answered directly' : 'at least one goes to the SDK Server'}`,
      )
    }
  },
)

t.test('a direct call that never ends is answered at the deadline, and its handler told to stop', async (t) => {
  let seen: Cancellation | undefined
  const never = (_r: unknown, extra: { signal: Cancellation }) => {
    seen = extra.signal
    return new Promise<Record<string, unknown>>(() => {})
  }
  const deadline = new Stop()
  const request = call('list_items', {}, 'mine') as JSONRPCRequest
  const answer = answerDirect('mine', directCall(request, () => true)!, never, deadline)
  setTimeout(() => deadline.abort(DEADLINE_PASSED), 50)
  t.same(await answer, {
    jsonrpc: '2.0',
    id: 'mine',
    error: { code: -32603, message: 'The request took too long and was cancelled.' },
  })
  t.equal(seen?.aborted, true, "the handler's signal was aborted")
  // Aborted before it starts: answered at once, as the transport answers.
  t.equal(((await answerDirect(1, directCall(request, () => true)!, never, deadline)) as any).id, 1)
})
