// KEYGATE_LOGIN=handoff: keygate signs people in with the product's session. The product
// is played by the test: it signs assertions with the shared secret (HS256), or with a key
// of a JWKS it serves on a local port.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose'
import t from 'tap'
import { main } from '../../src/cli/index.js'
import { buildApp } from '../../src/server/app.js'
import {
  approve,
  authorizeQuery,
  build,
  cookiesOf,
  createKey,
  pkce,
  registerClient,
  testConfig,
  testEnv,
  tokenRequest,
} from '../helper.js'
import { freePort } from '../support/http.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'
import { rawRows } from '../support/raw.js'

const PRODUCT = 'https://product.example'
const SECRET = 'product-handoff-secret-0123456789-abcdef'
const ISSUER = 'http://localhost:3000'
const HANDOFF_ENV = {
  KEYGATE_LOGIN: 'handoff',
  KEYGATE_HANDOFF_URL: `${PRODUCT}/keygate-handoff`,
  KEYGATE_HANDOFF_ISSUER: PRODUCT,
  KEYGATE_HANDOFF_SECRET: SECRET,
}

type Claims = JWTPayload & {
  email?: unknown
  email_verified?: unknown
  name?: unknown
  accounts?: unknown
  nonce?: unknown
}

/** What the product signs for alice, changed by `over` (undefined removes a claim). */
function claimsFor(state: string, now: number, over: Claims = {}): Claims {
  const claims: Claims = {
    iss: PRODUCT,
    aud: ISSUER,
    sub: 'u-1',
    email: 'alice@product.example',
    name: 'Alice',
    nonce: state,
    iat: now,
    exp: now + 120,
    jti: randomBytes(12).toString('base64url'),
    accounts: [
      { id: 'org-1', name: 'Acme', role: 'admin' },
      { id: 'org-2', name: 'Beta', role: 'member' },
    ],
    ...over,
  }
  for (const [k, v] of Object.entries(over)) if (v === undefined) delete claims[k]
  return claims
}

const sign = (claims: Claims, key: Uint8Array = new TextEncoder().encode(SECRET)) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key)

/** An unsigned JWT (alg "none"). */
const unsigned = (claims: Claims) =>
  `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`

/** GET /login as a browser: keygate's redirect to the product, its state and the state cookie. */
async function startSignIn(app: FastifyInstance, returnTo = '/dashboard') {
  const res = await app.inject({ url: `/login?return_to=${encodeURIComponent(returnTo)}` })
  if (res.statusCode !== 303) throw new Error(`GET /login: ${res.statusCode}`)
  const location = new URL(res.headers.location as string)
  return { location, state: location.searchParams.get('state')!, cookie: cookiesOf(res) }
}

/** The product sending the browser back (GET, or the auto-submitted POST form). */
function finish(app: FastifyInstance, cookie: string, fields: Record<string, string>, method: 'GET' | 'POST' = 'GET') {
  const body = new URLSearchParams(fields).toString()
  return method === 'GET'
    ? app.inject({ url: `/login/handoff?${body}`, headers: { cookie } })
    : app.inject({
        method: 'POST',
        url: '/login/handoff',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: body,
      })
}

async function signIn(app: FastifyInstance, over: Claims = {}, returnTo = '/dashboard') {
  const { state, cookie } = await startSignIn(app, returnTo)
  const res = await finish(app, cookie, { state, assertion: await sign(claimsFor(state, app.now(), over)) })
  return { res, cookie: cookiesOf(res, cookie) }
}

