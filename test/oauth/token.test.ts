import { SignJWT } from 'jose'
import t from 'tap'
import { keyring } from '../../src/crypto/secrets.js'
import { hashToken, isWellFormedToken } from '../../src/keys/format.js'
import { signCode } from '../../src/oauth/code.js'
import { build, codeFor, createUser, REDIRECT_URI, registerClient, tokenRequest } from '../helper.js'

const exchange = (code: string, verifier: string, clientId: string, extra: Record<string, string> = {}) => ({
  grant_type: 'authorization_code',
  code,
  code_verifier: verifier,
  client_id: clientId,
  redirect_uri: REDIRECT_URI,
  ...extra,
})

t.test('a code exchanges for an API key once', async (t) => {
  const { app } = await build(t)
  const { code, verifier, client } = await codeFor(app)
  const res = await tokenRequest(
    app,
    exchange(code, verifier, client.client_id, { resource: 'http://localhost:3000/mcp' }),
  )
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access_token', 'scope', 'token_type'])
  t.equal(body.token_type, 'Bearer')
  t.equal(body.scope, 'read write')
  t.ok(isWellFormedToken(body.access_token, 'kg_'))
  const key = await app.store.keys.byHash(hashToken(body.access_token))
  t.ok(key, 'the key row exists, found by hash')
  t.equal(key!.name, 'MCP — Test Client')
  t.equal(key!.clientId, client.client_id)
  t.equal(key!.resource, 'http://localhost:3000/mcp')
  t.equal(key!.expiresAt, null)
})

t.test('sequential replay: second exchange fails and the first key is revoked', async (t) => {
  const { app } = await build(t)
  const { code, verifier, client } = await codeFor(app)
  const first = await tokenRequest(app, exchange(code, verifier, client.client_id))
  t.equal(first.statusCode, 200)
  const second = await tokenRequest(app, exchange(code, verifier, client.client_id))
  t.equal(second.statusCode, 400)
  t.same(second.json(), { error: 'invalid_grant', error_description: 'authorization code has already been used' })
  const key = await app.store.keys.byHash(hashToken(first.json().access_token))
  t.ok(key!.revokedAt, 'the key minted from the code is revoked (RFC 6749 §4.1.2)')
  const events = await app.store.audit.list(key!.accountId!, { limit: 10 })
  t.ok(
    events.some((e) => e.event === 'code_replay_detected'),
    'the replay is audited',
  )
})

t.test('concurrent replay: 20 parallel exchanges of one code, exactly one succeeds', async (t) => {
  const { app } = await build(t)
  const { code, verifier, client } = await codeFor(app)
  const results = await Promise.all(
    Array.from({ length: 20 }, () => tokenRequest(app, exchange(code, verifier, client.client_id))),
  )
  t.equal(results.filter((r) => r.statusCode === 200).length, 1)
  t.equal(results.filter((r) => r.statusCode === 400 && r.json().error === 'invalid_grant').length, 19)
  t.equal((await app.store.keys.list({})).length, 1, 'one key row')
})

