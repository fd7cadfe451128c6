// The 2026-07-28 era on /mcp, request by request: server/discover, the _meta envelope, the
// revision's headers checked against the body, its errors, and keygate's own checks (key,
// host, tool scopes, params) in front of it; and 2025-era requests that are never given a
// 2026-07-28 error.
import t from 'tap'
import { build, createKey, createUser } from '../helper.js'
import { INJECT_HEADERS } from '../support/mcp.js'

const V = '2026-07-28'
const envelope = (extra: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientInfo': { name: 'modern', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
  ...extra,
})
/** The revision's headers for a method (and a tool's name). */
const headersFor = (method: string, name?: string) => ({
  'mcp-protocol-version': V,
  'mcp-method': method,
  ...(name ? { 'mcp-name': name } : {}),
})
const request = (method: string, params: Record<string, unknown> = {}, id: number | string = 1) =>
  ({ jsonrpc: '2.0', id, method, params: { ...params, _meta: envelope() } }) as Record<string, unknown>

async function setup(t: Parameters<typeof build>[0]) {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const readOnly = await createKey(app, { userId: user.id, accountId: account.id }, { scopes: ['read'] })
  const post = (body: unknown, headers: Record<string, string> = {}, token = readOnly.token) =>
    app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...INJECT_HEADERS, authorization: `Bearer ${token}`, ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    })
  return { app, post, readOnly, user, account }
}

const bodyOf = (res: { body: string }) => JSON.parse(res.body)

t.test('server/discover: the versions, capabilities and identity, without initialize', async (t) => {
  const { post } = await setup(t)
  const res = await post(request('server/discover'), headersFor('server/discover'))
  t.equal(res.statusCode, 200)
  const { result } = bodyOf(res)
  t.same(result.supportedVersions, [V])
  t.same(result.capabilities, { tools: { listChanged: false } })
  t.equal(result.resultType, 'complete')
  t.equal(result._meta['io.modelcontextprotocol/serverInfo'].name, 'keygate')
  // initialize belongs to the 2025 era: in this one it is an unknown method.
  const init = await post(
    request('initialize', { protocolVersion: V, capabilities: {}, clientInfo: { name: 'x', version: '1' } }),
    headersFor('initialize'),
  )
  t.equal(init.statusCode, 404, 'a removed method: 404')
  t.equal(bodyOf(init).error.code, -32601)
  // Even with the params 2025 would refuse: the method is what is wrong.
  const bare = await post(request('initialize'), headersFor('initialize'))
  t.equal(bare.statusCode, 404)
  t.equal(bodyOf(bare).error.code, -32601)
  const ping = await post(request('ping'), headersFor('ping'))
  t.equal(bodyOf(ping).error.code, -32601, 'ping is not a 2026-07-28 method either')
})

t.test('tools/list and tools/call carry resultType; a key sees and calls only what its scopes allow', async (t) => {
  const { post, app, account } = await setup(t)
  const listed = await post(request('tools/list'), headersFor('tools/list'))
  t.equal(listed.statusCode, 200)
  const { result } = bodyOf(listed)
  t.equal(result.resultType, 'complete')
  t.same(result.tools.map((x: { name: string }) => x.name).sort(), ['get_note', 'list_notes'], 'read tools only')
  const called = await post(
    request('tools/call', { name: 'list_notes', arguments: {} }),
    headersFor('tools/call', 'list_notes'),
  )
  t.equal(bodyOf(called).result.resultType, 'complete')
  const before = (await app.store.notes.list(account.id)).length
  const write = await post(
    request('tools/call', { name: 'create_note', arguments: { body: { title: 'x', body: 'y' } } }),
    headersFor('tools/call', 'create_note'),
  )
  t.equal(write.statusCode, 403, 'a tool beyond the key: 403')
  t.match(write.headers['www-authenticate'], /error="insufficient_scope"/)
  t.match(write.headers['www-authenticate'], /scope="write"/, 'the scope the call needs (SEP-2350)')
  const legacy = await post({
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'create_note', arguments: { body: { title: 'x', body: 'y' } } },
  })
  t.equal(legacy.statusCode, 403)
  t.match(legacy.headers['www-authenticate'], /scope="read write"/, '2025 era: with what the key holds')
  t.equal((await app.store.notes.list(account.id)).length, before, 'nothing was written')
})