t.test('keygate sends the browser to the product, which sends it back signed in', async (t) => {
  const { app } = await build(t, HANDOFF_ENV)
  const { location, state, cookie } = await startSignIn(app, '/dashboard/keys')
  t.equal(`${location.origin}${location.pathname}`, `${PRODUCT}/keygate-handoff`)
  t.equal(location.searchParams.get('return_to'), `${ISSUER}/login/handoff`)
  t.match(state, /^[\w-]{32}$/, 'an opaque state')
  t.match(cookie, /keygate_handoff=/, 'bound to a cookie of this browser')

  const res = await finish(app, cookie, { state, assertion: await sign(claimsFor(state, app.now())) })
  t.equal(res.statusCode, 303, res.body)
  t.equal(res.headers.location, '/dashboard/keys', 'back where the sign-in started')
  const session = cookiesOf(res, cookie)
  const dashboard = await app.inject({ url: '/dashboard', headers: { cookie: session } })
  t.equal(dashboard.statusCode, 200)
  t.match(dashboard.body, 'Acme', "the product's accounts are the user's accounts")

  const user = (await app.store.users.byEmail('alice@product.example'))!
  t.equal(user.name, 'Alice')
  t.equal(user.passwordHash, '', 'no password: they sign in through the product')
  t.same(
    (await app.store.accounts.membershipsOf(user.id)).map((m) => [m.account.name, m.account.kind, m.role]),
    [
      ['Acme', 'team', 'admin'],
      ['Beta', 'team', 'member'],
    ],
  )

  // The auto-submitted POST form works the same; the same person is found again, not made twice.
  const again = await startSignIn(app)
  const posted = await finish(
    app,
    again.cookie,
    { state: again.state, assertion: await sign(claimsFor(again.state, app.now(), { name: 'Alice B' })) },
    'POST',
  )
  t.equal(posted.statusCode, 303)
  t.equal((await app.store.users.byEmail('alice@product.example'))?.id, user.id)
  t.equal((await app.store.users.byId(user.id))?.name, 'Alice B', 'the name follows the product')
})

t.test('over https the state cookie also rides the product\u2019s cross-site POST back', async (t) => {
  const { app } = await build(t, { ...HANDOFF_ENV, KEYGATE_ISSUER: 'https://mcp.example.com' })
  const res = await app.inject({ url: '/login', headers: { host: 'mcp.example.com' } })
  t.equal(res.statusCode, 303)
  const cookie = String(res.headers['set-cookie'])
  // __Secure-, not __Host-: a __Host- cookie must have Path=/, and browsers drop one that does not.
  t.match(cookie, /^__Secure-keygate_handoff=/, 'a __Secure- cookie')
  t.match(cookie, /; Path=\/login\/handoff/, 'sent to the way back only')
  t.match(cookie, /; HttpOnly/)
  t.match(cookie, /; Secure/)
  t.match(cookie, /; SameSite=None/, 'SameSite=None: an auto-submitted POST from the product carries it')
})

t.test('without an accounts claim the person gets one personal account', async (t) => {
  const { app } = await build(t, HANDOFF_ENV)
  const { res } = await signIn(app, { accounts: undefined, sub: 'u-9', email: 'solo@product.example' })
  t.equal(res.statusCode, 303)
  const user = (await app.store.users.byEmail('solo@product.example'))!
  t.same(
    (await app.store.accounts.membershipsOf(user.id)).map((m) => [m.account.kind, m.role]),
    [['personal', 'owner']],
  )
  await signIn(app, { accounts: undefined, sub: 'u-9', email: 'solo@product.example' })
  t.equal((await app.store.accounts.membershipsOf(user.id)).length, 1, 'still one, not a second')
})

