// Revocation, introspection, refresh rotation, pre-registered clients, secret rotation.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { sha256Hex } from '../../src/crypto/compare.js'
import { cleanExpired } from '../../src/plugins/cleanup.js'
import { buildApp } from '../../src/server/app.js'
import {
  approve,
  authorizeQuery,
  build,
  codeFor,
  createKey,
  createUser,
  pkce,
  REDIRECT_URI,
  registerClient,
  SECRET,
  sessionCookie,
  TestClock,
  tempDir,
  testConfig,
  tokenRequest,
} from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

const RS_SECRET = 'resource-server-secret-0123456789abcdef'
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

async function exchange(app: any, opts: { client?: Record<string, any>; email?: string } = {}) {
  const { code, verifier, client } = await codeFor(app, { client: opts.client, email: opts.email })
  const auth: Record<string, string> = client.client_secret
    ? { authorization: basic(client.client_id, client.client_secret) }
    : {}
  const res = await tokenRequest(
    app,
    {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      ...(client.client_secret ? {} : { client_id: client.client_id }),
      redirect_uri: REDIRECT_URI,
    },
    auth,
  )
  if (res.statusCode !== 200) throw new Error(res.body)
  return { tokens: res.json(), client }
}

function mcp(app: any, key: string) {
  return app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...INJECT_HEADERS, authorization: `Bearer ${key}` },
    payload: rpc('tools/list'),
  })
}

function introspect(app: any, token: string, auth = basic('rs', RS_SECRET)) {
  return app.inject({
    method: 'POST',
    url: '/introspect',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token }).toString(),
  })
}

function revoke(app: any, form: Record<string, string>, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/revoke',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(form).toString(),
  })
}

t.test('metadata advertises revocation, introspection and, with expiring keys, refresh', async (t) => {
  const plain = await build(t)
  const meta = (await plain.app.inject({ url: '/.well-known/oauth-authorization-server' })).json()
  t.equal(meta.revocation_endpoint, 'http://localhost:3000/revoke')
  t.equal(meta.introspection_endpoint, 'http://localhost:3000/introspect')
  t.same(meta.grant_types_supported, ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'])
  const expiring = await build(t, { KEYGATE_ACCESS_TTL: '3600' })
  t.same((await expiring.app.inject({ url: '/.well-known/oauth-authorization-server' })).json().grant_types_supported, [
    'authorization_code',
    'refresh_token',
    'urn:ietf:params:oauth:grant-type:device_code',
  ])
})

t.test('RFC 7009 revocation: every branch', async (t) => {
  const { app } = await build(t)
  const { tokens, client } = await exchange(app)
  const other = await registerClient(app, { client_name: 'Other' })
  const { user, account } = await (async () => {
    const u = (await app.store.users.byEmail('alice@example.com'))!
    return { user: u, account: (await app.store.accounts.membershipsOf(u.id))[0]!.account }
  })()
  const manual = await createKey(app, { userId: user.id, accountId: account.id })

  t.same(
    (await revoke(app, { token: tokens.access_token })).json(),
    { error: 'invalid_request', error_description: 'client_id is required' },
    'unauthenticated',
  )
  t.same((await revoke(app, { client_id: client.client_id })).json(), {
    error: 'invalid_request',
    error_description: 'token is required',
  })
  const unknown = await revoke(app, { client_id: client.client_id, token: 'not-a-token' })
  t.equal(unknown.statusCode, 200, 'an unknown token answers 200')
  t.same(unknown.json(), {})
  const cross = await revoke(app, { client_id: other.client_id, token: tokens.access_token })
  t.equal(cross.statusCode, 400)
  t.same(cross.json(), { error: 'invalid_request', error_description: 'the token was not issued to this client' })
  t.equal((await mcp(app, tokens.access_token)).statusCode, 200, "another client's revocation did nothing")
  t.equal(
    (await revoke(app, { client_id: client.client_id, token: manual.token })).statusCode,
    400,
    "a manual key is no client's to revoke",
  )
  t.equal((await mcp(app, manual.token)).statusCode, 200)
  const ok = await revoke(app, {
    client_id: client.client_id,
    token: tokens.access_token,
    token_type_hint: 'access_token',
  })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['cache-control'], 'no-store')
  t.equal((await mcp(app, tokens.access_token)).statusCode, 401, 'revoked')
  t.equal(
    (await revoke(app, { client_id: client.client_id, token: tokens.access_token })).statusCode,
    200,
    'twice is fine',
  )
  const revokedEvents = await app.store.audit.list(account.id, { limit: 5 })
  t.equal(revokedEvents[1]!.event, 'key_revoked', 'revocation is audited')
  // Its last live key gone, the app is disconnected: its consent is deleted, and that is audited.
  t.equal(revokedEvents[0]!.event, 'app_disconnected')
  t.same(revokedEvents[0]!.detail, { via: 'revocation_endpoint', scopes: ['read', 'write'] })
  t.equal(await app.store.consents.get(revokedEvents[0]!.actorUserId!, client.client_id), undefined)

  const confidential = await registerClient(app, { token_endpoint_auth_method: 'client_secret_basic' })
  const c = await exchange(app, { client: confidential })
  t.equal(
    (await revoke(app, { token: c.tokens.access_token }, { authorization: basic(confidential.client_id, 'wrong') }))
      .statusCode,
    401,
  )
  t.equal(
    (await revoke(app, { client_id: confidential.client_id, token: c.tokens.access_token })).statusCode,
    401,
    'must authenticate as registered',
  )
  t.equal(
    (
      await revoke(
        app,
        { token: c.tokens.access_token },
        { authorization: basic(confidential.client_id, confidential.client_secret) },
      )
    ).statusCode,
    200,
  )
  t.equal((await mcp(app, c.tokens.access_token)).statusCode, 401)
})

