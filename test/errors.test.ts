// One error family, rendered by the route's declared kind: OAuth JSON, an HTML page, a
// JSON-RPC error or RFC 9457 problem details; every 5xx logged and never shown.
import t from 'tap'
import { checkRouteKind } from '../src/server/app.js'
import { ApiError, JsonRpcError, KeygateError, OAuthError, PageError, type RouteKind } from '../src/shared/errors.js'
import { ConflictError, ForeignKeyError, StoreError } from '../src/store/types.js'
import { build, createKey, createUser, loggedApp } from './helper.js'

t.test('every error is a KeygateError with a name, a status and expose = status < 500', async (t) => {
  const errors: Array<[KeygateError, string, number, boolean]> = [
    [new OAuthError('invalid_grant', 'x'), 'OAuthError', 400, true],
    [new OAuthError('server_error', 'x', 500), 'OAuthError', 500, false],
    [new PageError(404, 'Not found', 'x'), 'PageError', 404, true],
    [new JsonRpcError(400, -32700, 'x'), 'JsonRpcError', 400, true],
    [new JsonRpcError(503, -32603, 'x', 1, { expose: true }), 'JsonRpcError', 503, true],
    [new ApiError(403, 'x'), 'ApiError', 403, true],
    [new ForeignKeyError('x'), 'ForeignKeyError', 500, false],
    [new ConflictError('x'), 'ConflictError', 500, false],
  ]
  for (const [err, name, status, expose] of errors) {
    t.ok(err instanceof KeygateError && err instanceof Error, `${name} is a KeygateError`)
    t.equal(err.name, name)
    t.equal(err.status, status, `${name} status`)
    t.equal(err.expose, expose, `${name} ${status} expose`)
  }
  t.ok(new ConflictError('x') instanceof StoreError)
})

t.test('a route that declares no kind is refused while the app is built', async (t) => {
  t.throws(() => checkRouteKind({ method: 'GET', url: '/x', config: {} }), {
    message: 'route GET /x declares no kind (config.kind)',
  })
  t.throws(() => checkRouteKind({ method: ['GET', 'POST'], url: '/y' }), { message: /GET,POST \/y/ })
  t.doesNotThrow(() => checkRouteKind({ method: 'GET', url: '/x', config: { kind: 'page' } }))
  t.doesNotThrow(() => checkRouteKind({ method: 'OPTIONS', url: '*' }), 'a CORS preflight route')
  t.doesNotThrow(() => checkRouteKind({ method: 'HEAD', url: '/x' }), "Fastify's HEAD route")
})

t.test('an unexpected failure answers in the shape of its route, is logged, and shows nothing internal', async (t) => {
  const { app, lines } = await loggedApp(t)
  const kinds: RouteKind[] = ['oauth', 'page', 'mcp', 'api']
  for (const kind of kinds) {
    app.get(`/test-only/${kind}`, { config: { kind } }, async () => {
      throw new Error(`disk /var/lib/${kind} is full`)
    })
  }
  const oauth = await app.inject({ url: '/test-only/oauth' })
  t.equal(oauth.statusCode, 500)
  t.same(oauth.json(), { error: 'server_error', error_description: 'internal server error' })
  const page = await app.inject({ url: '/test-only/page' })
  t.equal(page.statusCode, 500)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, 'Something went wrong')
  const mcp = await app.inject({ url: '/test-only/mcp' })
  t.equal(mcp.statusCode, 500)
  t.same(mcp.json(), { jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null })
  const api = await app.inject({ url: '/test-only/api' })
  t.equal(api.statusCode, 500)
  t.match(api.headers['content-type'], /^application\/problem\+json/)
  t.same(api.json(), {
    type: 'about:blank',
    title: 'Internal Server Error',
    status: 500,
    detail: 'internal server error',
  })
  for (const res of [oauth, page, mcp, api]) {
    t.notOk(res.body.includes('/var/lib'), 'nothing internal is shown')
    t.equal(res.headers['cache-control'], 'no-store')
  }
  const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request failed')
  t.same(
    logged.map((l) => l.err.message),
    kinds.map((k) => `disk /var/lib/${k} is full`),
    'each failure is logged with its error',
  )
})

