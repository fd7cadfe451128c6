// Client ID metadata documents, served by a local test server.

import { createServer } from 'node:http'
import t from 'tap'
import {
  approve,
  authorizeQuery,
  build,
  createUser,
  pkce,
  REDIRECT_URI,
  sessionCookie,
  tokenRequest,
} from '../helper.js'
import { freePort } from '../support/http.js'

type Test = { teardown(fn: () => unknown): void }

async function documentServer(t: Test, extraRedirect?: string) {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const fetches: string[] = []
  const doc = (path: string, over: Record<string, unknown> = {}) =>
    JSON.stringify({
      client_id: `${base}${path}`,
      client_name: 'Metadata Client',
      redirect_uris: [REDIRECT_URI, ...(extraRedirect ? [extraRedirect] : [])],
      ...over,
    })
  const agents: Array<string | undefined> = []
  const server = createServer((req, res) => {
    fetches.push(req.url!)
    agents.push(req.headers['user-agent'])
    const path = req.url!
    const json = (body: string, headers: Record<string, string> = {}) =>
      res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(body)
    if (path === '/good.json') return json(doc(path), { 'cache-control': 'max-age=600' })
    if (path === '/mismatch.json') return json(doc(path, { client_id: `${base}/other.json` }))
    if (path === '/noname.json') return json(doc(path, { client_name: undefined }))
    if (path === '/nouris.json') return json(doc(path, { redirect_uris: [] }))
    if (path === '/big.json') return json(doc(path, { padding: 'x'.repeat(6000) }))
    if (path === '/chunked-big.json') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write(doc(path).slice(0, -1))
      res.end(`,"p":"${'y'.repeat(6000)}"}`)
      return
    }
    if (path === '/slow.json') {
      setTimeout(() => json(doc(path)), 1500)
      return
    }
    if (path.startsWith('/long/')) return json(doc(path))
    if (path === '/redirect.json') return res.writeHead(302, { location: '/good.json' }).end()
    if (path === '/notjson.json') return res.writeHead(200).end('<html>')
    if (path === '/secret.json') return json(doc(path, { token_endpoint_auth_method: 'client_secret_basic' }))
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
  return { base, port, fetches, agents }
}

t.test('a metadata document completes a full flow, and is cached', async (t) => {
  const docs = await documentServer(t)
  const { app } = await build(t, { KEYGATE_CIMD_ALLOW_PRIVATE: 'true', KEYGATE_CIMD_TIMEOUT_MS: '500' })
  t.equal(
    (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json().client_id_metadata_document_supported,
    true,
  )
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const clientId = `${docs.base}/good.json`
  const { verifier, challenge } = pkce()
  const page = await app.inject({ url: `/authorize?${authorizeQuery(clientId, challenge)}`, headers: { cookie } })
  t.equal(page.statusCode, 200)
  t.match(page.body, /Metadata Client/)
  t.match(page.body, new RegExp(`Client identity published by <strong>127\\.0\\.0\\.1:${docs.port}</strong>`))
  const res = await approve(app, cookie, authorizeQuery(clientId, challenge))
  const code = new URL(res.headers.location as string).searchParams.get('code')!
  const token = await tokenRequest(app, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
  })
  t.equal(token.statusCode, 200)
  t.equal(docs.fetches.filter((f) => f === '/good.json').length, 1, 'fetched once, then cached (max-age=600)')
  const wrongRedirect = await app.inject({
    url: `/authorize?${authorizeQuery(clientId, challenge, { redirect_uri: 'https://evil.example/cb' })}`,
    headers: { cookie },
  })
  t.equal(wrongRedirect.statusCode, 400, 'a redirect URI not in the document')
  t.match(wrongRedirect.body, /The redirect_uri is not registered for this application/)
  t.equal(wrongRedirect.headers.location, undefined)
})

t.test('bad documents are refused with a clear error page, never a redirect', async (t) => {
  const docs = await documentServer(t)
  const { app } = await build(t, { KEYGATE_CIMD_ALLOW_PRIVATE: 'true', KEYGATE_CIMD_TIMEOUT_MS: '500' })
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const { challenge } = pkce()
  const cases: Array<[string, string]> = [
    ['/mismatch.json', 'its client_id does not equal its URL'],
    ['/noname.json', 'it has no client_name (1-200 characters)'],
    ['/nouris.json', 'it has no redirect_uris (1-10 strings)'],
    ['/big.json', 'it is larger than 5 KB'],
    ['/chunked-big.json', 'it is larger than 5 KB'],
    ['/slow.json', 'it did not answer within 500 ms'],
    ['/redirect.json', 'it answered with a redirect, and redirects are not followed'],
    ['/notjson.json', 'it is not valid JSON'],
    ['/missing.json', 'it answered HTTP 404'],
    ['/secret.json', 'token_endpoint_auth_method client_secret_basic is not supported (only &quot;none&quot;)'],
    // Longer than any database stores a client_id (the document itself would be fine).
    [`/long/${'l'.repeat(520)}.json`, 'its URL is longer than 512 characters'],
  ]
  for (const [path, reason] of cases) {
    const res = await app.inject({
      url: `/authorize?${authorizeQuery(`${docs.base}${path}`, challenge)}`,
      headers: { cookie },
    })
    t.equal(res.statusCode, 400, path)
    t.equal(res.headers.location, undefined, `${path}: no redirect`)
    t.match(res.body, `client metadata document at ${docs.base}${path} was refused: ${reason}.`, path)
  }
  t.notOk(docs.fetches.includes('/good.json'), 'the redirect was not followed')
  t.notOk(
    docs.fetches.some((f) => f.startsWith('/long/')),
    'a URL too long to be a client_id is not fetched',
  )
})

t.test('private addresses are refused when the development setting is off', async (t) => {
  const docs = await documentServer(t)
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const { challenge } = pkce()
  const cases: Array<[string, string]> = [
    [`https://127.0.0.1:${docs.port}/good.json`, 'its address is not a public unicast address'],
    [`https://[::1]:${docs.port}/good.json`, 'its address is not a public unicast address'],
    [`https://localhost:${docs.port}/good.json`, 'localhost resolves to an address that is not public unicast'],
  ]
  for (const [clientId, reason] of cases) {
    const res = await app.inject({ url: `/authorize?${authorizeQuery(clientId, challenge)}`, headers: { cookie } })
    t.equal(res.statusCode, 400, clientId)
    t.match(res.body, `was refused: ${reason}.`, clientId)
  }
  const http = await app.inject({
    url: `/authorize?${authorizeQuery(`${docs.base}/good.json`, challenge)}`,
    headers: { cookie },
  })
  t.match(
    http.body,
    /not registered with this server/,
    'http client ids are not metadata documents outside development',
  )
  t.same(docs.fetches, [], 'nothing was fetched')
})

t.test('only public unicast addresses may be fetched (an allow-list)', async (t) => {
  const { isPublicAddress } = await import('../../src/oauth/guarded-fetch.js')
  const refused = [
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '127.0.0.1',
    '169.254.169.254',
    '172.16.0.1',
    '192.168.1.1',
    '192.0.0.8',
    '192.0.2.10',
    '198.51.100.7',
    '203.0.113.9', // IETF protocol assignments and documentation
    '198.18.0.1',
    '240.0.0.1',
    '255.255.255.255',
    '224.0.0.1',
    '192.88.99.1',
    '::',
    '::1',
    'fe80::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '2002:7f00:1::1', // 6to4 wrapping 127.0.0.1
    '2001::1', // Teredo
    '2001:db8::1', // documentation
    '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::127.0.0.1',
    '100::1',
    '3fff::1',
    '5f00::1',
    'not an address',
    '',
  ]
  for (const address of refused) t.equal(isPublicAddress(address), false, `${address || '(empty)'} is refused`)
  for (const address of [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.215.14',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
  ]) {
    t.equal(isPublicAddress(address), true, `${address} is allowed`)
  }
})

t.test('a refused document is remembered, and requests for one document share one fetch', async (t) => {
  const docs = await documentServer(t)
  const { app } = await build(t, { KEYGATE_CIMD_ALLOW_PRIVATE: 'true', KEYGATE_CIMD_TIMEOUT_MS: '500' })
  const { challenge } = pkce()
  const authorize = (path: string) =>
    app.inject({ url: `/authorize?${authorizeQuery(`${docs.base}${path}`, challenge)}` })
  // Anonymous requests for a refused document: one fetch, not one each.
  for (let i = 0; i < 30; i++) {
    const res = await authorize('/missing.json')
    t.equal(res.statusCode, 400)
    t.match(res.body, 'was refused: it answered HTTP 404.')
  }
  t.equal(docs.fetches.filter((f) => f === '/missing.json').length, 1, '30 requests for a refused document: 1 fetch')
  // Past the minute a refusal is remembered, it is fetched again (the client may have fixed it).
  app.now = (
    (base) => () =>
      base + 61
  )(app.now())
  await authorize('/missing.json')
  t.equal(docs.fetches.filter((f) => f === '/missing.json').length, 2, 'fetched again after 60 s')
  // 20 at once for a document not yet cached: one fetch between them.
  const answers = await Promise.all(Array.from({ length: 20 }, () => authorize('/good.json')))
  t.ok(
    answers.every((r) => r.statusCode === 302),
    'each is sent to sign in',
  )
  t.equal(docs.fetches.filter((f) => f === '/good.json').length, 1, '20 concurrent requests: 1 fetch')
})

t.test('keygate names itself when it fetches a metadata document', async (t) => {
  const docs = await documentServer(t)
  const { app } = await build(t, { KEYGATE_CIMD_ALLOW_PRIVATE: 'true', KEYGATE_CIMD_TIMEOUT_MS: '500' })
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const { challenge } = pkce()
  await app.inject({ url: `/authorize?${authorizeQuery(`${docs.base}/good.json`, challenge)}`, headers: { cookie } })
  t.match(docs.agents, [/^keygate\/\d+\.\d+\.\d+ \(\+http:\/\/localhost:3000\)$/])
})

t.test('closed registration closes metadata documents too; a client known before keeps working', async (t) => {
  const docs = await documentServer(t)
  const { app } = await build(t, {
    KEYGATE_CIMD_ALLOW_PRIVATE: 'true',
    KEYGATE_CIMD_TIMEOUT_MS: '500',
    KEYGATE_REGISTRATION: 'closed',
  })
  const metadata = (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json()
  t.equal(metadata.client_id_metadata_document_supported, false, 'not advertised')
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const { challenge } = pkce()
  const fresh = await app.inject({
    url: `/authorize?${authorizeQuery(`${docs.base}/good.json`, challenge)}`,
    headers: { cookie },
  })
  t.equal(fresh.statusCode, 400)
  t.match(fresh.body, 'its registration is closed')
  t.same(docs.fetches, [], 'nothing fetched')
  const known = `${docs.base}/known.json`
  await app.store.clients.upsert(
    {
      clientId: known,
      clientName: 'Known Before',
      redirectUris: [REDIRECT_URI],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      metadata: { client_name: 'Known Before', redirect_uris: [REDIRECT_URI] },
      source: 'cimd',
    },
    app.now(),
  )
  const page = await app.inject({ url: `/authorize?${authorizeQuery(known, challenge)}`, headers: { cookie } })
  t.equal(page.statusCode, 200)
  t.match(page.body, 'Known Before')
  t.same(docs.fetches, [], 'still nothing fetched')
})
