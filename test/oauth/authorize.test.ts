import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { loadConfig } from '../../src/config/index.js'
import {
  approve,
  authorizeQuery,
  build,
  cookiesOf,
  createUser,
  csrfOf,
  pkce,
  REDIRECT_URI,
  registerClient,
  sessionCookie,
  tempDir,
  testEnv,
} from '../helper.js'

/** A client the operator added (source cli), public, redirected to REDIRECT_URI. */
const cliClient = (app: FastifyInstance, clientId: string, clientName: string) =>
  app.store.clients.upsert(
    {
      clientId,
      clientName,
      redirectUris: [REDIRECT_URI],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      metadata: {},
      source: 'cli',
    },
    app.now(),
  )

async function setup(t: any, env: Record<string, string> = {}) {
  const built = await build(t, env)
  const alice = await createUser(built.app, 'alice@example.com')
  const client = await registerClient(built.app, { client_name: 'Test Client' })
  const cookie = await sessionCookie(built.app, 'alice@example.com')
  return { ...built, alice, client, cookie, ...pkce() }
}

t.test('consent page and approval', async (t) => {
  const { app, client, cookie, challenge, alice } = await setup(t)
  const page = await app.inject({
    method: 'GET',
    url: `/authorize?${authorizeQuery(client.client_id, challenge)}`,
    headers: { cookie },
  })
  t.equal(page.statusCode, 200)
  t.equal(page.headers['x-frame-options'], 'DENY')
  t.match(page.headers['content-security-policy'], /frame-ancestors 'none'/)
  t.match(page.body, /Test Client/)
  t.match(page.body, /<strong class="host"><bdi>client\.example<\/bdi><\/strong>/, 'the redirect host is shown')
  t.notMatch(page.body, /role="radiogroup"/, 'no account picker with one account')
  t.match(
    page.body,
    /name="scope_choice" value="write" checked> <span><strong>write<\/strong>: Create, change and delete your data<\/span>/,
    'write is optional and ticked, with its words',
  )
  t.match(
    page.body,
    /checked disabled[^>]*> <span><strong>read<\/strong>: See your data<\/span>/,
    'read is always granted',
  )
  t.match(page.body, />Approve</)
  t.match(page.body, />Deny</)

  const res = await approve(app, cookie, authorizeQuery(client.client_id, challenge))
  t.equal(res.statusCode, 302)
  const loc = new URL(res.headers.location as string)
  t.equal(`${loc.origin}${loc.pathname}`, REDIRECT_URI)
  t.ok(loc.searchParams.get('code'))
  t.same(loc.searchParams.getAll('state'), ['st-123'], 'state echoed exactly once')
  t.equal(loc.searchParams.get('iss'), 'http://localhost:3000')
  const consent = await app.store.consents.get(alice.user.id, client.client_id)
  t.same(consent!.scopes, ['read', 'write'])
  t.equal(consent!.accountId, alice.account.id)
})

t.test('write unticked, and re-approval updates the one consent row', async (t) => {
  const { app, client, cookie, challenge, alice } = await setup(t)
  const first = await approve(app, cookie, authorizeQuery(client.client_id, challenge), { scope_choice: [] })
  t.equal(first.statusCode, 302)
  const before = await app.store.consents.get(alice.user.id, client.client_id)
  t.same(before!.scopes, ['read'])
  const code = new URL(first.headers.location as string).searchParams.get('code')!
  t.equal(JSON.parse(Buffer.from(code.split('.')[1]!, 'base64url').toString()).scope, 'read')
  await approve(app, cookie, authorizeQuery(client.client_id, challenge))
  const after = await app.store.consents.get(alice.user.id, client.client_id)
  t.same(after!.scopes, ['read', 'write'])
})

