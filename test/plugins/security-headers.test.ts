// Every answer carries helmet's security headers and a request id, whatever ends the
// request: the headers are computed once from helmet's own middleware (app.ts headersOf),
// and must be the ones that middleware sets on a real response.
import { createServer } from 'node:http'
import helmet from 'helmet'
import t from 'tap'
import { helmetOptions } from '../../src/server/app.js'
import { build } from '../helper.js'
import { INJECT_HEADERS } from '../support/mcp.js'

/** What helmet's middleware sets on a real Node response, read over HTTP. */
async function helmetOnARealResponse(options: ReturnType<typeof helmetOptions>): Promise<Record<string, string>> {
  const middleware = helmet(options)
  const server = createServer((req, res) => middleware(req, res, () => res.end('ok')))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as { port: number }
    const res = await fetch(`http://127.0.0.1:${port}/`)
    const skip = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'])
    return Object.fromEntries([...res.headers].filter(([name]) => !skip.has(name)))
  } finally {
    server.close()
  }
}

for (const issuer of ['http://localhost:3000', 'https://keygate.example']) {
  t.test(`security headers and a request id on every kind of answer (${issuer})`, async (t) => {
    const { app, config } = await build(t, { KEYGATE_ISSUER: issuer })
    const expected = await helmetOnARealResponse(helmetOptions(config))
    t.ok(Object.keys(expected).length >= 10, Object.keys(expected).join(', '))
    const host = new URL(issuer).host
    const answers = {
      'a health check': await app.inject({ url: '/healthz' }),
      '/mcp without a key (401)': await app.inject({
        method: 'POST',
        url: '/mcp',
        headers: { ...INJECT_HEADERS, host },
        payload: '{}',
      }),
      'a token request without a grant (400)': await app.inject({ method: 'POST', url: '/token', payload: {} }),
      'an unknown address (404 JSON)': await app.inject({ url: '/nowhere' }),
      'an unknown address from a browser (404 page)': await app.inject({
        url: '/nowhere',
        headers: { accept: 'text/html' },
      }),
      'a registration too large (413)': await app.inject({
        method: 'POST',
        url: '/register',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ redirect_uris: ['x'.repeat(300_000)] }),
      }),
      'the sign-in page': await app.inject({ url: '/login' }),
    }
    for (const [name, res] of Object.entries(answers)) {
      for (const [header, value] of Object.entries(expected))
        t.equal(res.headers[header], value, `${name} (${res.statusCode}): ${header}`)
      t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/, `${name}: a request id`)
    }
  })
}
