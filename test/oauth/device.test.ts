// The device authorization grant (RFC 8628): the endpoint, the /device pages, polling at
// /token with every answer it can give, and the inputs that must be refused.
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { USER_CODE_ALPHABET } from '../../src/oauth/device.js'
import { DEVICE_ENTRY_LIMITS } from '../../src/web/device.js'
import { build, codeFor, createUser, csrfOf, registerClient, sessionCookie, tokenRequest } from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const form = { 'content-type': 'application/x-www-form-urlencoded' }

async function deviceClient(app: FastifyInstance, grants = [DEVICE_GRANT, 'refresh_token']) {
  const res = await app.inject({
    method: 'POST',
    url: '/register',
    payload: { client_name: 'Headless CLI', grant_types: grants, token_endpoint_auth_method: 'none' },
  })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json() as { client_id: string; grant_types: string[] }
}

async function startDevice(app: FastifyInstance, clientId: string, extra: Record<string, string> = {}) {
  const res = await app.inject({
    method: 'POST',
    url: '/device_authorization',
    headers: form,
    payload: new URLSearchParams({ client_id: clientId, ...extra }).toString(),
  })
  return res
}

const poll = (app: FastifyInstance, clientId: string, deviceCode: string) =>
  tokenRequest(app, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId })

/** The signed-in person enters the code and decides on the consent page. */
async function decide(app: FastifyInstance, cookie: string, userCode: string, decision: 'approve' | 'deny') {
  const entry = await app.inject({ url: `/device?user_code=${userCode}`, headers: { cookie } })
  const consent = await app.inject({
    method: 'POST',
    url: '/device',
    headers: { cookie, ...form },
    payload: new URLSearchParams({ csrf: csrfOf(entry.body), user_code: userCode }).toString(),
  })
  if (consent.statusCode !== 200) throw new Error(`consent page: ${consent.statusCode} ${consent.body.slice(0, 500)}`)
  const account = /name="account_id" value="(\d+)"/.exec(consent.body)![1]!
  const done = await app.inject({
    method: 'POST',
    url: '/device/approve',
    headers: { cookie, ...form },
    payload: new URLSearchParams({
      csrf: csrfOf(consent.body),
      user_code: userCode,
      account_id: account,
      decision,
      scope_choice: 'write',
    }).toString(),
  })
  return { consent, done }
}

t.test('a device is authorized: code, entry, consent, polling, one key', async (t) => {
  const { app, clock } = await build(t, { KEYGATE_ACCESS_TTL: '3600' })
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const client = await deviceClient(app)

  const meta = (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json()
  t.equal(meta.device_authorization_endpoint, 'http://localhost:3000/device_authorization')
  t.ok(meta.grant_types_supported.includes(DEVICE_GRANT))

  const started = await startDevice(app, client.client_id)
  t.equal(started.statusCode, 200, started.body)
  t.equal(started.headers['cache-control'], 'no-store')
  const body = started.json()
  const letters = `[${USER_CODE_ALPHABET}]{4}`
  t.match(body.user_code, new RegExp(`^${letters}-${letters}$`), 'XXXX-XXXX from the alphabet without look-alikes')
  t.ok(body.device_code.length >= 43, 'a device code of 256 bits')
  t.equal(body.verification_uri, 'http://localhost:3000/device')
  t.equal(body.verification_uri_complete, `http://localhost:3000/device?user_code=${body.user_code}`)
  t.equal(body.expires_in, 600)
  t.equal(body.interval, 5)

  // Not decided yet; then too soon: slow_down, and the interval grows by 5 seconds.
  t.equal((await poll(app, client.client_id, body.device_code)).json().error, 'authorization_pending')
  const fast = await poll(app, client.client_id, body.device_code)
  t.same(fast.json(), { error: 'slow_down', error_description: 'polling too fast: wait 10 seconds between requests' })
  clock.advance(6)
  t.equal((await poll(app, client.client_id, body.device_code)).json().error, 'slow_down', '6 s is too soon now')
  clock.advance(16)
  t.equal((await poll(app, client.client_id, body.device_code)).json().error, 'authorization_pending')

  // Without a session, /device sends the person to sign in and back with the code.
  const anonymous = await app.inject({ url: `/device?user_code=${body.user_code}` })
  t.equal(anonymous.statusCode, 302)
  t.equal(anonymous.headers.location, `/login?return_to=${encodeURIComponent(`/device?user_code=${body.user_code}`)}`)
  const entry = await app.inject({ url: `/device?user_code=${body.user_code}`, headers: { cookie } })
  t.match(entry.body, `value="${body.user_code}"`, 'the code is filled in from verification_uri_complete')

  // Typed in lower case without the dash: the same code.
  const typed = body.user_code.replace('-', '').toLowerCase()
  const { consent, done } = await decide(app, cookie, typed, 'approve')
  t.match(consent.body, 'A device is asking')
  t.match(consent.body, 'Headless CLI')
  t.match(done.body, 'Device connected')

  clock.advance(30)
  const token = await poll(app, client.client_id, body.device_code)
  t.equal(token.statusCode, 200, token.body)
  const issued = token.json()
  t.equal(issued.token_type, 'Bearer')
  t.equal(issued.scope, 'read write')
  t.ok(issued.refresh_token, 'a refresh token: keys expire and the client registered refresh_token')
  const key = (await app.store.keys.byHash(app.store.keys.hash(issued.access_token)))!
  t.equal(key.clientId, client.client_id)
  t.equal(key.resource, 'http://localhost:3000/mcp')
  t.match(key.familyId, /^device:/)
  const call = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...INJECT_HEADERS, authorization: `Bearer ${issued.access_token}` },
    payload: rpc('tools/call', { name: 'list_notes', arguments: {} }),
  })
  t.equal(call.statusCode, 200)

  // Redeemed once.
  clock.advance(30)
  t.equal((await poll(app, client.client_id, body.device_code)).json().error, 'invalid_grant')
  const dashboard = await app.inject({ url: '/dashboard', headers: { cookie } })
  t.match(dashboard.body, /Headless CLI<\/bdi> <span class="muted">\(device\)<\/span>/, 'listed as a device key')
})

