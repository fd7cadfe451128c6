// Client ID metadata documents against a real keygate process: a document that declares a
// large body, or whose body trickles in past the time-out, is refused with the readable
// error page, and the process goes on answering.

import { createServer, type ServerResponse } from 'node:http'
import t from 'tap'
import { authorizeQuery, pkce, type Test, tempDir } from '../helper.js'
import { freePort } from '../support/http.js'
import { startInstances } from '../support/instances.js'

async function hostileDocuments(t: Test) {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const open = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    open.add(res)
    res.on('close', () => open.delete(res))
    if (req.url === '/declared-6kb.json') {
      // Arrives whole with the headers: the request is complete before the body is discarded.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(6000) })
      return res.end('x'.repeat(6000))
    }
    if (req.url === '/declared-big.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100_000) })
      return res.end('x'.repeat(100_000))
    }
    if (req.url === '/declared-big-slow.json') {
      // Declares more than 5 KB but sends nothing yet: the body is unread when refused.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100_000) })
      return res.write('{')
    }
    if (req.url === '/trickle.json') {
      res.writeHead(200, { 'content-type': 'application/json' })
      const timer = setInterval(() => res.write(' '), 100)
      res.on('close', () => clearInterval(timer))
      return res.write('{')
    }
    return res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return base
}

t.test('hostile metadata documents get the refusal page and the process stays up', async (t) => {
  const docs = await hostileDocuments(t)
  const [instance] = await startInstances(t, tempDir(t), 1, {
    KEYGATE_CIMD_ALLOW_PRIVATE: 'true',
    KEYGATE_CIMD_TIMEOUT_MS: '500',
  })
  const { challenge } = pkce()
  const cases: Array<[string, string]> = [
    ['/declared-6kb.json', 'it is larger than 5 KB'],
    ['/declared-big.json', 'it is larger than 5 KB'],
    ['/declared-big-slow.json', 'it is larger than 5 KB'],
    ['/trickle.json', 'it did not answer within 500 ms'],
  ]
  for (const [path, reason] of cases) {
    const url = `${instance!.base}/authorize?${authorizeQuery(`${docs}${path}`, challenge).replaceAll('localhost%3A3000', `localhost%3A${instance!.port}`)}`
    const res = await fetch(url, { redirect: 'manual' })
    const body = await res.text()
    t.equal(res.status, 400, `${path}: 400`)
    t.match(res.headers.get('content-type'), /text\/html/, `${path}: a page`)
    t.match(body, `client metadata document at ${docs}${path} was refused: ${reason}.`, path)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const health = await fetch(`${instance!.base}/healthz`)
    t.equal(health.status, 200, `${path}: the process still answers`)
    t.equal(instance!.child.exitCode, null, `${path}: the process has not exited`)
  }
})