t.test('revoking a refresh token revokes its connection', async (t) => {
  const { app } = await build(t, { KEYGATE_ACCESS_TTL: '600' })
  const client = await registerClient(app, { grant_types: ['authorization_code', 'refresh_token'] })
  const { tokens } = await exchange(app, { client })
  const other = await registerClient(app, { client_name: 'Other' })
  t.equal(
    (await revoke(app, { client_id: other.client_id, token: tokens.refresh_token, token_type_hint: 'refresh_token' }))
      .statusCode,
    400,
    "another client's refresh token is left alone",
  )
  t.equal((await mcp(app, tokens.access_token)).statusCode, 200)
  t.equal(
    (await revoke(app, { client_id: client.client_id, token: tokens.refresh_token, token_type_hint: 'refresh_token' }))
      .statusCode,
    200,
  )
  t.equal((await mcp(app, tokens.access_token)).statusCode, 401, 'the access token of the connection is revoked')
  const again = await tokenRequest(app, {
    grant_type: 'refresh_token',
    refresh_token: tokens.refresh_token,
    client_id: client.client_id,
  })
  t.same(again.json(), { error: 'invalid_grant', error_description: 'refresh token has been revoked' })
})

t.test('RFC 7662 introspection: every branch', async (t) => {
  const { app, clock } = await build(t, { KEYGATE_RESOURCE_SERVERS: `rs:${RS_SECRET}` })
  const { tokens, client } = await exchange(app)
  const noAuth = await app.inject({ method: 'POST', url: '/introspect', payload: { token: tokens.access_token } })
  t.equal(noAuth.statusCode, 401)
  t.same(noAuth.json(), {
    error: 'invalid_client',
    error_description: 'introspection requires HTTP Basic authentication',
  })
  t.equal((await introspect(app, tokens.access_token, basic('rs', 'wrong-secret'))).statusCode, 401)
  const malformed = await introspect(app, tokens.access_token, 'Basic !!!')
  t.same(malformed.json(), {
    error: 'invalid_client',
    error_description: 'the Basic authorization header is malformed',
  })
  t.equal(malformed.headers['www-authenticate'], 'Basic realm="keygate introspection", charset="UTF-8"')
  t.equal(
    (await introspect(app, tokens.access_token, basic(client.client_id, 'x'))).statusCode,
    401,
    'a public client cannot introspect',
  )
  const confidential = await registerClient(app, { token_endpoint_auth_method: 'client_secret_basic' })
  const notAllowed = await introspect(
    app,
    tokens.access_token,
    basic(confidential.client_id, confidential.client_secret),
  )
  t.equal(notAllowed.statusCode, 403)
  t.same(notAllowed.json(), {
    error: 'unauthorized_client',
    error_description: 'this client may not introspect tokens',
  })

  const res = await introspect(app, tokens.access_token)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const key = (await app.store.keys.list({}))[0]!
  t.same(res.json(), {
    active: true,
    scope: 'read write',
    client_id: client.client_id,
    sub: String(key.userId),
    username: 'alice@example.com',
    name: 'alice',
    account_id: String(key.accountId),
    account_name: 'alice personal',
    account_role: 'owner',
    iat: key.createdAt,
    aud: 'http://localhost:3000/mcp',
    iss: 'http://localhost:3000',
    token_type: 'Bearer',
  })
  const manual = await createKey(
    app,
    { userId: key.userId!, accountId: key.accountId! },
    { expiresAt: app.now() + 100 },
  )
  const m = (await introspect(app, manual.token)).json()
  t.equal(m.active, true)
  t.notOk('client_id' in m, 'no null client_id for a manual key')
  t.equal(m.exp, app.now() + 100)
  t.same((await introspect(app, 'garbage')).json(), { active: false })
  t.same(
    (await introspect(app, (await import('../../src/keys/format.js')).mintToken('kg_').token)).json(),
    { active: false },
    'unknown',
  )
  clock.advance(101)
  t.same((await introspect(app, manual.token)).json(), { active: false }, 'expired')
  await app.store.keys.revoke(key.id, app.now())
  t.same((await introspect(app, tokens.access_token)).json(), { active: false }, 'revoked')
  const missing = await introspect(app, '')
  t.same(missing.json(), { error: 'invalid_request', error_description: 'token is required' })
})

