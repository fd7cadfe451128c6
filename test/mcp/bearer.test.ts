import t from 'tap'
import { build, createKey, createUser } from '../helper.js'
import { INJECT_HEADERS as MCP_HEADERS, rpc } from '../support/mcp.js'

const PRM = 'resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp"'

t.test('401 for every kind of bad token, always with the challenge', async (t) => {
  const { app, clock } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const owner = { userId: user.id, accountId: account.id }
  const revoked = await createKey(app, owner)
  await app.store.keys.revoke(revoked.key.id, app.now())
  const expired = await createKey(app, owner, { expiresAt: app.now() + 10 })
  const foreign = await createKey(app, owner, { resource: 'https://other.example/mcp' })
  const unknown = (await import('../../src/keys/format.js')).mintToken('kg_').token
  clock.advance(11)
  const cases: Array<[string, Record<string, string>, string | null]> = [
    ['missing', {}, null],
    ['basic scheme', { authorization: 'Basic YTpi' }, 'the access token is malformed'],
    ['empty bearer', { authorization: 'Bearer ' }, 'the access token is malformed'],
    ['malformed', { authorization: 'Bearer kg_nope' }, 'the access token is malformed'],
    [
      'bad checksum',
      { authorization: `Bearer ${unknown.slice(0, -1)}${unknown.endsWith('a') ? 'b' : 'a'}` },
      'the access token is malformed',
    ],
    ['unknown', { authorization: `Bearer ${unknown}` }, 'the access token is not known'],
    ['revoked', { authorization: `Bearer ${revoked.token}` }, 'the access token has been revoked'],
    ['expired', { authorization: `Bearer ${expired.token}` }, 'the access token has expired'],
    ['other audience', { authorization: `Bearer ${foreign.token}` }, 'the access token is not meant for this resource'],
  ]
  for (const [name, headers, description] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...MCP_HEADERS, ...headers },
      payload: rpc('tools/list'),
    })
    t.equal(res.statusCode, 401, name)
    const expected =
      description === null
        ? `Bearer scope="read write", ${PRM}`
        : `Bearer error="invalid_token", error_description="${description}", scope="read write", ${PRM}`
    t.equal(res.headers['www-authenticate'], expected, `${name}: challenge`)
    t.same(
      res.json(),
      { error: 'invalid_token', error_description: description ?? 'an access token is required' },
      `${name}: body`,
    )
  }
  const query = await app.inject({
    method: 'POST',
    url: `/mcp?access_token=${revoked.token}`,
    headers: MCP_HEADERS,
    payload: rpc('tools/list'),
  })
  t.equal(query.statusCode, 401, 'a token in the query string is ignored')
  t.equal(query.headers['www-authenticate'], `Bearer scope="read write", ${PRM}`)
})

