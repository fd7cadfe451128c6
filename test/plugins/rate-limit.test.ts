import t from 'tap'
import { build, cookiesOf, createKey, createUser, csrfOf } from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

const LIMITS = {
  KEYGATE_RATE_LIMIT_TOKEN: '3',
  KEYGATE_RATE_LIMIT_REGISTER: '2',
  KEYGATE_RATE_LIMIT_LOGIN: '2',
  KEYGATE_RATE_LIMIT_AUTHORIZE: '2',
  KEYGATE_RATE_LIMIT_MCP: '3',
  KEYGATE_RATE_LIMIT_WINDOW_SECONDS: '60',
}

t.test('per IP on /token and /register: 429, Retry-After, OAuth JSON; other IPs unaffected', async (t) => {
  const { app } = await build(t, LIMITS)
  const token = (ip: string) =>
    app.inject({ method: 'POST', url: '/token', remoteAddress: ip, payload: { grant_type: 'password' } })
  for (let i = 0; i < 3; i++) t.equal((await token('10.0.0.1')).statusCode, 400)
  const limited = await token('10.0.0.1')
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.ok(Number(limited.headers['retry-after']) <= 60)
  t.same(limited.json(), {
    error: 'too_many_requests',
    error_description: `too many requests; try again in ${limited.headers['retry-after']} s`,
  })
  t.equal(limited.headers['cache-control'], 'no-store')
  t.equal((await token('10.0.0.2')).statusCode, 400, 'another IP is not limited')
  const reg = (ip: string) =>
    app.inject({
      method: 'POST',
      url: '/register',
      remoteAddress: ip,
      payload: { redirect_uris: ['https://a.example/cb'] },
    })
  t.equal((await reg('10.0.0.1')).statusCode, 201)
  t.equal((await reg('10.0.0.1')).statusCode, 201)
  t.equal((await reg('10.0.0.1')).statusCode, 429)
  t.equal((await reg('10.0.0.3')).statusCode, 201)
})

t.test('per IP on /login and /authorize: a readable page', async (t) => {
  const { app } = await build(t, LIMITS)
  const page = await app.inject({ method: 'GET', url: '/login' })
  const attempt = () =>
    app.inject({
      method: 'POST',
      url: '/login',
      remoteAddress: '10.0.0.9',
      headers: { cookie: cookiesOf(page) },
      payload: { csrf: csrfOf(page.body), email: 'x@example.com', password: 'y' },
    })
  await attempt()
  await attempt()
  const limited = await attempt()
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['content-type'], /text\/html/)
  t.match(limited.body, /Too many requests from your network/)
  t.ok(limited.headers['retry-after'])
  for (let i = 0; i < 2; i++) await app.inject({ method: 'GET', url: '/authorize', remoteAddress: '10.0.0.9' })
  const auth = await app.inject({ method: 'GET', url: '/authorize', remoteAddress: '10.0.0.9' })
  t.equal(auth.statusCode, 429)
  t.match(auth.body, /Too many requests/)
})

t.test('per key on /mcp: one key tripping does not affect another', async (t) => {
  const { app } = await build(t, LIMITS)
  const { user, account } = await createUser(app, 'alice@example.com')
  const a = await createKey(app, { userId: user.id, accountId: account.id })
  const b = await createKey(app, { userId: user.id, accountId: account.id })
  const call = (key: string) =>
    app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...INJECT_HEADERS, authorization: `Bearer ${key}` },
      payload: rpc('tools/list'),
    })
  for (let i = 0; i < 3; i++) t.equal((await call(a.token)).statusCode, 200)
  const limited = await call(a.token)
  t.equal(limited.statusCode, 429)
  t.ok(limited.headers['retry-after'])
  t.equal(limited.json().error, 'too_many_requests')
  t.equal((await call(b.token)).statusCode, 200, 'another key from the same IP is unaffected')
})

t.test('/mcp counts per key however the Authorization header is spelled', async (t) => {
  const { app } = await build(t, LIMITS)
  const { user, account } = await createUser(app, 'alice@example.com')
  const a = await createKey(app, { userId: user.id, accountId: account.id })
  const spellings = [`Bearer ${a.token}`, `bearer ${a.token}`, `BEARER ${a.token}`, `Bearer   ${a.token}  `]
  const codes: number[] = []
  for (const authorization of spellings) {
    codes.push(
      (
        await app.inject({
          method: 'POST',
          url: '/mcp',
          headers: { ...INJECT_HEADERS, authorization },
          payload: rpc('tools/list'),
        })
      ).statusCode,
    )
  }
  t.same(codes, [200, 200, 200, 429], 'four spellings of one key share one allowance of 3')
})

t.test('/mcp limits failed bearer checks per address; valid keys from it still work', async (t) => {
  const { app } = await build(t, {
    ...LIMITS,
    KEYGATE_RATE_LIMIT_MCP: '1000',
    KEYGATE_RATE_LIMIT_MCP_AUTH_FAILURES: '5',
  })
  const { mintToken } = await import('../../src/keys/format.js')
  const { user, account } = await createUser(app, 'alice@example.com')
  const good = await createKey(app, { userId: user.id, accountId: account.id })
  const call = (authorization: string, ip = '10.0.0.7') =>
    app.inject({
      method: 'POST',
      url: '/mcp',
      remoteAddress: ip,
      headers: { ...INJECT_HEADERS, authorization },
      payload: rpc('tools/list'),
    })
  const codes: number[] = []
  for (let i = 0; i < 8; i++) codes.push((await call(`Bearer ${mintToken('kg_').token}`)).statusCode)
  t.same(codes, [401, 401, 401, 401, 401, 429, 429, 429], 'made-up, well-formed keys: 5 failures, then 429')
  const limited = await call('Bearer not-a-key')
  t.equal(limited.statusCode, 429, 'malformed tokens count too')
  t.same(limited.json(), {
    error: 'too_many_requests',
    error_description: `too many requests with invalid access tokens; try again in ${limited.headers['retry-after']} s`,
  })
  t.equal((await call(`Bearer ${good.token}`)).statusCode, 200, 'a valid key from the same address is served')
  t.equal((await call(`Bearer ${mintToken('kg_').token}`, '10.0.0.8')).statusCode, 401, 'another address is unaffected')
  t.equal((await call('', '10.0.0.7')).statusCode, 401, 'no token at all (discovery) is not a failure to count')
})