t.test('account picker with several accounts; a forged account id is refused by the database', async (t) => {
  const { app, client, cookie, challenge, alice } = await setup(t)
  const team = await app.store.accounts.create({
    name: 'Team <b>X</b>',
    kind: 'team',
    ownerId: alice.user.id,
    createdAt: app.now(),
  })
  const stranger = await createUser(app, 'mallory@example.com')
  const page = await app.inject({
    method: 'GET',
    url: `/authorize?${authorizeQuery(client.client_id, challenge)}`,
    headers: { cookie },
  })
  t.match(page.body, /role="radiogroup" aria-label="Account"/)
  t.match(page.body, /Team &lt;b&gt;X&lt;\/b&gt;/, 'account names are escaped')
  const chosen = await approve(app, cookie, authorizeQuery(client.client_id, challenge), {
    account_id: String(team.id),
  })
  t.equal(chosen.statusCode, 302)
  t.equal((await app.store.consents.get(alice.user.id, client.client_id))!.accountId, team.id)

  const forged = await approve(app, cookie, authorizeQuery(client.client_id, challenge), {
    account_id: String(stranger.account.id),
  })
  t.equal(forged.statusCode, 403)
  t.match(forged.body, /You are not a member of the account you chose/)
  t.equal(forged.headers.location, undefined)
  t.equal((await app.store.consents.get(alice.user.id, client.client_id))!.accountId, team.id, 'consent unchanged')
  const junk = await approve(app, cookie, authorizeQuery(client.client_id, challenge), { account_id: 'abc' })
  t.equal(junk.statusCode, 400)
})

t.test('client and redirect URI errors are pages, never redirects', async (t) => {
  const { app, client, cookie, challenge } = await setup(t)
  const cases: Array<[string, string]> = [
    [authorizeQuery('', challenge), 'The request has no client_id'],
    [authorizeQuery('unknown-client', challenge), 'not registered with this server'],
    [
      authorizeQuery(client.client_id, challenge, { redirect_uri: 'https://evil.example/callback' }),
      'The redirect_uri is not registered',
    ],
    [
      authorizeQuery(client.client_id, challenge, { redirect_uri: 'https://client.example/callback/../x' }),
      'The redirect_uri is not registered',
    ],
    [authorizeQuery(client.client_id, challenge, { redirect_uri: '' }), 'The request has no redirect_uri'],
    [`${authorizeQuery(client.client_id, challenge)}&client_id=other`, 'client_id must not be repeated'],
  ]
  for (const [query, text] of cases) {
    const res = await app.inject({ method: 'GET', url: `/authorize?${query}`, headers: { cookie } })
    t.equal(res.statusCode, 400, text)
    t.equal(res.headers.location, undefined, `${text}: no redirect`)
    t.match(res.headers['content-type'], /^text\/html/)
    t.match(res.body, text)
  }
})

t.test('other errors redirect to the client with error, state and iss', async (t) => {
  const { app, client, cookie, challenge } = await setup(t)
  const cases: Array<[Record<string, string>, string, string]> = [
    [{ response_type: 'token' }, 'unsupported_response_type', 'only response_type=code is supported'],
    [{ response_type: '' }, 'invalid_request', 'response_type is required'],
    [{ code_challenge: '' }, 'invalid_request', 'code_challenge is required (PKCE, RFC 7636)'],
    [{ code_challenge_method: 'plain' }, 'invalid_request', 'code_challenge_method must be S256'],
    [{ code_challenge_method: '' }, 'invalid_request', 'code_challenge_method must be S256'],
    [{ code_challenge: 'short' }, 'invalid_request', 'code_challenge must be 43 base64url characters (RFC 7636 §4.2)'],
    [{ resource: 'https://evil.example/mcp' }, 'invalid_target', 'resource must be http://localhost:3000/mcp'],
    [{ resource: 'http://localhost:3000/mcp/' }, 'invalid_target', 'resource must be http://localhost:3000/mcp'],
  ]
  for (const [extra, error, description] of cases) {
    const res = await app.inject({
      method: 'GET',
      url: `/authorize?${authorizeQuery(client.client_id, challenge, extra)}`,
      headers: { cookie },
    })
    t.equal(res.statusCode, 302, description)
    const loc = new URL(res.headers.location as string)
    t.equal(`${loc.origin}${loc.pathname}`, REDIRECT_URI)
    t.equal(loc.searchParams.get('error'), error)
    t.equal(loc.searchParams.get('error_description'), description)
    t.same(loc.searchParams.getAll('state'), ['st-123'])
    t.equal(loc.searchParams.get('iss'), 'http://localhost:3000')
    t.notOk(loc.searchParams.has('code'))
  }
})

