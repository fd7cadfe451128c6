// Client logos: fetched under the SSRF guard, images only, size-capped, cached, and served
// from keygate's own origin; where a client's name comes from, beside it.
import { createServer } from 'node:http'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { MAX_LOGO_BYTES } from '../../src/oauth/logo.js'
import { authorizeQuery, build, createUser, pkce, registerClient, sessionCookie } from '../helper.js'

/** A 1×1 PNG. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
)

/** A server of logos good and bad; counts requests per path. */
async function logoServer(t: { teardown(fn: () => unknown): void }) {
  const hits = new Map<string, number>()
  const server = createServer((req, res) => {
    hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1)
    if (req.url === '/good.png' || req.url === '/good.png?other')
      return res.writeHead(200, { 'content-type': 'image/png' }).end(PNG)
    if (req.url === '/page.html') return res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hi</h1>')
    if (req.url === '/liar.png') return res.writeHead(200, { 'content-type': 'image/png' }).end('<svg onload=alert(1)>')
    if (req.url === '/huge.png')
      return res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.concat([PNG, Buffer.alloc(MAX_LOGO_BYTES)]))
    if (req.url === '/moved.png') return res.writeHead(302, { location: '/good.png' }).end()
    return res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits }
}

async function clientWithLogo(app: FastifyInstance, id: string, logo: string) {
  await app.store.clients.upsert(
    {
      clientId: id,
      clientName: `App ${id}`,
      redirectUris: ['https://client.example/callback'],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      metadata: { logo_uri: logo },
      source: 'config',
    },
    app.now(),
  )
}

const consent = async (app: FastifyInstance, cookie: string, clientId: string) =>
  (await app.inject({ url: `/authorize?${authorizeQuery(clientId, pkce().challenge)}`, headers: { cookie } })).body

t.test('a logo is fetched once, checked, and served from our origin', async (t) => {
  const logos = await logoServer(t)
  const { app } = await build(t, { KEYGATE_CIMD_ALLOW_PRIVATE: 'true' })
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  await clientWithLogo(app, 'good', `${logos.base}/good.png`)
  const page = await consent(app, cookie, 'good')
  t.match(page, '<img class="client-logo" src="/logo?client_id=good"', 'the page points at our own origin')
  t.notMatch(page, logos.base, 'never at the logo host')
  t.match(page, 'Registered by the operator of this server.')
  const logo = await app.inject({ url: '/logo?client_id=good' })
  t.equal(logo.statusCode, 200)
  t.equal(logo.headers['content-type'], 'image/png')
  t.equal(logo.headers['x-content-type-options'], 'nosniff')
  t.same(logo.rawPayload, PNG)
  await app.inject({ url: '/logo?client_id=good' })
  await consent(app, cookie, 'good')
  t.equal(logos.hits.get('/good.png'), 1, 'fetched once, then cached')
})

t.test('no logo for a non-image, a liar, an oversized image, a redirect, or a private address', async (t) => {
  const logos = await logoServer(t)
  const { app } = await build(t, { KEYGATE_CIMD_ALLOW_PRIVATE: 'true' })
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  for (const [id, path] of [
    ['html', '/page.html'],
    ['liar', '/liar.png'],
    ['huge', '/huge.png'],
    ['moved', '/moved.png'],
    ['gone', '/nothing.png'],
  ] as const) {
    await clientWithLogo(app, id, `${logos.base}${path}`)
    t.notMatch(await consent(app, cookie, id), 'client-logo', `${id}: no logo on the page`)
    t.equal((await app.inject({ url: `/logo?client_id=${id}` })).statusCode, 404, `${id}: 404`)
  }
  t.equal((await app.inject({ url: '/logo?client_id=nobody' })).statusCode, 404)
  t.equal((await app.inject({ url: '/logo' })).statusCode, 404)

  // The guard as in production: a logo at a private address is never fetched.
  const guarded = await build(t)
  await createUser(guarded.app, 'alice@example.com')
  await clientWithLogo(guarded.app, 'inside', `https://127.0.0.1:${new URL(logos.base).port}/good.png`)
  t.notMatch(await consent(guarded.app, await sessionCookie(guarded.app, 'alice@example.com'), 'inside'), 'client-logo')
  t.equal((await guarded.app.inject({ url: '/logo?client_id=inside' })).statusCode, 404)
  t.equal(logos.hits.get('/good.png'), undefined, 'no request reached the private address')
})

t.test('an app registered by open registration is labelled unverified', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  const client = await registerClient(app, { client_name: 'Claude' })
  const page = await consent(app, await sessionCookie(app, 'alice@example.com'), client.client_id)
  t.match(page, /<strong>Unverified app\.<\/strong> Anyone can register an app under any name here/)
})

t.test('concurrent requests for one logo share one fetch; /logo is rate-limited', async (t) => {
  const logos = await logoServer(t)
  const { app } = await build(t, { KEYGATE_CIMD_ALLOW_PRIVATE: 'true', KEYGATE_RATE_LIMIT_AUTHORIZE: '25' })
  await clientWithLogo(app, 'good', `${logos.base}/good.png`)
  await clientWithLogo(app, 'other', `${logos.base}/good.png?other`)
  const client = (await app.store.clients.byId('other'))!
  // Twenty asked in one turn of the event loop, before any fetch could finish.
  const got = await Promise.all(Array.from({ length: 20 }, () => app.logos.get(client)))
  t.ok(
    got.every((g) => 'image' in g),
    'each gets the image',
  )
  t.equal(logos.hits.get('/good.png?other'), 1, '20 concurrent gets: 1 fetch')
  const served = await Promise.all(Array.from({ length: 20 }, () => app.inject({ url: '/logo?client_id=good' })))
  t.ok(
    served.every((r) => r.statusCode === 200),
    '20 concurrent /logo: each served',
  )
  t.equal(logos.hits.get('/good.png'), 1, '20 concurrent /logo: 1 fetch')
  const statuses: number[] = []
  for (let i = 0; i < 10; i++) statuses.push((await app.inject({ url: '/logo?client_id=good' })).statusCode)
  t.same(statuses.slice(0, 5), [200, 200, 200, 200, 200], 'within the limit')
  t.ok(
    statuses.slice(5).every((s) => s === 429),
    'past KEYGATE_RATE_LIMIT_AUTHORIZE: 429',
  )
})