t.test("the revision's refusals, and keygate's before them", async (t) => {
  const { post, app, user, account } = await setup(t)
  const cases: Array<[string, unknown, Record<string, string>, number, number, RegExp]> = [
    [
      'an unsupported version, with the versions offered',
      {
        ...request('tools/list'),
        params: { _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) },
      },
      { ...headersFor('tools/list'), 'mcp-protocol-version': '2099-01-01' },
      400,
      -32022,
      /Unsupported protocol version: 2099-01-01/,
    ],
    [
      'an envelope without clientCapabilities',
      { ...request('tools/list'), params: { _meta: { 'io.modelcontextprotocol/protocolVersion': V } } },
      headersFor('tools/list'),
      400,
      -32602,
      /clientCapabilities: missing/,
    ],
    [
      'a 2026-07-28 header without the envelope',
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      headersFor('tools/list'),
      400,
      -32602,
      /envelope/,
    ],
    ['Mcp-Method disagrees with the body', request('tools/list'), headersFor('tools/call'), 400, -32020, /disagree/],
    [
      'Mcp-Name disagrees with the body',
      request('tools/call', { name: 'list_notes', arguments: {} }),
      headersFor('tools/call', 'get_note'),
      400,
      -32020,
      /Mcp-Name/,
    ],
    ['a batch', [request('tools/list')], headersFor('tools/list'), 400, -32600, /batches/],
    [
      'tools/call without a name',
      request('tools/call'),
      headersFor('tools/call'),
      200,
      -32602,
      /^Invalid params: params\.name: /,
    ],
    [
      'arguments that are not an object',
      request('tools/call', { name: 'list_notes', arguments: 'x' }),
      headersFor('tools/call', 'list_notes'),
      200,
      -32602,
      /^Invalid params: params\.arguments: Invalid input: expected record, received string$/,
    ],
    ['an unknown method', request('nope/nope'), headersFor('nope/nope'), 404, -32601, /Method not found/],
  ]
  for (const [name, body, headers, status, code, message] of cases) {
    const res = await post(body, headers)
    t.equal(res.statusCode, status, `${name}: status`)
    const answer = bodyOf(res)
    t.equal(answer.error?.code, code, `${name}: code`)
    t.match(answer.error?.message, message, `${name}: message`)
    t.notMatch(answer.error?.message ?? '', /"code":|\n/, `${name}: one line, no schema dump`)
  }
  const versions = bodyOf(await post(cases[0]![1], cases[0]![2])).error.data
  t.same(versions, { supported: [V], requested: '2099-01-01' })

  // keygate's checks come first: no key, a revoked key, another host, a body too large.
  const noKey = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...INJECT_HEADERS, ...headersFor('tools/list') },
    payload: JSON.stringify(request('tools/list')),
  })
  t.equal(noKey.statusCode, 401)
  t.match(noKey.headers['www-authenticate'], /resource_metadata=/)
  const revoked = await createKey(app, { userId: user.id, accountId: account.id })
  await app.store.keys.revoke(revoked.key.id, app.now())
  const refused = await post(request('tools/list'), headersFor('tools/list'), revoked.token)
  t.equal(refused.statusCode, 401)
  t.match(refused.headers['www-authenticate'], /revoked/)
  const foreign = await post(request('tools/list'), { ...headersFor('tools/list'), host: 'evil.example' })
  t.equal(foreign.statusCode, 403)
  const huge = await post(request('tools/list', { pad: 'x'.repeat(2 * 1024 * 1024) }), headersFor('tools/list'))
  t.equal(huge.statusCode, 413)
  const alive = await post(request('tools/list'), headersFor('tools/list'))
  t.equal(alive.statusCode, 200, 'and the server answers on')
})

t.test('2025-era requests never get a 2026-07-28 error, and keep their own', async (t) => {
  const { post } = await setup(t)
  const unsupported = await post(
    { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    { 'mcp-protocol-version': '1999-01-01' },
  )
  t.equal(unsupported.statusCode, 400)
  t.equal(bodyOf(unsupported).error.code, -32000, "the 2025 transport's error, not -32022")
  t.match(bodyOf(unsupported).error.message, /supported versions: 2025-11-25/)
  // A body that only looks modern (invalid JSON) is the 2025 era's parse error.
  const broken = await post('{"io.modelcontextprotocol/protocolVersion": ', headersFor('tools/list'))
  t.equal(bodyOf(broken).error.code, -32700)
  const init = await post({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'old', version: '1' } },
  })
  t.equal(bodyOf(init).result.protocolVersion, '2025-11-25', 'initialize still answers')
})

t.test('a notification of the 2026-07-28 era is accepted with 202', async (t) => {
  const { post } = await setup(t)
  const res = await post(
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: envelope() } },
    headersFor('notifications/cancelled'),
  )
  t.equal(res.statusCode, 202)
})