t.test('every bad assertion is refused with its own message, audited, and creates nothing', async (t) => {
  const { app } = await build(t, HANDOFF_ENV)
  const now = app.now()
  const other = new TextEncoder().encode('another-secret-0123456789-abcdefghijkl')
  const cases: Array<[string, (state: string) => Promise<string> | string, RegExp]> = [
    ['wrong aud', (s) => sign(claimsFor(s, now, { aud: 'https://elsewhere.example' })), /aud is not this keygate/],
    [
      'wrong issuer',
      (s) => sign(claimsFor(s, now, { iss: 'https://evil.example' })),
      /iss is not KEYGATE_HANDOFF_ISSUER/,
    ],
    ['expired', (s) => sign(claimsFor(s, now - 600, { exp: now - 300 })), /has expired/],
    ['exp too far out', (s) => sign(claimsFor(s, now, { exp: now + 3600 })), /at most 5 minutes/],
    [
      'iat ten years ahead',
      (s) => sign(claimsFor(s, now, { iat: now + 315_360_000, exp: now + 315_360_120 })),
      /iat is in the future/,
    ],
    ['iat 31 s ahead', (s) => sign(claimsFor(s, now, { iat: now + 31 })), /iat is in the future/],
    ['nonce of another sign-in', (s) => sign(claimsFor(`${s}x`, now)), /nonce is not the state/],
    ['no nonce', (s) => sign(claimsFor(s, now, { nonce: undefined })), /nonce claim is missing/],
    ['no jti', (s) => sign(claimsFor(s, now, { jti: undefined })), /jti claim is missing/],
    ['unsigned (alg none)', (s) => unsigned(claimsFor(s, now)), /not a well-formed signed JWT|alg is not one/],
    ['another key', (s) => sign(claimsFor(s, now), other), /signature does not verify/],
    ['not a JWT', () => 'not-a-jwt', /not a well-formed signed JWT/],
    [
      'malformed accounts',
      (s) => sign(claimsFor(s, now, { accounts: [{ id: 'org-1', name: 'Acme', role: 'superuser' }] })),
      /accounts\.0\.role/,
    ],
    ['accounts not a list', (s) => sign(claimsFor(s, now, { accounts: 'org-1' })), /accounts: /],
    [
      'an account listed twice',
      (s) =>
        sign(
          claimsFor(s, now, {
            accounts: [
              { id: 'o', name: 'A', role: 'member' },
              { id: 'o', name: 'B', role: 'owner' },
            ],
          }),
        ),
      /listed twice/,
    ],
    ['no email', (s) => sign(claimsFor(s, now, { email: undefined })), /email claim is missing/],
    ['not an email', (s) => sign(claimsFor(s, now, { email: 'alice' })), /email: is not an email address/],
    [
      'an email with a bidi override',
      (s) => sign(claimsFor(s, now, { email: 'moc.evil\u202E@product.example' })),
      /email: holds an invisible or reordering character/,
    ],
  ]
  for (const [name, make, message] of cases) {
    const { state, cookie } = await startSignIn(app)
    const res = await finish(app, cookie, { state, assertion: await make(state) })
    t.equal(res.statusCode, 400, name)
    t.match(res.headers['content-type'], /text\/html/, `${name}: a page`)
    t.match(res.body, message, name)
    const after = await app.inject({ url: '/dashboard', headers: { cookie: cookiesOf(res, cookie) } })
    t.equal(after.statusCode, 303, `${name}: not signed in`)
  }
  t.equal(await app.store.users.byEmail('alice@product.example'), undefined, 'no user was created')
  t.same(await app.store.accounts.byName('Acme'), [], 'no account was created')
  const audited = await rawRows(app.config, "SELECT detail FROM audit_events WHERE event = 'signin_failed'")
  const reasons = audited.map((r) => JSON.parse(String(r.detail)).reason as string)
  t.equal(reasons.length, cases.length, 'each refusal is audited')
  t.same(
    reasons.filter((_, i) => i !== 9),
    [
      'wrong_audience',
      'wrong_issuer',
      'expired',
      'too_long_lived',
      'issued_in_future',
      'issued_in_future',
      'state_mismatch',
      'bad_claim',
      'bad_claim',
      'bad_signature',
      'malformed',
      'bad_claim',
      'bad_claim',
      'bad_claim',
      'bad_claim',
      'bad_claim',
      'bad_claim',
    ],
    'with its reason',
  )
  t.match(reasons[9], /^(malformed|bad_algorithm)$/, 'alg none: refused before any key is tried')
})