t.test('denied, expired, and concurrent polls of one approved code', async (t) => {
  const { app, clock } = await build(t)
  const { account } = await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const client = await deviceClient(app, [DEVICE_GRANT])

  const denied = (await startDevice(app, client.client_id)).json()
  const { done } = await decide(app, cookie, denied.user_code, 'deny')
  t.match(done.body, 'Device refused')
  t.same((await poll(app, client.client_id, denied.device_code)).json(), {
    error: 'access_denied',
    error_description: 'the user denied the request',
  })
  const log = await app.store.audit.list(account.id, { limit: 10 })
  t.ok(
    log.some((e) => e.event === 'consent_denied' && e.detail.via === 'device'),
    'the denial is in the account log',
  )

  const late = (await startDevice(app, client.client_id)).json()
  clock.advance(601)
  t.equal((await poll(app, client.client_id, late.device_code)).json().error, 'expired_token')
  const entry = await app.inject({ url: '/device', headers: { cookie } })
  const expired = await app.inject({
    method: 'POST',
    url: '/device',
    headers: { cookie, ...form },
    payload: new URLSearchParams({ csrf: csrfOf(entry.body), user_code: late.user_code }).toString(),
  })
  t.equal(expired.statusCode, 400, 'an expired code is not offered for approval')
  t.match(expired.body, 'not waiting for approval')

  const approved = (await startDevice(app, client.client_id)).json()
  await decide(app, cookie, approved.user_code, 'approve')
  const polls = await Promise.all(Array.from({ length: 10 }, () => poll(app, client.client_id, approved.device_code)))
  t.equal(polls.filter((r) => r.statusCode === 200).length, 1, 'exactly one key')
  t.equal((await app.store.keys.list({ accountId: account.id })).length, 1)
})

