import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../src/server/app.js'
import { build, codeFor, createKey, createUser, REDIRECT_URI, tempDir, testConfig, tokenRequest } from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

t.test('/healthz and /readyz', async (t) => {
  const { app } = await build(t)
  const health = await app.inject({ url: '/healthz' })
  t.same(health.json(), { status: 'ok' })
  t.same((await app.inject({ url: '/readyz' })).json(), { status: 'ready', tools: 4 })
  await app.store.close()
  const down = await app.inject({ url: '/readyz' })
  t.equal(down.statusCode, 503, 'not ready when the database does not answer')
  t.same(down.json(), { status: 'unavailable', error: 'the database did not answer' })
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'but the process is up')
})

t.test("/readyz: not ready while the upstream's tools cannot be loaded, ready once they can", async (t) => {
  const { createServer } = await import('node:http')
  const { DEMO_OPENAPI } = await import('../../src/demo/openapi.js')
  let serving = false
  const upstream = createServer((_req, res) => {
    res.writeHead(serving ? 200 : 502, { 'content-type': 'application/json' })
    res.end(serving ? JSON.stringify(DEMO_OPENAPI) : '{"error":"bad gateway"}')
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())))
  const base = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/api/v1`
  const { app } = await build(t, { KEYGATE_UPSTREAM: base })
  const down = await app.inject({ url: '/readyz' })
  t.equal(down.statusCode, 503)
  t.match(down.json().error, /^the upstream's tools could not be loaded/)
  t.notOk(down.body.includes('127.0.0.1'), "the public answer does not name the upstream's address")
  serving = true
  t.same((await app.inject({ url: '/readyz' })).json(), { status: 'ready', tools: 4 }, 'tried again, and ready')

  // Nothing listens on the port: the reason names the error's code.
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as { port: number }).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const refused = await build(t, { KEYGATE_UPSTREAM: `http://127.0.0.1:${port}/api/v1` })
  const answer = await refused.app.inject({ url: '/readyz' })
  t.same(
    [answer.statusCode, answer.json().error],
    [503, "the upstream's tools could not be loaded (ECONNREFUSED); the log has the details"],
  )
})

t.test(
  '/metrics: off by default; on, it counts requests, token exchanges, replays, bearer checks, upstream latency',
  async (t) => {
    const off = await build(t)
    t.equal((await off.app.inject({ url: '/metrics' })).statusCode, 404)
    const { app } = await build(t, { KEYGATE_METRICS: 'true' })
    const { code, verifier, client } = await codeFor(app)
    const form = {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: client.client_id,
      redirect_uri: REDIRECT_URI,
    }
    t.equal((await tokenRequest(app, form)).statusCode, 200)
    t.equal((await tokenRequest(app, form)).statusCode, 400)
    const { user, account } = await createUser(app, 'bob@example.com')
    const key = await createKey(app, { userId: user.id, accountId: account.id })
    await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...INJECT_HEADERS, authorization: `Bearer ${key.token}` },
      payload: rpc('tools/list'),
    })
    await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...INJECT_HEADERS, authorization: 'Bearer kg_bad' },
      payload: rpc('tools/list'),
    })
    await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...INJECT_HEADERS, authorization: `Bearer ${key.token}` },
      payload: rpc('tools/call', { name: 'list_notes', arguments: {} }),
    })
    const res = await app.inject({ url: '/metrics' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain/)
    const text = res.body
    t.match(text, /keygate_token_requests_total\{grant_type="authorization_code",outcome="ok"\} 1/)
    t.match(text, /keygate_token_requests_total\{grant_type="authorization_code",outcome="invalid_grant"\} 1/)
    t.match(text, /keygate_replays_detected_total\{kind="authorization_code"\} 1/)
    t.match(text, /keygate_bearer_checks_total\{outcome="ok"\} 2/)
    t.match(text, /keygate_bearer_checks_total\{outcome="malformed"\} 1/)
    t.match(text, /keygate_http_requests_total\{route="\/token",method="POST",status="200"\} 1/)
    t.match(
      text,
      /keygate_upstream_request_duration_seconds_count\{outcome="(ok|error)"\} 1/,
      'the tool call (no server listening: an error result) is timed',
    )
    t.notMatch(text, new RegExp(key.token), 'no secrets')
  },
)

t.test('structured JSON logs with a request id, echoed in X-Request-Id', async (t) => {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  const app = await buildApp(testConfig(tempDir(t), { KEYGATE_TRUST_PROXY: 'true' }), { logger: { stream } })
  t.teardown(() => app.close())
  const a = await app.inject({ url: '/healthz' })
  const b = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'from-the-proxy-123' } })
  t.match(a.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.equal(b.headers['x-request-id'], 'from-the-proxy-123', 'a request id from the proxy is kept')
  const parsed = lines.map((l) => JSON.parse(l))
  t.ok(parsed.some((l) => l.reqId === a.headers['x-request-id'] && l.msg === 'request completed'))
  t.ok(parsed.some((l) => l.reqId === 'from-the-proxy-123'))
})