t.test('code checks, each with its exact error', async (t) => {
  const { app } = await build(t)
  const { code, verifier, client } = await codeFor(app)
  const other = await registerClient(app, { client_name: 'Other' })
  const cases: Array<[string, Record<string, string>, number, string, string]> = [
    ['missing grant_type', { grant_type: '' }, 400, 'invalid_request', 'grant_type is required'],
    [
      'unsupported grant_type',
      { grant_type: 'password' },
      400,
      'unsupported_grant_type',
      'grant_type password is not supported',
    ],
    ['missing client_id', { client_id: '' }, 400, 'invalid_request', 'client_id is required'],
    ['unknown client', { client_id: 'nope' }, 400, 'invalid_client', 'unknown client_id'],
    ['missing code', { code: '' }, 400, 'invalid_request', 'code is required'],
    ['garbage code', { code: 'not-a-jws' }, 400, 'invalid_grant', 'authorization code is malformed'],
    [
      'tampered code',
      { code: code.slice(0, -3) + (code.endsWith('AAA') ? 'BBB' : 'AAA') },
      400,
      'invalid_grant',
      'authorization code signature is invalid',
    ],
    [
      'wrong client',
      { client_id: other.client_id },
      400,
      'invalid_grant',
      'authorization code was issued to another client',
    ],
    ['missing redirect_uri', { redirect_uri: '' }, 400, 'invalid_request', 'redirect_uri is required'],
    [
      'wrong redirect_uri',
      { redirect_uri: 'https://client.example/other' },
      400,
      'invalid_grant',
      'redirect_uri does not match the authorization request',
    ],
    ['missing verifier', { code_verifier: '' }, 400, 'invalid_grant', 'code_verifier is required'],
    [
      'malformed verifier',
      { code_verifier: 'short' },
      400,
      'invalid_grant',
      'code_verifier must be 43-128 characters of [A-Za-z0-9._~-]',
    ],
    [
      'wrong verifier',
      { code_verifier: 'x'.repeat(43) },
      400,
      'invalid_grant',
      'code_verifier does not match the code_challenge',
    ],
    [
      'wrong resource',
      { resource: 'https://evil.example/mcp' },
      400,
      'invalid_target',
      'resource must be http://localhost:3000/mcp',
    ],
  ]
  for (const [name, override, status, error, description] of cases) {
    const res = await tokenRequest(app, { ...exchange(code, verifier, client.client_id), ...override })
    t.equal(res.statusCode, status, `${name}: status`)
    t.same(res.json(), { error, error_description: description }, `${name}: body`)
    t.equal(res.headers['cache-control'], 'no-store', `${name}: no-store`)
  }
  t.equal((await app.store.keys.list({})).length, 0, 'no failed exchange minted a key')
  // The same code still works after all the failures above: nothing was consumed.
  const ok = await tokenRequest(app, exchange(code, verifier, client.client_id))
  t.equal(ok.statusCode, 200)
})

t.test('an expired code is refused (controlled clock)', async (t) => {
  const { app, clock } = await build(t)
  const { code, verifier, client } = await codeFor(app)
  clock.advance(61)
  const res = await tokenRequest(app, exchange(code, verifier, client.client_id))
  t.same(res.json(), { error: 'invalid_grant', error_description: 'authorization code has expired' })
})

t.test('a code is valid for its whole 60 s lifetime', async (t) => {
  const { app, clock } = await build(t)
  const { code, verifier, client } = await codeFor(app)
  clock.advance(59)
  t.equal((await tokenRequest(app, exchange(code, verifier, client.client_id))).statusCode, 200)
})

t.test('codes signed with an unknown secret, or a previous one, or by another use', async (t) => {
  const { app, config } = await build(t)
  const { verifier, client, code } = await codeFor(app)
  const claims = JSON.parse(Buffer.from(code.split('.')[1]!, 'base64url').toString())
  const forge = async (secret: string, purpose: 'authorization-code' | 'session' = 'authorization-code') => {
    const ring = keyring(purpose, secret, [])
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: ring.current.kid, typ: 'kg-code+jwt' })
      .sign(ring.current.key)
  }
  const unknown = await tokenRequest(
    app,
    exchange(await forge('another-secret-that-is-long-enough-0123456789'), verifier, client.client_id),
  )
  t.same(unknown.json(), {
    error: 'invalid_grant',
    error_description: 'authorization code was not issued by this server (unknown signing key)',
  })
  const session = await tokenRequest(app, exchange(await forge(config.secret, 'session'), verifier, client.client_id))
  t.same(
    session.json(),
    {
      error: 'invalid_grant',
      error_description: 'authorization code was not issued by this server (unknown signing key)',
    },
    'a key of another purpose is not a code key',
  )

  // Rotation: a code signed under the old secret stays redeemable while it is listed.
  const old = 'the-previous-secret-0123456789-abcdefghijklmnop'
  const { build: b } = await import('../helper.js')
  const rotated = await b(t, { KEYGATE_PREVIOUS_SECRETS: old })
  const r = await codeFor(rotated.app)
  const rclaims = JSON.parse(Buffer.from(r.code.split('.')[1]!, 'base64url').toString())
  const oldRing = keyring('authorization-code', old, [])
  const oldCode = await new SignJWT(rclaims)
    .setProtectedHeader({ alg: 'HS256', kid: oldRing.current.kid, typ: 'kg-code+jwt' })
    .sign(oldRing.current.key)
  const accepted = await tokenRequest(rotated.app, exchange(oldCode, r.verifier, r.client.client_id))
  t.equal(accepted.statusCode, 200, 'code signed with a previous secret is accepted')
})