t.test(
  'refresh: rotation, concurrent refreshes in the grace window, reuse after it, other client, expiry',
  async (t) => {
    const { app, clock } = await build(t, { KEYGATE_ACCESS_TTL: '600', KEYGATE_REFRESH_GRACE_SECONDS: '60' })
    const client = await registerClient(app, { grant_types: ['authorization_code', 'refresh_token'] })
    const { tokens } = await exchange(app, { client })
    t.equal(tokens.expires_in, 600)
    t.match(tokens.refresh_token, /^kgrt_[0-9A-Za-z]{49}$/)
    const refresh = (token: string, clientId = client.client_id, extra: Record<string, string> = {}) =>
      tokenRequest(app, { grant_type: 'refresh_token', refresh_token: token, client_id: clientId, ...extra })

    // A refresh right after the exchange works.
    const first = await refresh(tokens.refresh_token)
    t.equal(first.statusCode, 200)
    const pair1 = first.json()
    t.not(pair1.access_token, tokens.access_token)
    t.not(pair1.refresh_token, tokens.refresh_token)
    t.equal(pair1.expires_in, 600)
    t.equal(pair1.scope, 'read write')
    t.equal((await mcp(app, pair1.access_token)).statusCode, 200)

    // Two concurrent refreshes with the same token inside the window: both get working keys.
    const [a, b] = await Promise.all([refresh(pair1.refresh_token), refresh(pair1.refresh_token)])
    t.equal(a.statusCode, 200)
    t.equal(b.statusCode, 200)
    t.equal((await mcp(app, a.json().access_token)).statusCode, 200)
    t.equal((await mcp(app, b.json().access_token)).statusCode, 200)
    clock.advance(30)
    t.equal((await refresh(pair1.refresh_token)).statusCode, 200, 'still inside the grace window')

    // The dashboard shows one row for the connection.
    const cookie = (await import('../helper.js')).signIn
    const session = await cookie(app, 'alice@example.com')
    const dash = await app.inject({ url: '/dashboard', headers: { cookie: session } })
    t.equal([...dash.body.matchAll(/data-key-id=/g)].length, 1, 'one row per connection, not one per refresh')

    // Another client cannot use it; narrowing scope works, widening does not.
    const other = await registerClient(app, {
      client_name: 'Other',
      grant_types: ['authorization_code', 'refresh_token'],
    })
    t.same((await refresh(a.json().refresh_token, other.client_id)).json(), {
      error: 'invalid_grant',
      error_description: 'refresh token was issued to another client',
    })
    const narrowed = await refresh(a.json().refresh_token, client.client_id, { scope: 'read' })
    t.equal(narrowed.json().scope, 'read')
    t.same((await refresh(narrowed.json().refresh_token, client.client_id, { scope: 'read write' })).json(), {
      error: 'invalid_scope',
      error_description: 'a refresh may not add scopes to the grant',
    })
    t.same((await refresh('kgrt_nope')).json(), {
      error: 'invalid_grant',
      error_description: 'refresh token is invalid',
    })
    t.same((await tokenRequest(app, { grant_type: 'refresh_token', client_id: client.client_id })).json(), {
      error: 'invalid_request',
      error_description: 'refresh_token is required',
    })

    // Reuse after the window revokes the whole grant: the live key stops working.
    const live = b.json()
    clock.advance(31)
    const reuse = await refresh(pair1.refresh_token)
    t.same(reuse.json(), {
      error: 'invalid_grant',
      error_description: 'refresh token was already used; the grant has been revoked',
    })
    t.equal((await mcp(app, live.access_token)).statusCode, 401, 'the live key of the grant is revoked')
    t.equal((await refresh(live.refresh_token)).json().error_description, 'refresh token has been revoked')
    const events = await app.store.audit.list((await app.store.keys.list({}))[0]!.accountId!, { limit: 50 })
    t.ok(events.some((e) => e.event === 'refresh_reuse_detected'))
  },
)