t.test('defaults: no resource, no scope, unknown scopes', async (t) => {
  const { app, client, cookie, challenge } = await setup(t)
  const noResource = new URLSearchParams(authorizeQuery(client.client_id, challenge))
  noResource.delete('resource')
  noResource.delete('scope')
  const page = await app.inject({ method: 'GET', url: `/authorize?${noResource}`, headers: { cookie } })
  t.equal(page.statusCode, 200, 'resource and scope may be absent')
  t.match(page.body, /value="write" checked/, 'absent scope offers the catalogue')
  const odd = await app.inject({
    method: 'GET',
    url: `/authorize?${authorizeQuery(client.client_id, challenge, { scope: 'claudeai' })}`,
    headers: { cookie },
  })
  t.equal(odd.statusCode, 200, 'unknown scopes are ignored')
  t.match(odd.body, /value="write" checked/)
  const readOnly = await app.inject({
    method: 'GET',
    url: `/authorize?${authorizeQuery(client.client_id, challenge, { scope: 'read claudeai' })}`,
    headers: { cookie },
  })
  t.notMatch(readOnly.body, /value="write"/, 'only requested scopes are offered')
  const res = await approve(app, cookie, noResource.toString())
  const code = new URL(res.headers.location as string).searchParams.get('code')!
  t.equal(
    JSON.parse(Buffer.from(code.split('.')[1]!, 'base64url').toString()).res,
    'http://localhost:3000/mcp',
    'resource defaults to the MCP resource',
  )
})

t.test('loopback redirect URIs match on any port (RFC 8252 §7.3)', async (t) => {
  const { app, cookie, challenge } = await setup(t)
  const client = await registerClient(app, {
    client_name: 'Claude Code',
    redirect_uris: ['http://localhost/callback', 'http://127.0.0.1:33418/'],
  })
  for (const [uri, ok] of [
    ['http://localhost:54321/callback', true],
    ['http://127.0.0.1:1234/', true],
    ['http://localhost:54321/other', false],
    ['http://127.0.0.1:1234/?x=1', false],
    ['http://[::1]:54321/callback', false],
  ] as const) {
    const res = await app.inject({
      method: 'GET',
      url: `/authorize?${authorizeQuery(client.client_id, challenge, { redirect_uri: uri })}`,
      headers: { cookie },
    })
    t.equal(res.statusCode, ok ? 200 : 400, uri)
  }
  const https = await registerClient(app, { redirect_uris: ['https://app.example:8443/cb'] })
  const port = await app.inject({
    method: 'GET',
    url: `/authorize?${authorizeQuery(https.client_id, challenge, { redirect_uri: 'https://app.example:9443/cb' })}`,
    headers: { cookie },
  })
  t.equal(port.statusCode, 400, 'non-loopback ports must match exactly')
})

t.test('sign-in first, then back to the same request', async (t) => {
  const { app, client, challenge } = await setup(t)
  const query = authorizeQuery(client.client_id, challenge)
  const res = await app.inject({ method: 'GET', url: `/authorize?${query}` })
  t.equal(res.statusCode, 302)
  const loc = new URL(res.headers.location as string, 'http://localhost:3000')
  t.equal(loc.pathname, '/login')
  t.equal(loc.searchParams.get('return_to'), `/authorize?${query}`)
})

t.test('consent POST: CSRF, session and deny', async (t) => {
  const { app, client, cookie, challenge } = await setup(t)
  const page = await app.inject({
    method: 'GET',
    url: `/authorize?${authorizeQuery(client.client_id, challenge)}`,
    headers: { cookie },
  })
  const params = Object.fromEntries(new URLSearchParams(authorizeQuery(client.client_id, challenge)))
  const post = (form: Record<string, string>, headers: Record<string, string> = { cookie }) =>
    app.inject({
      method: 'POST',
      url: '/authorize',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(form).toString(),
    })
  const noCsrf = await post({ ...params, decision: 'approve', account_id: '1' })
  t.equal(noCsrf.statusCode, 403)
  t.match(noCsrf.body, /CSRF/)
  t.equal(noCsrf.headers.location, undefined)
  const wrongCsrf = await post({ ...params, decision: 'approve', account_id: '1', csrf: 'forged' })
  t.equal(wrongCsrf.statusCode, 403)
  const noCookie = await post({ ...params, decision: 'approve', account_id: '1', csrf: csrfOf(page.body) }, {})
  t.equal(noCookie.statusCode, 403, 'a cross-site POST has no session cookie')
  const deny = await post({ ...params, decision: 'deny', csrf: csrfOf(page.body) })
  t.equal(deny.statusCode, 302)
  const loc = new URL(deny.headers.location as string)
  t.equal(loc.searchParams.get('error'), 'access_denied')
  t.equal(loc.searchParams.get('state'), 'st-123')
  t.equal(loc.searchParams.get('iss'), 'http://localhost:3000')
  t.notOk(loc.searchParams.has('code'))
  const tampered = await post({
    ...params,
    redirect_uri: 'https://evil.example/cb',
    decision: 'approve',
    account_id: '1',
    csrf: csrfOf(page.body),
  })
  t.equal(tampered.statusCode, 400, 'the POST re-validates the redirect URI')
  t.equal(tampered.headers.location, undefined)
})