t.test('a good key: manual (unbound) or bound to this resource; last use written once a minute', async (t) => {
  const { app, clock } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const manual = await createKey(app, { userId: user.id, accountId: account.id })
  const bound = await createKey(
    app,
    { userId: user.id, accountId: account.id },
    { resource: 'http://localhost:3000/mcp' },
  )
  for (const key of [manual, bound]) {
    const res = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${key.token}` },
      payload: rpc('tools/list'),
    })
    t.equal(res.statusCode, 200)
    t.ok(res.json().result.tools.length >= 4)
  }
  const first = (await app.store.keys.byId(manual.key.id))!.lastUsedAt
  t.equal(first, app.now())
  clock.advance(30)
  await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...MCP_HEADERS, authorization: `Bearer ${manual.token}` },
    payload: rpc('tools/list'),
  })
  t.equal((await app.store.keys.byId(manual.key.id))!.lastUsedAt, first, 'not rewritten within the minute')
  clock.advance(31)
  await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...MCP_HEADERS, authorization: `Bearer ${manual.token}` },
    payload: rpc('tools/list'),
  })
  t.equal((await app.store.keys.byId(manual.key.id))!.lastUsedAt, app.now(), 'rewritten after a minute')
})

t.test('CORS preflight on /mcp never 401s; GET and DELETE answer 405 after auth', async (t) => {
  const { app } = await build(t)
  const pre = await app.inject({
    method: 'OPTIONS',
    url: '/mcp',
    headers: {
      origin: 'http://localhost:6274',
      'access-control-request-method': 'POST',
      'access-control-request-headers':
        'authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id',
    },
  })
  t.equal(pre.statusCode, 204)
  t.equal(pre.headers['access-control-allow-origin'], '*')
  t.match(
    pre.headers['access-control-allow-headers'],
    /Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Accept/,
  )
  const unauth = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...MCP_HEADERS, origin: 'http://localhost:6274' },
    payload: rpc('tools/list'),
  })
  t.equal(unauth.headers['access-control-expose-headers'], 'WWW-Authenticate, Mcp-Session-Id')
  const { user, account } = await createUser(app, 'alice@example.com')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  for (const method of ['GET', 'DELETE'] as const) {
    t.equal(
      (await app.inject({ method, url: '/mcp', headers: { host: 'localhost:3000' } })).statusCode,
      401,
      `${method} without a key`,
    )
    const res = await app.inject({
      method,
      url: '/mcp',
      headers: { host: 'localhost:3000', authorization: `Bearer ${key.token}`, accept: 'text/event-stream' },
    })
    t.equal(res.statusCode, 405, method)
    t.equal(res.headers.allow, 'POST')
    t.equal(res.json().jsonrpc, '2.0')
  }
})

t.test('foreign Host or Origin is refused (DNS rebinding); allowed ones pass', async (t) => {
  const { app } = await build(t, {
    KEYGATE_ISSUER: 'https://mcp.example.com',
    KEYGATE_ALLOWED_HOSTS: 'internal.example:8080',
    KEYGATE_ALLOWED_ORIGINS: 'https://app.example',
  })
  const { user, account } = await createUser(app, 'alice@example.com')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const send = (headers: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${key.token}`, ...headers },
      payload: rpc('tools/list'),
    })
  t.equal((await send({ host: 'mcp.example.com' })).statusCode, 200)
  t.equal((await send({ host: 'internal.example:8080' })).statusCode, 200)
  t.equal((await send({ host: 'mcp.example.com', origin: 'https://mcp.example.com' })).statusCode, 200)
  t.equal((await send({ host: 'mcp.example.com', origin: 'https://app.example' })).statusCode, 200)
  const badHost = await send({ host: 'evil.example' })
  t.equal(badHost.statusCode, 403)
  t.same(
    badHost.json(),
    { jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: Host "evil.example" is not allowed' }, id: 1 },
    'the refused request keeps its id',
  )
  const badOrigin = await send({ host: 'mcp.example.com', origin: 'https://evil.example' })
  t.equal(badOrigin.statusCode, 403)
  t.same(badOrigin.json().error.message, 'Forbidden: Origin "https://evil.example" is not allowed')
  const noKey = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...MCP_HEADERS, host: 'evil.example' },
    payload: rpc('tools/list'),
  })
  t.equal(noKey.statusCode, 403, 'the host check comes before the key check')

  const local = await build(t)
  const u = await createUser(local.app, 'bob@example.com')
  const k = await createKey(local.app, { userId: u.user.id, accountId: u.account.id })
  const sendLocal = (headers: Record<string, string>) =>
    local.app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${k.token}`, ...headers },
      payload: rpc('tools/list'),
    })
  t.equal(
    (await sendLocal({ host: '127.0.0.1:3000', origin: 'http://localhost:6274' })).statusCode,
    200,
    'a localhost keygate accepts local tools',
  )
  t.equal((await sendLocal({ host: 'evil.example:3000' })).statusCode, 403)
  t.equal((await sendLocal({ host: 'localhost:3000', origin: 'https://evil.example' })).statusCode, 403)
})

t.test('malformed JSON-RPC, wrong content types, oversized bodies: clean errors, never a 500', async (t) => {
  const { app } = await build(t, { KEYGATE_MCP_MAX_BODY_BYTES: '4096' })
  const { user, account } = await createUser(app, 'alice@example.com')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const auth = { authorization: `Bearer ${key.token}` }
  const cases: Array<[string, Record<string, string>, string, number, number | null]> = [
    ['invalid JSON', {}, '{"jsonrpc":', 400, -32700],
    ['not JSON-RPC', {}, '{"hello":"world"}', 400, -32700],
    ['empty body', {}, '', 400, -32700],
    ['text/plain', { 'content-type': 'text/plain' }, rpc('tools/list'), 415, -32000],
    ['form body', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=b', 415, -32000],
    ['no event-stream in Accept', { accept: 'application/json' }, rpc('tools/list'), 406, -32000],
    ['unknown method', {}, rpc('nope/nope'), 200, -32601],
    ['tools/call of an unknown tool', {}, rpc('tools/call', { name: 'nope' }), 200, -32602],
    ['tools/call without params', {}, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call' }), 200, -32602],
  ]
  for (const [name, headers, payload, status, code] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...MCP_HEADERS, ...auth, ...headers },
      payload,
    })
    t.equal(res.statusCode, status, name)
    const body = res.json()
    if (code !== null) t.equal(body.error?.code, code, `${name}: code`)
    else t.equal(body.result?.isError, true, `${name}: isError result`)
  }
  const big = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...MCP_HEADERS, ...auth },
    payload: rpc('tools/list', { pad: 'x'.repeat(5000) }),
  })
  t.equal(big.statusCode, 413)
  // /mcp answers in JSON-RPC, whatever refused the request (the SDK's transport: -32000).
  t.same(big.json(), {
    jsonrpc: '2.0',
    error: { code: -32000, message: 'Payload Too Large: Request body must not exceed 4096 bytes' },
    id: null,
  })
  const notification = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...MCP_HEADERS, ...auth },
    payload: rpc('notifications/initialized', {}, null),
  })
  t.equal(notification.statusCode, 202, 'notifications are accepted')
})