t.test(
  'expired keys get 401 with the challenge; expired refresh tokens are refused; clean-up is bounded',
  async (t) => {
    const { app, clock } = await build(t, { KEYGATE_ACCESS_TTL: '60', KEYGATE_REFRESH_TTL: '3600' })
    const client = await registerClient(app, { grant_types: ['authorization_code', 'refresh_token'] })
    const { tokens } = await exchange(app, { client })
    clock.advance(61)
    const expired = await mcp(app, tokens.access_token)
    t.equal(expired.statusCode, 401)
    t.equal(
      expired.headers['www-authenticate'],
      'Bearer error="invalid_token", error_description="the access token has expired", scope="read write", resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp"',
    )
    const renewed = await tokenRequest(app, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: client.client_id,
    })
    t.equal(renewed.statusCode, 200)
    clock.advance(3601)
    t.same(
      (
        await tokenRequest(app, {
          grant_type: 'refresh_token',
          refresh_token: renewed.json().refresh_token,
          client_id: client.client_id,
        })
      ).json(),
      { error: 'invalid_grant', error_description: 'refresh token has expired' },
    )
    t.equal((await app.store.keys.list({})).length, 2)
    clock.advance(8 * 86400)
    t.match(await cleanExpired(app), { refreshTokens: 2, keys: 2 }, 'expired refresh tokens, then keys no token needs')
    t.match(await cleanExpired(app), { refreshTokens: 0, keys: 0 })
  },
)