t.test('state: missing, foreign, mismatched or used once already', async (t) => {
  const { app } = await build(t, HANDOFF_ENV)
  const first = await startSignIn(app)
  const second = await startSignIn(app)
  const assertion = await sign(claimsFor(first.state, app.now()))

  const noCookie = await finish(app, '', { state: first.state, assertion })
  t.equal(noCookie.statusCode, 400)
  t.match(noCookie.body, 'This browser did not start this sign-in')
  const foreign = await finish(app, second.cookie, { state: first.state, assertion })
  t.equal(foreign.statusCode, 400, "another browser's state")
  t.match(foreign.body, 'The state the product sent back is not the one this sign-in sent')
  const missing = await finish(app, first.cookie, { assertion })
  t.equal(missing.statusCode, 400)

  const ok = await finish(app, first.cookie, { state: first.state, assertion })
  t.equal(ok.statusCode, 303, 'the right browser with its own state')
  t.match(ok.headers['set-cookie'], /keygate_handoff=;/, 'the state cookie is cleared: single use')

  // The same assertion again, from a fresh sign-in whose state it cannot match, and then
  // replayed with its own state: refused as used.
  const replay = await startSignIn(app)
  const replayed = await finish(app, replay.cookie, { state: replay.state, assertion })
  t.equal(replayed.statusCode, 400)
  t.match(replayed.body, 'nonce is not the state')
  // A copy of the spent state cookie, with a new assertion for that state: refused.
  const sameState = await finish(app, first.cookie, {
    state: first.state,
    assertion: await sign(claimsFor(first.state, app.now())),
  })
  t.equal(sameState.statusCode, 400, 'the spent state is replayed')
  t.match(sameState.body, 'This sign-in was completed already (its state is single use)')
})

t.test('a jti is single use, across instances sharing the database', async (t) => {
  const { app, dir, clock } = await build(t, HANDOFF_ENV)
  const second = await buildApp(testConfig(dir, HANDOFF_ENV), { clock: clock.now })
  t.teardown(() => second.close())
  const a = await startSignIn(app)
  const jti = 'one-time-jti'
  const first = await finish(app, a.cookie, {
    state: a.state,
    assertion: await sign(claimsFor(a.state, app.now(), { jti })),
  })
  t.equal(first.statusCode, 303)
  const b = await startSignIn(second)
  const replay = await finish(second, b.cookie, {
    state: b.state,
    assertion: await sign(claimsFor(b.state, app.now(), { jti })),
  })
  t.equal(replay.statusCode, 400)
  t.match(replay.body, 'This assertion was used already')
})

t.test('a membership the product no longer lists ends, and its keys stop working', async (t) => {
  const { app } = await build(t, HANDOFF_ENV)
  const { cookie } = await signIn(app)
  const user = (await app.store.users.byEmail('alice@product.example'))!
  const acme = (await app.store.accounts.membershipsOf(user.id)).find((m) => m.account.name === 'Acme')!.account
  // A connection made in Acme: consent, code, token.
  const client = await registerClient(app)
  const { verifier, challenge } = pkce()
  const approved = await approve(app, cookie, authorizeQuery(client.client_id, challenge), {
    account_id: String(acme.id),
  })
  t.equal(approved.statusCode, 302, approved.body)
  const code = new URL(approved.headers.location as string).searchParams.get('code')!
  const token = await tokenRequest(app, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: client.client_id,
    redirect_uri: 'https://client.example/callback',
  })
  t.equal(token.statusCode, 200, token.body)
  const key = token.json().access_token as string
  const call = () =>
    app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...INJECT_HEADERS, authorization: `Bearer ${key}` },
      payload: rpc('tools/list'),
    })
  t.equal((await call()).statusCode, 200)

  // Next sign-in: the product lists Beta only.
  await signIn(app, { accounts: [{ id: 'org-2', name: 'Beta', role: 'owner' }] })
  t.equal((await call()).statusCode, 401, 'the key in the account they left is refused at once')
  t.same(
    (await app.store.accounts.membershipsOf(user.id)).map((m) => [m.account.name, m.role]),
    [['Beta', 'owner']],
    'Acme gone, the role in Beta raised',
  )
  t.equal(await app.store.accounts.roleOf(user.id, acme.id), undefined, 'not a member of Acme')
  t.equal(await app.store.consents.get(user.id, client.client_id), undefined, 'the consent there is gone')
  const events = await app.store.audit.list(acme.id, { limit: 10 })
  t.ok(
    events.some((e) => e.event === 'membership_removed' && e.detail.revokedKeys === 1),
    'audited, with the keys it revoked',
  )

  // The membership row is kept (keys name it): a consent for Acme is still refused.
  const again = pkce()
  const forged = await approve(app, cookie, authorizeQuery(client.client_id, again.challenge), {
    account_id: String(acme.id),
  })
  t.equal(forged.statusCode, 403, 'no consent for an account they left')
  t.equal(await app.store.consents.get(user.id, client.client_id), undefined)

  // Listed again later: a member again, with what the product says.
  await signIn(app)
  t.equal(await app.store.accounts.roleOf(user.id, acme.id), 'admin')
  t.equal((await call()).statusCode, 401, 'the revoked key stays revoked')
})

