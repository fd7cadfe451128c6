import t from 'tap'
import { build, createKey, createUser, cookiesOf, csrfOf } from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

const LIMITS = { KEYGATE_RATE_LIMIT_TOKEN: '3', KEYGATE_RATE_LIMIT_REGISTER: '2', KEYGATE_RATE_LIMIT_LOGIN: '2', KEYGATE_RATE_LIMIT_AUTHORIZE: '2', KEYGATE_RATE_LIMIT_MCP: '3', KEYGATE_RATE_LIMIT_WINDOW_SECONDS: '60' }

t.test('per IP on /token and /register: 429, Retry-After, OAuth JSON; other IPs unaffected', async (t) => {
  const { app } = await build(t, LIMITS)
  const token = (ip: string) => app.inject({ method: 'POST', url: '/token', remoteAddress: ip, payload: { grant_type: 'password' } })
  for (let i = 0; i < 3; i++) t.equal((await token('10.0.0.1')).statusCode, 400)
  const limited = await token('10.0.0.1')
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.ok(Number(limited.headers['retry-after']) <= 60)
  t.same(limited.json(), { error: 'too_many_requests', error_description: `too many requests; try again in ${limited.headers['retry-after']} s` })
  t.equal(limited.headers['cache-control'], 'no-store')
  t.equal((await token('10.0.0.2')).statusCode, 400, 'another IP is not limited')
  const reg = (ip: string) => app.inject({ method: 'POST', url: '/register', remoteAddress: ip, payload: { redirect_uris: ['https://a.example/cb'] } })
  t.equal((await reg('10.0.0.1')).statusCode, 201)
  t.equal((await reg('10.0.0.1')).statusCode, 201)
  t.equal((await reg('10.0.0.1')).statusCode, 429)
  t.equal((await reg('10.0.0.3')).statusCode, 201)
})

t.test('per IP on /login and /authorize: a readable page', async (t) => {
  const { app } = await build(t, LIMITS)
  const page = await app.inject({ method: 'GET', url: '/login' })
  const attempt = () => app.inject({ method: 'POST', url: '/login', remoteAddress: '10.0.0.9', headers: { cookie: cookiesOf(page) }, payload: { csrf: csrfOf(page.body), email: 'x@example.com', password: 'y' } })
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
  const call = (key: string) => app.inject({ method: 'POST', url: '/mcp', headers: { ...INJECT_HEADERS, authorization: `Bearer ${key}` }, payload: rpc('tools/list') })
  for (let i = 0; i < 3; i++) t.equal((await call(a.raw)).statusCode, 200)
  const limited = await call(a.raw)
  t.equal(limited.statusCode, 429)
  t.ok(limited.headers['retry-after'])
  t.equal(limited.json().error, 'too_many_requests')
  t.equal((await call(b.raw)).statusCode, 200, 'another key from the same IP is unaffected')
})