t.test('a code signed for an account its consent does not name is refused', async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'bob@example.com')
  const client = await registerClient(app)
  const { verifier, challenge } = await import('../helper.js').then((h) => h.pkce())
  const other = await createUser(app, 'carol@example.com')
  const consent = await app.store.consents.upsert(
    { userId: user.id, clientId: client.client_id, accountId: account.id, scopes: ['read'] },
    app.now(),
  )
  const code = await signCode(
    app.keyrings.code,
    app.config.issuer,
    {
      clientId: client.client_id,
      redirectUri: REDIRECT_URI,
      codeChallenge: challenge,
      userId: user.id,
      accountId: other.account.id,
      scopes: ['read'],
      resource: app.config.resource,
      consentCreatedAt: consent.createdAt,
    },
    app.now(),
  )
  const res = await tokenRequest(app, exchange(code, verifier, client.client_id))
  t.same(res.json(), {
    error: 'invalid_grant',
    error_description: 'the authorization was withdrawn (the app was disconnected or its access changed); start again',
  })
  t.same(await app.store.keys.list({ accountId: other.account.id }), [], 'no key in the other account')
})

t.test('a code minted just before Disconnect does not redeem after it', async (t) => {
  const { app } = await build(t)
  const { code, verifier, client, cookie } = await codeFor(app)
  const dashboard = await app.inject({ url: '/dashboard', headers: { cookie } })
  const csrf = /name="csrf" value="([^"]+)"/.exec(dashboard.body)![1]!
  const out = await app.inject({
    method: 'POST',
    url: `/dashboard/apps/${encodeURIComponent(client.client_id)}/disconnect`,
    headers: { cookie },
    payload: { csrf },
  })
  t.equal(out.statusCode, 303, 'disconnected')
  const res = await tokenRequest(app, exchange(code, verifier, client.client_id))
  t.equal(res.statusCode, 400)
  t.same(res.json(), {
    error: 'invalid_grant',
    error_description: 'the authorization was withdrawn (the app was disconnected or its access changed); start again',
  })
  t.same(await app.store.keys.list({}), [], 'no key was minted')
})

t.test('a code issued under a consent that was since narrowed or re-made does not redeem', async (t) => {
  const { app, clock } = await build(t)
  const first = await codeFor(app)
  const narrowed = await codeFor(app, { client: first.client, form: { scope_choice: [] } })
  const read = await tokenRequest(app, exchange(narrowed.code, narrowed.verifier, first.client.client_id))
  t.equal(read.statusCode, 200, 'the newest (read-only) code redeems')
  const wide = await tokenRequest(app, exchange(first.code, first.verifier, first.client.client_id))
  t.equal(wide.json().error, 'invalid_grant', 'the older read+write code does not outlive the narrowed consent')
  const again = await codeFor(app, { client: first.client })
  const user = (await app.store.users.byEmail('alice@example.com'))!
  await app.store.consents.disconnect(user.id, first.client.client_id, app.now())
  clock.advance(1)
  const remade = await codeFor(app, { client: first.client })
  t.equal(
    (await tokenRequest(app, exchange(again.code, again.verifier, first.client.client_id))).json().error,
    'invalid_grant',
    'a code from before a disconnect and re-approval',
  )
  t.equal(
    (await tokenRequest(app, exchange(remade.code, remade.verifier, first.client.client_id))).statusCode,
    200,
    'the code of the new consent',
  )
})