t.test('a 5xx whose message may be shown is still logged', async (t) => {
  const { app, lines } = await loggedApp(t)
  app.get('/test-only/unavailable', { config: { kind: 'mcp' } }, async () => {
    throw new JsonRpcError(503, -32603, 'try again later', 7, { expose: true })
  })
  const res = await app.inject({ url: '/test-only/unavailable' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { jsonrpc: '2.0', error: { code: -32603, message: 'try again later' }, id: 7 })
  const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request failed')
  t.same(
    logged.map((l) => l.err.message),
    ['try again later'],
  )
})

t.test("a Fastify 4xx answers in the route's shape: a page for a page, JSON for the rest", async (t) => {
  const { app } = await build(t)
  // A JSON body that does not parse, sent to a page and to an OAuth endpoint.
  const badJson = { 'content-type': 'application/json' }
  const page = await app.inject({ method: 'POST', url: '/login', headers: badJson, payload: '{"email":' })
  t.equal(page.statusCode, 400)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, 'Bad request')
  const oauth = await app.inject({ method: 'POST', url: '/register', headers: badJson, payload: '{"client_name":' })
  t.equal(oauth.statusCode, 400)
  t.equal(oauth.json().error, 'invalid_request')
  const api = await app.inject({ method: 'POST', url: '/api/v1/notes', headers: badJson, payload: '{"title":' })
  t.equal(api.statusCode, 400)
  t.match(api.headers['content-type'], /^application\/problem\+json/)
  t.equal(api.json().title, 'Bad Request')
})

t.test('no route: a page for a browser, JSON for anything else', async (t) => {
  const { app } = await build(t)
  const browser = await app.inject({
    url: '/nowhere',
    headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
  })
  t.equal(browser.statusCode, 404)
  t.match(browser.headers['content-type'], /^text\/html/)
  t.match(browser.body, 'There is no page at this address.')
  t.match(browser.headers['content-security-policy'], /default-src 'none'/, "with the pages' security headers")
  t.equal(browser.headers['x-frame-options'], 'DENY')
  const client = await app.inject({ url: '/nowhere?x=1' })
  t.equal(client.statusCode, 404)
  t.same(client.json(), { error: 'not_found', error_description: 'no route for GET /nowhere' })
  t.equal(client.headers['x-content-type-options'], 'nosniff')
})

t.test('the demo API answers errors as RFC 9457 problem details, as a product API would', async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const reader = await createKey(app, { userId: user.id, accountId: account.id }, { scopes: ['read'] })
  const problem = (status: number, title: string, detail: string) => ({ type: 'about:blank', title, status, detail })
  const cases: Array<[string, string, Record<string, string>, unknown, number, ReturnType<typeof problem>]> = [
    ['GET', '/api/v1/notes', {}, undefined, 401, problem(401, 'Unauthorized', 'an API key is required')],
    [
      'GET',
      '/api/v1/notes',
      { authorization: 'Bearer kg_nope' },
      undefined,
      401,
      problem(401, 'Unauthorized', 'the API key is malformed'),
    ],
    [
      'POST',
      '/api/v1/notes',
      { authorization: `Bearer ${reader.token}` },
      { title: 'x' },
      403,
      problem(403, 'Forbidden', 'this API key lacks the write scope'),
    ],
    [
      'GET',
      '/api/v1/notes/999',
      { authorization: `Bearer ${reader.token}` },
      undefined,
      404,
      problem(404, 'Not Found', 'no such note'),
    ],
  ]
  for (const [method, url, headers, payload, status, body] of cases) {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload ? { payload: payload as object } : {}),
    })
    t.equal(res.statusCode, status, `${method} ${url} ${status}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.same(res.json(), body)
    if (status === 401) t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
  }
})