t.test('a client name cannot reorder the consent page: cleaned and isolated in <bdi>', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  // A row stored as it was before names were cleaned at registration.
  await cliClient(app, 'legacy-client', 'Claude\u202E\u2066moc.live\u2069')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const { challenge } = pkce()
  const page = await app.inject({
    url: `/authorize?${authorizeQuery('legacy-client', challenge)}`,
    headers: { cookie },
  })
  t.equal(page.statusCode, 200)
  t.match(page.body, '<h1><bdi class="client-name">Claudemoc.live</bdi> wants to use your keygate account</h1>')
  t.notMatch(page.body, /[\u202A-\u202E\u2066-\u2069]/, 'no bidi control anywhere on the page')
})

t.test('a scope catalogue in one file: words on the consent page and dashboard, opt-in scopes unticked', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'scopes.json')
  writeFileSync(
    file,
    JSON.stringify([
      { name: 'notes:read', description: 'Read your notes', default: 'always' },
      { name: 'notes:write', description: 'Write and delete notes', default: 'on' },
      { name: 'ai', description: 'Allow AI features', default: 'off' },
    ]),
  )
  const { app } = await build(t, { KEYGATE_SCOPES_FILE: file })
  t.same(app.config.scopes, ['notes:read', 'notes:write', 'ai'])
  t.same(app.config.alwaysScopes, ['notes:read'])
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const client = await registerClient(app)
  const { challenge } = pkce()
  const page = await app.inject({
    url: `/authorize?${authorizeQuery(client.client_id, challenge, { scope: 'notes:read notes:write ai' })}`,
    headers: { cookie },
  })
  t.match(page.body, /value="notes:write" checked> <span><strong>notes:write<\/strong>: Write and delete notes<\/span>/)
  t.match(
    page.body,
    /value="ai"> <span><strong>ai<\/strong>: Allow AI features<\/span> <span class="muted">\(optional\)<\/span>/,
    'opt-in: unticked',
  )
  // Approved without ticking it: not granted.
  const approved = await approve(
    app,
    cookie,
    authorizeQuery(client.client_id, challenge, { scope: 'notes:read notes:write ai' }),
    {
      scope_choice: 'notes:write',
    },
  )
  t.equal(approved.statusCode, 302)
  const userId = (await app.store.users.byEmail('alice@example.com'))!.id
  t.same((await app.store.consents.get(userId, client.client_id))!.scopes, ['notes:read', 'notes:write'])
  const dashboard = await app.inject({ url: '/dashboard', headers: { cookie } })
  t.match(dashboard.body, /<dt>ai<\/dt><dd>Allow AI features<\/dd>/, 'the dashboard says what each scope means')

  const both = testConfigError({ KEYGATE_SCOPES_FILE: file, KEYGATE_SCOPES: 'read' })
  t.equal(both, 'KEYGATE_SCOPES_FILE: holds the scopes: unset KEYGATE_SCOPES and KEYGATE_ALWAYS_SCOPES')
  writeFileSync(file, JSON.stringify([{ name: 'a b' }]))
  t.match(
    testConfigError({ KEYGATE_SCOPES_FILE: file }),
    /^KEYGATE_SCOPES_FILE: .*scopes\.json: 0\.name: must be an RFC 6749 scope token$/,
  )
  writeFileSync(file, JSON.stringify([{ name: 'x', default: 'maybe' }]))
  t.match(testConfigError({ KEYGATE_SCOPES_FILE: file }), /^KEYGATE_SCOPES_FILE: .*: 0\.default: /)

  function testConfigError(env: Record<string, string>): string {
    try {
      loadConfig(testEnv(dir, env), { generateSecret: false })
      return 'no error'
    } catch (err) {
      return (err as Error).message
    }
  }
})