t.test('confidential clients authenticate as registered', async (t) => {
  const { app } = await build(t)
  const basicClient = await registerClient(app, { token_endpoint_auth_method: 'client_secret_basic' })
  const postClient = await registerClient(app, { token_endpoint_auth_method: 'client_secret_post' })
  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`

  const a = await codeFor(app, { client: basicClient })
  const noAuth = await tokenRequest(app, exchange(a.code, a.verifier, basicClient.client_id))
  t.equal(noAuth.statusCode, 401)
  t.same(noAuth.json(), {
    error: 'invalid_client',
    error_description: 'this client must authenticate with client_secret_basic',
  })
  const wrong = await tokenRequest(app, exchange(a.code, a.verifier, basicClient.client_id), {
    authorization: basic(basicClient.client_id, 'wrong'),
  })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.headers['www-authenticate'], /^Basic /)
  t.same(wrong.json(), { error: 'invalid_client', error_description: 'client authentication failed' })
  const asPost = await tokenRequest(app, {
    ...exchange(a.code, a.verifier, basicClient.client_id),
    client_secret: basicClient.client_secret,
  })
  t.same(asPost.json(), {
    error: 'invalid_client',
    error_description: 'this client must authenticate with client_secret_basic',
  })
  const both = await tokenRequest(
    app,
    { ...exchange(a.code, a.verifier, basicClient.client_id), client_secret: 'x' },
    { authorization: basic(basicClient.client_id, basicClient.client_secret) },
  )
  t.same(both.json(), { error: 'invalid_request', error_description: 'use one client authentication method, not both' })
  const malformed = await tokenRequest(app, exchange(a.code, a.verifier, basicClient.client_id), {
    authorization: 'Basic !!!',
  })
  t.same(malformed.json(), {
    error: 'invalid_client',
    error_description: 'the Basic authorization header is malformed',
  })
  const unknown = await tokenRequest(app, exchange(a.code, a.verifier, 'nope'), { authorization: basic('nope', 'x') })
  t.equal(unknown.statusCode, 401)
  t.same(unknown.json(), { error: 'invalid_client', error_description: 'unknown client_id' })
  const good = await tokenRequest(app, exchange(a.code, a.verifier, basicClient.client_id), {
    authorization: basic(basicClient.client_id, basicClient.client_secret),
  })
  t.equal(good.statusCode, 200)

  const b = await codeFor(app, { client: postClient })
  const wrongPost = await tokenRequest(app, {
    ...exchange(b.code, b.verifier, postClient.client_id),
    client_secret: 'nope',
  })
  t.equal(wrongPost.statusCode, 401)
  const goodPost = await tokenRequest(app, {
    ...exchange(b.code, b.verifier, postClient.client_id),
    client_secret: postClient.client_secret,
  })
  t.equal(goodPost.statusCode, 200)

  // A public client that sends a secret is not who it says it is.
  const pub = await codeFor(app)
  const pubWithSecret = await tokenRequest(app, {
    ...exchange(pub.code, pub.verifier, pub.client.client_id),
    client_secret: 'x',
  })
  t.equal(pubWithSecret.statusCode, 401)
  t.same(pubWithSecret.json(), {
    error: 'invalid_client',
    error_description: 'this client must authenticate with none',
  })
})

t.test('token endpoint body handling: JSON tolerated, bad bodies are JSON errors', async (t) => {
  const { app } = await build(t)
  const { code, verifier, client } = await codeFor(app)
  const json = await app.inject({ method: 'POST', url: '/token', payload: exchange(code, verifier, client.client_id) })
  t.equal(json.statusCode, 200, 'a JSON body works')
  const repeated = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=authorization_code&grant_type=authorization_code',
  })
  t.same(repeated.json(), { error: 'invalid_request', error_description: 'grant_type must be a single string' })
  const broken = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/json' },
    payload: '{"grant_type":',
  })
  t.equal(broken.statusCode, 400)
  t.equal(broken.json().error, 'invalid_request')
  t.equal(broken.headers['cache-control'], 'no-store')
  const huge = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `code=${'a'.repeat(20_000)}`,
  })
  t.equal(huge.statusCode, 413)
  t.same(huge.json(), { error: 'invalid_request', error_description: 'request body is too large' })
  const text = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'text/plain' },
    payload: 'hello',
  })
  t.equal(text.statusCode, 400)
  t.same(text.json(), {
    error: 'invalid_request',
    error_description: 'the request body must be application/x-www-form-urlencoded',
  })
  const get = await app.inject({ method: 'GET', url: '/token' })
  t.equal(get.statusCode, 404)
  t.equal(get.json().error, 'not_found')
})