t.test('bad inputs are refused with RFC 6749 / RFC 8628 errors', async (t) => {
  const { app, clock } = await build(t)
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const client = await deviceClient(app)
  const other = await deviceClient(app, [DEVICE_GRANT])
  const browserOnly = await registerClient(app)

  const refused = await startDevice(app, browserOnly.client_id)
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().error, 'unauthorized_client', 'a client that did not register the device grant')
  t.equal((await startDevice(app, 'nobody')).json().error, 'invalid_client')
  t.equal(
    (await startDevice(app, client.client_id, { resource: 'https://elsewhere.example/mcp' })).json().error,
    'invalid_target',
  )
  const json = await app.inject({
    method: 'POST',
    url: '/device_authorization',
    payload: { client_id: client.client_id, scope: 'read' },
  })
  t.equal(json.statusCode, 200, 'a JSON body, like /token')

  const { device_code, user_code } = (await startDevice(app, client.client_id)).json()
  t.equal((await poll(app, client.client_id, 'not-a-device-code')).json().error, 'invalid_grant')
  t.same((await poll(app, other.client_id, device_code)).json(), {
    error: 'invalid_grant',
    error_description: 'the device code was issued to another client',
  })
  t.equal(
    (await tokenRequest(app, { grant_type: DEVICE_GRANT, client_id: client.client_id })).json().error,
    'invalid_request',
    'no device_code',
  )
  const asCode = await tokenRequest(app, {
    grant_type: 'authorization_code',
    code: device_code,
    redirect_uri: 'https://client.example/callback',
    code_verifier: 'x'.repeat(43),
    client_id: client.client_id,
  })
  t.equal(asCode.json().error, 'invalid_grant', 'a device code is not an authorization code')
  const { code, client: webClient } = await codeFor(app)
  t.equal(
    (await poll(app, webClient.client_id, code)).json().error,
    'unauthorized_client',
    'a browser client cannot poll',
  )
  t.equal(
    (await poll(app, client.client_id, code)).json().error,
    'invalid_grant',
    'an authorization code is not a device code',
  )

  // Entries of the wrong shape are refused with a readable page.
  const enter = async (value: string) => {
    const page = await app.inject({ url: '/device', headers: { cookie } })
    return app.inject({
      method: 'POST',
      url: '/device',
      headers: { cookie, ...form },
      payload: new URLSearchParams({ csrf: csrfOf(page.body), user_code: value }).toString(),
      remoteAddress: '198.51.100.7',
    })
  }
  const problems: Array<[string, string]> = [
    ['BCDF-GHJ', 'A code has 8 letters, like BCDF-GHJK; this one has 7.'],
    ['BCDF-GHJKL', 'A code has 8 letters, like BCDF-GHJK; this one has 9.'],
    ['BCDF-GHJ0', 'no vowels, digits or other signs (0).'],
    // Eight letters, with vowels: the page says what is wrong, not that it is not 8 letters.
    ['AEIO-UBCD', 'no vowels, digits or other signs (A, E, I, O, U).'],
    ['<script>', 'no vowels, digits or other signs.'],
  ]
  for (const [wrong, says] of problems) {
    const body = (await enter(wrong)).body
    t.match(body, says, wrong)
    t.notMatch(body, '<script>', `${wrong}: nothing typed is echoed unescaped`)
  }
  t.equal((await enter('BCDF-GHJK')).statusCode, 429, 'five wrong entries: the user is slowed')
  clock.advance(DEVICE_ENTRY_LIMITS.slowSeconds)
  t.equal((await enter(user_code)).statusCode, 200, 'after the pause, the right code goes through')
  const csrfless = await app.inject({
    method: 'POST',
    url: '/device',
    headers: { cookie, ...form },
    payload: new URLSearchParams({ user_code }).toString(),
  })
  t.equal(csrfless.statusCode, 403)
})

t.test('guessing codes from one address is locked out, whoever signs in', async (t) => {
  const { app } = await build(t)
  const guesses: number[] = []
  for (let i = 0; i < DEVICE_ENTRY_LIMITS.maxPerAddress + 1; i++) {
    const email = `mallory${i % 5}@example.com`
    if (!(await app.store.users.byEmail(email))) await createUser(app, email)
    const cookie = await sessionCookie(app, email)
    const page = await app.inject({ url: '/device', headers: { cookie } })
    const res = await app.inject({
      method: 'POST',
      url: '/device',
      headers: { cookie, ...form },
      payload: new URLSearchParams({ csrf: csrfOf(page.body), user_code: 'BCDF-GHJK' }).toString(),
      remoteAddress: '203.0.113.9',
    })
    guesses.push(res.statusCode)
  }
  t.same(guesses.slice(0, DEVICE_ENTRY_LIMITS.maxPerAddress), Array(DEVICE_ENTRY_LIMITS.maxPerAddress).fill(400))
  t.equal(guesses.at(-1), 429, 'locked out after the limit')
})

t.test('registration: a device-only client needs no redirect URI', async (t) => {
  const { app } = await build(t)
  const client = await deviceClient(app, [DEVICE_GRANT])
  t.same(client.grant_types, [DEVICE_GRANT])
  const missing = await app.inject({ method: 'POST', url: '/register', payload: { client_name: 'x' } })
  t.same(missing.json(), { error: 'invalid_redirect_uri', error_description: 'redirect_uris is required' })
})

t.test('/device sends a signed-out person to sign in, in every mode, and back with the code only', async (t) => {
  const { app } = await build(t, {
    KEYGATE_LOGIN: 'handoff',
    KEYGATE_HANDOFF_URL: 'https://product.example/keygate-handoff',
    KEYGATE_HANDOFF_ISSUER: 'https://product.example',
    KEYGATE_HANDOFF_SECRET: 'product-handoff-secret-0123456789-abcdef',
  })
  const res = await app.inject({ url: `/device?user_code=bcdfghjk&junk=${'x'.repeat(20000)}` })
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, `/login?return_to=${encodeURIComponent('/device?user_code=BCDF-GHJK')}`)
  const login = await app.inject({ url: res.headers.location as string })
  t.equal(login.statusCode, 303, 'the product signs the person in')
  t.match(login.headers.location, /^https:\/\/product\.example\/keygate-handoff\?/)
  t.equal((await app.inject({ url: '/device?user_code=%3Cscript%3E' })).headers.location, '/login?return_to=%2Fdevice')
})