t.test('an email that belongs to another person at the product is refused', async (t) => {
  const { app } = await build(t, HANDOFF_ENV)
  await signIn(app)
  const { res } = await signIn(app, { sub: 'u-2' })
  t.equal(res.statusCode, 400)
  t.match(res.body, 'belongs to another person')
})

t.test('in handoff mode the password form is gone and the CLI does not add users', async (t) => {
  const { app, dir } = await build(t, HANDOFF_ENV)
  const post = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    payload: 'email=a%40b.c&password=x',
  })
  t.equal(post.statusCode, 404)
  const out: string[] = []
  const err: string[] = []
  const code = await main(['user', 'add', '--email', 'a@example.com'], {
    password: async () => 'long enough',
    out: (l) => void out.push(l),
    err: (l) => void err.push(l),
    env: testEnv(dir, HANDOFF_ENV),
  })
  t.equal(code, 1)
  t.match(err.join('\n'), 'user add is not used with KEYGATE_LOGIN=handoff')
})

t.test('signing out offers the product sign-out and does not sign straight back in', async (t) => {
  const { app } = await build(t, { ...HANDOFF_ENV, KEYGATE_LOGOUT_URL: `${PRODUCT}/logout` })
  const { cookie } = await signIn(app)
  const page = await app.inject({ url: '/logout', headers: { cookie } })
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!
  const out = await app.inject({
    method: 'POST',
    url: '/logout',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `csrf=${csrf}`,
  })
  t.equal(out.statusCode, 200)
  t.match(out.body, `href="${PRODUCT}/logout"`)
  t.equal((await app.inject({ url: '/dashboard', headers: { cookie } })).statusCode, 303, 'signed out')
})