t.test('refresh tokens: for clients that registered no grant_types too; an explicit list opts out', async (t) => {
  const { app } = await build(t, { KEYGATE_ACCESS_TTL: '600' })
  // ChatGPT's and Cursor's registration shape: no grant_types at all.
  const silent = await registerClient(app)
  t.same(silent.grant_types, ['authorization_code', 'refresh_token'], 'the registration response says what it got')
  const { tokens: given } = await exchange(app, { client: silent })
  t.equal(given.expires_in, 600)
  t.type(given.refresh_token, 'string', 'a refresh token though it did not ask')
  const optedOut = await registerClient(app, { grant_types: ['authorization_code'] })
  t.same(optedOut.grant_types, ['authorization_code'])
  const { tokens } = await exchange(app, { client: optedOut, email: 'bob@example.com' })
  t.equal(tokens.expires_in, 600)
  t.notOk('refresh_token' in tokens, 'an explicit grant_types without refresh_token opts out')
  const plain = await build(t)
  t.same((await registerClient(plain.app)).grant_types, ['authorization_code'], 'keys that do not expire: no refresh')
  const r = await exchange(plain.app, {
    client: await registerClient(plain.app, { grant_types: ['authorization_code', 'refresh_token'] }),
  })
  t.notOk('refresh_token' in r.tokens, 'no refresh tokens while keys do not expire')
  t.notOk('expires_in' in r.tokens)
  t.same(
    (
      await tokenRequest(plain.app, { grant_type: 'refresh_token', refresh_token: 'x', client_id: r.client.client_id })
    ).json(),
    { error: 'unsupported_grant_type', error_description: 'grant_type refresh_token is not supported' },
  )
})

t.test('pre-registered clients from a file; registration switched off', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'clients.json')
  const secret = 'internal-secret-0123456789abcdefghijk'
  writeFileSync(
    file,
    JSON.stringify([
      {
        client_id: 'internal-app',
        client_name: 'Internal App',
        redirect_uris: [REDIRECT_URI],
        client_secret_sha256: sha256Hex(secret),
        introspect: true,
      },
      { client_id: 'public-cli', client_name: 'CLI', redirect_uris: ['http://127.0.0.1/cb'] },
    ]),
  )
  const app = await buildApp(testConfig(dir, { KEYGATE_CLIENTS_FILE: file, KEYGATE_REGISTRATION: 'closed' }), {
    clock: new TestClock().now,
  })
  t.teardown(() => app.close())
  const meta = (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json()
  t.notOk('registration_endpoint' in meta, 'no registration endpoint advertised')
  const reg = await app.inject({
    method: 'POST',
    url: '/register',
    payload: { redirect_uris: ['https://x.example/cb'] },
  })
  t.equal(reg.statusCode, 403)
  t.same(reg.json(), {
    error: 'access_denied',
    error_description: 'open registration is switched off on this server; ask its operator for a client',
  })
  const internal = await app.store.clients.byId('internal-app')
  t.equal(internal?.tokenEndpointAuthMethod, 'client_secret_basic')
  await createUser(app, 'alice@example.com')
  const { code, verifier } = await codeFor(app, { client: { client_id: 'internal-app' } })
  const token = await tokenRequest(
    app,
    { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI },
    { authorization: basic('internal-app', secret) },
  )
  t.equal(token.statusCode, 200)
  const ins = await introspect(app, token.json().access_token, basic('internal-app', secret))
  t.equal(ins.json().active, true, 'a confidential client allowed to introspect')

  const bad: Array<[unknown, RegExp]> = [
    [{ nope: 1 }, /^KEYGATE_CLIENTS_FILE: file: /],
    [
      [{ client_id: 'x', client_name: 'x', redirect_uris: ['javascript:alert(1)'] }],
      /^KEYGATE_CLIENTS_FILE: 0: redirect_uri "javascript:alert\(1\)" uses the forbidden scheme/,
    ],
    [
      [
        {
          client_id: 'x',
          client_name: 'x',
          redirect_uris: ['https://a.example/cb'],
          client_secret_sha256: 'plaintext',
        },
      ],
      /^KEYGATE_CLIENTS_FILE: 0\.client_secret_sha256: must be 64 lowercase hex digits/,
    ],
    [
      [{ client_id: 'x', client_name: 'x', redirect_uris: ['https://a.example/cb'], introspect: true }],
      /^KEYGATE_CLIENTS_FILE: 0: only a confidential client may introspect/,
    ],
  ]
  for (const [content, message] of bad) {
    writeFileSync(file, JSON.stringify(content))
    await t.rejects(buildApp(testConfig(tempDir(t), { KEYGATE_CLIENTS_FILE: file })), { message }, String(message))
  }
})

