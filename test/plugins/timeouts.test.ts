// Slow clients are cut off: a body or a header that dribbles in gets 408 and a closed
// connection within the configured time-outs (Node checks once a second), and keygate
// keeps serving others. Request ids from clients are trusted only from a trusted proxy.

import { connect } from 'node:net'
import t from 'tap'
import { build } from '../helper.js'
import { listen } from '../support/http.js'

/** Opens a connection, writes `head`, then one byte of `drip` every 100 ms; resolves with what came back when the server closes. */
function dribble(
  port: number,
  head: string,
  drip: string,
  giveUpMs = 8000,
): Promise<{ answer: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    let i = 0
    const timer = setInterval(() => {
      if (!socket.writable) return
      socket.write(drip[i++ % drip.length]!)
    }, 100)
    const fail = setTimeout(() => {
      clearInterval(timer)
      socket.destroy()
      reject(new Error(`still open after ${giveUpMs} ms`))
    }, giveUpMs)
    socket.on('data', (d) => (answer += String(d)))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearInterval(timer)
      clearTimeout(fail)
      resolve({ answer, closedAfterMs: Date.now() - started })
    })
    socket.write(head)
  })
}

t.test('a dribbling body and a dribbling header are cut off; others are served', async (t) => {
  const { app, base } = await listen(t, { KEYGATE_REQUEST_TIMEOUT_MS: '1500', KEYGATE_HEADERS_TIMEOUT_MS: '1000' })
  const port = Number(new URL(base).port)
  const slowBody = dribble(
    port,
    'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000\r\n\r\n',
    'grant_type=x&',
  )
  const slowHeader = dribble(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ', 'aaaaaaaa')
  const health = await fetch(`${base}/healthz`)
  t.equal(health.status, 200, 'others are served meanwhile')
  const [body, header] = await Promise.all([slowBody, slowHeader])
  t.match(body.answer, /^HTTP\/1\.1 408/, 'the dribbling body gets 408 Request Timeout')
  t.match(header.answer, /^HTTP\/1\.1 408/, 'the dribbling header gets 408 Request Timeout')
  t.ok(body.closedAfterMs < 8000 && header.closedAfterMs < 8000, 'both connections are closed')
  t.equal(app.server.requestTimeout, 1500)
  t.equal(app.server.headersTimeout, 1000)
  t.equal(app.server.keepAliveTimeout, 5000, 'keep-alive default')
})

t.test('headers time-out above the request time-out is refused at start', async (t) => {
  const { loadConfig } = await import('../../src/config/index.js')
  t.throws(
    () =>
      loadConfig({
        KEYGATE_SECRET: 'x'.repeat(32),
        KEYGATE_REQUEST_TIMEOUT_MS: '1000',
        KEYGATE_HEADERS_TIMEOUT_MS: '2000',
      }),
    /KEYGATE_HEADERS_TIMEOUT_MS: must not exceed KEYGATE_REQUEST_TIMEOUT_MS/,
  )
})

t.test('X-Request-Id is trusted only behind a trusted proxy, and only short and plain', async (t) => {
  const direct = await build(t)
  const spoof = await direct.app.inject({ url: '/healthz', headers: { 'x-request-id': 'attacker-chosen' } })
  t.not(spoof.headers['x-request-id'], 'attacker-chosen', 'not trusted without KEYGATE_TRUST_PROXY')
  t.match(spoof.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const proxied = await build(t, { KEYGATE_TRUST_PROXY: 'true' })
  t.equal(
    (await proxied.app.inject({ url: '/healthz', headers: { 'x-request-id': 'lb-123.abc:9' } })).headers[
      'x-request-id'
    ],
    'lb-123.abc:9',
    'a plain id from the proxy is kept',
  )
  for (const bad of ['x'.repeat(129), 'has space', 'new\u2028line', '<script>', 'é']) {
    const res = await proxied.app.inject({ url: '/healthz', headers: { 'x-request-id': bad } })
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/, `${encodeURIComponent(bad.slice(0, 20))} is replaced`)
  }
})