t.test('a denial is in the audit log of the account chosen, or of the person’s own', async (t) => {
  const { app, alice, client, cookie, challenge } = await setup(t)
  const team = await app.store.accounts.create({
    name: 'Team',
    kind: 'team',
    ownerId: alice.user.id,
    createdAt: app.now(),
  })
  const deny = (form: Record<string, string>) =>
    approve(app, cookie, authorizeQuery(client.client_id, challenge), { decision: 'deny', ...form })
  t.equal((await deny({ account_id: String(team.id) })).statusCode, 302)
  const teamLog = await app.store.audit.list(team.id, { limit: 5 })
  t.match(teamLog[0], { event: 'consent_denied', subject: client.client_id, actorUserId: alice.user.id })
  await deny({ account_id: '' })
  await deny({ account_id: '999999' })
  const own = (await app.store.audit.list(alice.account.id, { limit: 5 })).filter((e) => e.event === 'consent_denied')
  t.equal(own.length, 2, 'no account chosen, or one not theirs: their personal account')
})

t.test('"Sign out" on the consent page comes back to the same request after the next sign-in', async (t) => {
  const { app, client, challenge } = await setup(t)
  await createUser(app, 'bob@example.com')
  const page = await app.inject({ url: '/login' })
  let cookie = cookiesOf(page)
  const signedIn = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie },
    payload: {
      csrf: csrfOf(page.body),
      email: 'alice@example.com',
      password: 'correct horse battery',
      return_to: '/dashboard',
    },
  })
  cookie = cookiesOf(signedIn, cookie)
  const url = `/authorize?${authorizeQuery(client.client_id, challenge)}`
  const consent = await app.inject({ url, headers: { cookie } })
  const returnTo = /name="return_to" value="([^"]+)"/.exec(consent.body)![1]!.replaceAll('&amp;', '&')
  t.equal(returnTo, url, 'the sign-out form carries the request')
  t.match(consent.body, 'Sign out (use another account)')
  const out = await app.inject({
    method: 'POST',
    url: '/logout',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ csrf: csrfOf(consent.body), return_to: returnTo }).toString(),
  })
  t.equal(out.statusCode, 303)
  t.equal(out.headers.location, `/login?return_to=${encodeURIComponent(url)}`)
  cookie = cookiesOf(out, cookie)
  const login = await app.inject({ url: out.headers.location as string, headers: { cookie } })
  const back = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: cookiesOf(login, cookie) },
    payload: { csrf: csrfOf(login.body), email: 'bob@example.com', password: 'correct horse battery', return_to: url },
  })
  t.equal(back.statusCode, 303)
  t.equal(back.headers.location, url, 'signed in as someone else, back at the same consent')
  const bob = cookiesOf(back, cookie)
  const dashboard = await app.inject({ url: '/dashboard', headers: { cookie: bob } })
  const evil = await app.inject({
    method: 'POST',
    url: '/logout',
    headers: { cookie: bob, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ csrf: csrfOf(dashboard.body), return_to: 'https://evil.example/' }).toString(),
  })
  t.equal(evil.headers.location, '/login?return_to=%2Fdashboard', 'only local paths come back')
})

t.test('a nonce is single use per client, whatever the lengths of the client id and the nonce', async (t) => {
  const { app, cookie, challenge } = await setup(t)
  // Client ids may be 512 characters (a metadata document's URL); the used-nonce row must still fit.
  const long = await cliClient(app, `cli-${'c'.repeat(500)}`, 'Long Id')
  const withNonce = (nonce: string) =>
    approve(app, cookie, authorizeQuery(long.clientId, challenge, { scope: 'openid read', nonce }))
  const nonce = `n-${'x'.repeat(300)}`
  const first = await withNonce(`${nonce}-1`)
  t.equal(first.statusCode, 302, first.body)
  t.ok(new URL(first.headers.location as string).searchParams.get('code'), 'a code for a 512-character client id')
  // Two nonces sharing their first 300 characters are two nonces.
  const second = await withNonce(`${nonce}-2`)
  t.ok(new URL(second.headers.location as string).searchParams.get('code'), 'a nonce that differs only at its end')
  const replay = await withNonce(`${nonce}-1`)
  const back = new URL(replay.headers.location as string)
  t.equal(back.searchParams.get('error'), 'invalid_request', 'the same nonce again is refused')
  t.equal(back.searchParams.get('error_description'), 'this nonce was used before; start again')
})