t.test('secret rotation: codes and sessions from the old secret still work; unlisted secrets do not', async (t) => {
  const dir = tempDir(t)
  const OLD = SECRET
  const NEW = 'the-new-secret-after-rotation-0123456789abcdef'
  const clock = new TestClock()
  const before = await buildApp(testConfig(dir), { clock: clock.now })
  await createUser(before, 'alice@example.com')
  const first = await codeFor(before)
  const second = await codeFor(before, { client: first.client })
  await before.close()
  t.equal(
    JSON.parse(Buffer.from(first.code.split('.')[0]!, 'base64url').toString()).kid.length,
    16,
    'codes carry a kid',
  )

  // Step 1 of the rotation: the new secret signs, the old one still verifies.
  const rotated = await buildApp(testConfig(dir, { KEYGATE_SECRET: NEW, KEYGATE_PREVIOUS_SECRETS: OLD }), {
    clock: clock.now,
  })
  t.equal(
    (await rotated.inject({ url: '/dashboard', headers: { cookie: first.cookie } })).statusCode,
    200,
    'a session signed with the old secret is still valid',
  )
  const redeemed = await tokenRequest(rotated, {
    grant_type: 'authorization_code',
    code: first.code,
    code_verifier: first.verifier,
    client_id: first.client.client_id,
    redirect_uri: REDIRECT_URI,
  })
  t.equal(redeemed.statusCode, 200, 'an in-flight code signed with the old secret is redeemed')
  await rotated.close()

  // Step 2: the old secret is dropped from the list.
  const after = await buildApp(testConfig(dir, { KEYGATE_SECRET: NEW }), { clock: clock.now })
  t.teardown(() => after.close())
  const refused = await tokenRequest(after, {
    grant_type: 'authorization_code',
    code: second.code,
    code_verifier: second.verifier,
    client_id: first.client.client_id,
    redirect_uri: REDIRECT_URI,
  })
  t.same(
    refused.json(),
    {
      error: 'invalid_grant',
      error_description: 'authorization code was not issued by this server (unknown signing key)',
    },
    'a code signed with a secret no longer listed is refused',
  )
  t.equal(
    (await after.inject({ url: '/dashboard', headers: { cookie: first.cookie } })).statusCode,
    303,
    'a session signed with a dropped secret sends you to sign in',
  )
})

t.test(
  'offline_access (SEP-2207): advertised with refresh tokens, accepted, never asked of clients by the resource',
  async (t) => {
    const plain = await build(t)
    const meta = (await plain.app.inject({ url: '/.well-known/oauth-authorization-server' })).json()
    t.notOk(meta.scopes_supported.includes('offline_access'), 'no refresh tokens, no offline_access')
    const { app } = await build(t, { KEYGATE_ACCESS_TTL: '600' })
    const expiring = (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json()
    t.ok(expiring.scopes_supported.includes('offline_access'), 'advertised when keys expire and refresh')
    const resource = (await app.inject({ url: '/.well-known/oauth-protected-resource/mcp' })).json()
    t.notOk(resource.scopes_supported.includes('offline_access'), 'never among the resource scopes')
    // A client of an OpenID-flavoured server asks for it, and gets its key and refresh token.
    const client = await registerClient(app)
    await createUser(app, 'bob@example.com')
    const pk = pkce()
    const approved = await approve(
      app,
      await sessionCookie(app, 'bob@example.com'),
      authorizeQuery(client.client_id, pk.challenge, { scope: 'read write offline_access' }),
    )
    t.equal(approved.statusCode, 302)
    const back = new URL(approved.headers.location as string)
    t.notOk(back.searchParams.get('error'), 'offline_access is not an invalid scope')
    const res = await tokenRequest(app, {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      code_verifier: pk.verifier,
      client_id: client.client_id,
      redirect_uri: REDIRECT_URI,
    })
    t.equal(res.statusCode, 200)
    t.type(res.json().refresh_token, 'string', 'a refresh token')
    t.notMatch(res.json().scope, /offline_access/, 'the key carries the API scopes only')
    const challenge = await mcp(app, 'kg_not_a_key')
    t.notMatch(String(challenge.headers['www-authenticate']), /offline_access/, 'no challenge names it')
  },
)