t.test('JWKS: asymmetric keys fetched from the product, rotation by kid, unknown kid refused', async (t) => {
  const keys = [await generateKeyPair('ES256'), await generateKeyPair('ES256')]
  const published = [await exportJWK(keys[0]!.publicKey)].map((k) => ({ ...k, kid: 'k1', alg: 'ES256' }))
  let fetches = 0
  const port = await freePort()
  const server = createServer((_req, res) => {
    fetches++
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { KEYGATE_HANDOFF_SECRET: _, ...jwksEnv } = HANDOFF_ENV
  const { app } = await build(t, {
    ...jwksEnv,
    KEYGATE_HANDOFF_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
    KEYGATE_HANDOFF_JWKS_COOLDOWN_SECONDS: '1',
  })
  const signWith = async (state: string, kid: string, key: CryptoKey) =>
    new SignJWT(claimsFor(state, app.now())).setProtectedHeader({ alg: 'ES256', kid }).sign(key)

  const a = await startSignIn(app)
  const ok = await finish(app, a.cookie, {
    state: a.state,
    assertion: await signWith(a.state, 'k1', keys[0]!.privateKey),
  })
  t.equal(ok.statusCode, 303, ok.body)

  const b = await startSignIn(app)
  const unknown = await finish(app, b.cookie, {
    state: b.state,
    assertion: await signWith(b.state, 'k2', keys[1]!.privateKey),
  })
  t.equal(unknown.statusCode, 400)
  t.match(unknown.body, 'a key (kid) the product&#39;s JWKS does not hold')

  const hs = await startSignIn(app)
  const symmetric = await finish(app, hs.cookie, {
    state: hs.state,
    assertion: await sign(claimsFor(hs.state, app.now())),
  })
  t.equal(symmetric.statusCode, 400, 'HS256 is refused when keys come from a JWKS')

  t.match(symmetric.body, 'alg is not one keygate accepts')
  t.equal(fetches, 1, 'the keys were fetched once and cached')

  // The product rotates: k2 is published; after the cooldown keygate fetches again for it.
  published.push({ ...(await exportJWK(keys[1]!.publicKey)), kid: 'k2', alg: 'ES256' })
  await new Promise((r) => setTimeout(r, 1100))
  const c = await startSignIn(app)
  const rotated = await finish(app, c.cookie, {
    state: c.state,
    assertion: await signWith(c.state, 'k2', keys[1]!.privateKey),
  })
  t.equal(rotated.statusCode, 303, rotated.body)
  t.equal(fetches, 2, 'fetched again for the new kid')
})

t.test('an existing person is linked by email only when the email is verified', async (t) => {
  const { app } = await build(t, HANDOFF_ENV)
  // A person from before sign-in went through the product, with a live key.
  const local = await app.store.users.create({
    email: 'local@corp.example',
    name: 'Local',
    passwordHash: 'x',
    createdAt: app.now(),
  })
  const account = await app.store.accounts.create({
    name: 'Local personal',
    kind: 'personal',
    ownerId: local.id,
    createdAt: app.now(),
  })
  const key = await createKey(app, { userId: local.id, accountId: account.id })
  const claimer = { sub: 'claimer', email: 'local@corp.example', accounts: undefined }
  for (const verified of [undefined, false, 'yes']) {
    const { res } = await signIn(app, { ...claimer, email_verified: verified })
    t.equal(res.statusCode, 400, `email_verified ${verified}: refused`)
    t.match(
      res.body,
      verified === 'yes'
        ? 'email_verified: Invalid input'
        : 'the sign-in did not say the address is verified, so it cannot be linked',
    )
  }
  const after = await rawRows(app.config, `SELECT external_id FROM users WHERE id = ${local.id}`)
  t.equal(after[0]!.external_id, null, 'not linked')
  t.equal((await app.store.keys.byId(key.key.id))!.revokedAt, null, 'the key is untouched')
  const reasons = (await rawRows(app.config, "SELECT detail FROM audit_events WHERE event = 'signin_failed'")).map(
    (r) => JSON.parse(String(r.detail)).reason,
  )
  t.same(reasons, ['email_unverified', 'email_unverified', 'bad_claim'], 'audited (a non-boolean is a bad claim)')

  const { res } = await signIn(app, { ...claimer, email_verified: true })
  t.equal(res.statusCode, 303, 'a verified email links the person')
  const linked = (await app.store.users.byEmail('local@corp.example'))!
  t.equal(linked.id, local.id, 'the same person, who keeps their keys')
  t.equal(linked.emailVerified, true)
  t.equal((await app.store.keys.byId(key.key.id))!.revokedAt, null)
  const { userClaims } = await import('../../src/oauth/id-token.js')
  t.same(userClaims(linked, ['email']), { sub: String(local.id), email: 'local@corp.example', email_verified: true })
  // The product's latest word: the address no longer said to be verified.
  await signIn(app, { ...claimer })
  const now = (await app.store.users.byId(local.id))!
  t.equal(now.emailVerified, false, 'unverified again when the product stops saying so')
  t.equal(userClaims(now, ['email']).email_verified, false, 'and keygate as an OpenID Provider says so')
})

t.test('KEYGATE_HANDOFF_TRUST_EMAIL: every email the product sends counts as verified', async (t) => {
  const { app } = await build(t, { ...HANDOFF_ENV, KEYGATE_HANDOFF_TRUST_EMAIL: 'true' })
  const local = await app.store.users.create({
    email: 'local@corp.example',
    name: 'Local',
    passwordHash: 'x',
    createdAt: app.now(),
  })
  const { res } = await signIn(app, { sub: 'claimer', email: 'local@corp.example' })
  t.equal(res.statusCode, 303)
  const linked = (await app.store.users.byEmail('local@corp.example'))!
  t.equal(linked.id, local.id, 'linked')
  t.equal(linked.emailVerified, true)
})
