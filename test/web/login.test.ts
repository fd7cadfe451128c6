import t from 'tap'
import { build, cookiesOf, createUser, csrfOf, signIn } from '../helper.js'
import { rawRows } from '../support/raw.js'

t.test('login page, sign-in, session cookie, sign-out', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  const page = await app.inject({ method: 'GET', url: '/login' })
  t.equal(page.statusCode, 200)
  t.match(page.body, /<label for="email">Email<\/label>/)
  t.match(page.body, /<label for="password">Password<\/label>/)
  t.match(page.body, /<button type="submit">Sign in<\/button>/)
  const cookie = cookiesOf(page)
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie },
    payload: {
      csrf: csrfOf(page.body),
      email: 'Alice@Example.com',
      password: 'correct horse battery',
      return_to: '/authorize?x=1',
    },
  })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/authorize?x=1')
  const set = (res.cookies as any[]).find((c) => c.name === 'keygate_session')
  t.ok(set.httpOnly)
  t.equal(set.sameSite, 'Lax')
  t.equal(set.path, '/')
  const session = cookiesOf(res, cookie)
  t.not(session, cookie, 'a new session (and CSRF nonce) after sign-in')
  const again = await app.inject({ method: 'GET', url: '/login', headers: { cookie: session } })
  t.equal(again.statusCode, 303, 'signed-in users skip the login page')
  const logoutPage = await app.inject({ method: 'GET', url: '/logout', headers: { cookie: session } })
  const out = await app.inject({
    method: 'POST',
    url: '/logout',
    headers: { cookie: session },
    payload: { csrf: csrfOf(logoutPage.body) },
  })
  t.equal(out.statusCode, 303)
  t.match(out.headers['set-cookie'], /keygate_session=;/)
})

t.test('https issuer: __Host- cookie with Secure', async (t) => {
  const { app } = await build(t, { KEYGATE_ISSUER: 'https://mcp.example.com' })
  const page = await app.inject({ method: 'GET', url: '/login' })
  const c = (page.cookies as any[])[0]
  t.equal(c.name, '__Host-keygate_session')
  t.ok(c.secure)
  t.equal(c.path, '/')
  t.equal(c.domain, undefined)
})

t.test('return_to accepts only local paths', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  for (const [target, expected] of [
    ['https://evil.example/', '/dashboard'],
    ['//evil.example/', '/dashboard'],
    ['/\\evil.example', '/dashboard'],
    ['javascript:alert(1)', '/dashboard'],
    ['/dashboard?x=1', '/dashboard?x=1'],
    // A long authorization request (a metadata-document client_id, a long state) comes back whole.
    [`/authorize?state=${'s'.repeat(3000)}`, `/authorize?state=${'s'.repeat(3000)}`],
    [`/authorize?state=${'s'.repeat(5000)}`, '/dashboard'],
  ]) {
    const page = await app.inject({ method: 'GET', url: `/login?return_to=${encodeURIComponent(target!)}` })
    if (expected === '/dashboard') t.match(page.body, /name="return_to" value="\/dashboard"/, `${target} is not echoed`)
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie: cookiesOf(page) },
      payload: {
        csrf: csrfOf(page.body),
        email: 'alice@example.com',
        password: 'correct horse battery',
        return_to: target,
      },
    })
    t.equal(res.headers.location, expected, target!.slice(0, 40))
  }
})

t.test('failed sign-ins are audited and throttled per email', async (t) => {
  const { app, clock } = await build(t, { KEYGATE_LOGIN_MAX_FAILURES: '3', KEYGATE_LOGIN_WINDOW_SECONDS: '600' })
  const { account } = await createUser(app, 'alice@example.com')
  const attempt = async (email: string, password: string) => {
    const page = await app.inject({ method: 'GET', url: '/login' })
    return app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie: cookiesOf(page) },
      payload: { csrf: csrfOf(page.body), email, password },
    })
  }
  for (let i = 0; i < 3; i++) {
    const res = await attempt('alice@example.com', 'wrong')
    t.equal(res.statusCode, 401)
    t.match(res.body, /Wrong email or password/)
  }
  const unknown = await attempt('nobody@example.com', 'wrong')
  t.equal(unknown.statusCode, 401, 'an unknown email gets the same answer')
  const blocked = await attempt('alice@example.com', 'correct horse battery')
  t.equal(blocked.statusCode, 429, 'even the right password is refused while throttled')
  t.equal(blocked.headers['retry-after'], '600')
  t.match(blocked.body, /Too many failed sign-ins/)
  t.equal((await attempt('other@example.com', 'x')).statusCode, 401, 'other emails are unaffected')
  const events = await app.store.audit.list(account.id, { limit: 10 })
  t.equal(events.filter((e) => e.event === 'signin_failed').length, 3, 'failures are audited on the personal account')
  t.ok(events.every((e) => e.ip === '127.0.0.1'))
  clock.advance(601)
  t.equal((await attempt('alice@example.com', 'correct horse battery')).statusCode, 303, 'the window passes')
})

t.test('login POST without or with a wrong CSRF token', async (t) => {
  const { app } = await build(t)
  const { account } = await createUser(app, 'alice@example.com')
  const page = await app.inject({ method: 'GET', url: '/login' })
  const none = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: cookiesOf(page) },
    payload: { email: 'alice@example.com', password: 'correct horse battery' },
  })
  t.equal(none.statusCode, 403)
  const wrong = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: cookiesOf(page) },
    payload: { csrf: 'x', email: 'alice@example.com', password: 'correct horse battery' },
  })
  t.equal(wrong.statusCode, 403)
  t.match(wrong.headers['content-type'], /text\/html/)
  // Neither refused post counted as a failed sign-in: the same form, with its token, signs in.
  t.same(await app.store.audit.list(account.id, { limit: 10 }), [], 'no failure recorded')
  const right = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: cookiesOf(page) },
    payload: { csrf: csrfOf(page.body), email: 'alice@example.com', password: 'correct horse battery' },
  })
  t.equal(right.statusCode, 303)
  t.ok(
    right.cookies.some((c: { name: string; value: string }) => c.name === 'keygate_session' && c.value),
    'signed in',
  )
})

async function loginAttempt(
  app: import('fastify').FastifyInstance,
  email: string,
  password: string,
  remoteAddress = '127.0.0.1',
  returnTo?: string,
) {
  const page = await app.inject({ method: 'GET', url: '/login', remoteAddress })
  return app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress,
    headers: { cookie: cookiesOf(page) },
    payload: { csrf: csrfOf(page.body), email, password, ...(returnTo !== undefined ? { return_to: returnTo } : {}) },
  })
}

t.test('the sign-in limit holds under concurrency: 50 parallel guesses, 5 checked', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  const pages = await Promise.all(Array.from({ length: 50 }, () => app.inject({ method: 'GET', url: '/login' })))
  const results = await Promise.all(
    pages.map((page, i) =>
      app.inject({
        method: 'POST',
        url: '/login',
        headers: { cookie: cookiesOf(page) },
        payload: {
          csrf: csrfOf(page.body),
          email: 'alice@example.com',
          password: i === 49 ? 'correct horse battery' : `wrong ${i}`,
        },
      }),
    ),
  )
  const codes = results.map((r) => r.statusCode)
  t.equal(codes.filter((c) => c === 401).length, 5, 'exactly the limit of passwords were checked')
  t.equal(codes.filter((c) => c === 429).length, 45, 'the rest were refused before the check')
  t.equal(codes[49], 429, 'the 50th (correct) password was not accepted')
})

t.test('failures from other addresses slow an email down but never lock its owner out', async (t) => {
  const { app, clock } = await build(t, {
    KEYGATE_LOGIN_MAX_FAILURES: '3',
    KEYGATE_LOGIN_EMAIL_CEILING: '6',
    KEYGATE_LOGIN_SLOW_SECONDS: '30',
  })
  await createUser(app, 'alice@example.com')
  for (const address of ['203.0.113.1', '203.0.113.2']) {
    for (let i = 0; i < 3; i++)
      t.equal(
        (await loginAttempt(app, 'alice@example.com', 'guess', address)).statusCode,
        401,
        `${address} guess ${i + 1}`,
      )
    const locked = await loginAttempt(app, 'alice@example.com', 'guess', address)
    t.equal(locked.statusCode, 429, `${address} is locked out of this email`)
  }
  const slowed = await loginAttempt(app, 'alice@example.com', 'guess', '203.0.113.3')
  t.equal(slowed.statusCode, 429, 'past the ceiling, a new address is slowed')
  t.equal(slowed.headers['retry-after'], '30')
  t.match(slowed.body, /Try again in 30 seconds/)
  clock.advance(30)
  t.equal(
    (await loginAttempt(app, 'alice@example.com', 'correct horse battery', '198.51.100.9')).statusCode,
    303,
    'the owner gets in from their own address after the pause',
  )
  t.equal(
    (await loginAttempt(app, 'alice@example.com', 'guess', '203.0.113.1')).statusCode,
    429,
    'the locked address stays locked',
  )
})

t.test('a failed sign-in stores no typed text but a known email', async (t) => {
  const { app, config } = await build(t)
  const { account } = await createUser(app, 'alice@example.com')
  t.equal((await loginAttempt(app, 'correct horse battery', 'x')).statusCode, 401)
  t.equal((await loginAttempt(app, 'alice@example.com', 'wrong')).statusCode, 401)
  const events = await app.store.audit.list(account.id, { limit: 10 })
  t.same(
    events.map((e) => e.subject),
    ['alice@example.com'],
  )
  const audit = JSON.stringify(await rawRows(config, 'SELECT * FROM audit_events'))
  t.match(audit, /"event":"signin_failed"/)
  t.notMatch(audit, /correct horse battery/, 'the password typed as an email is not in the audit log')
  const buckets = JSON.stringify(await rawRows(config, 'SELECT * FROM signin_attempts'))
  t.match(buckets, /"bucket":"a:/)
  t.notMatch(
    buckets,
    /correct horse battery|alice@example\.com|127\.0\.0\.1/,
    'throttle buckets hold no typed text, email or address',
  )
})

t.test('return_to with any characters gives a safe Location or /dashboard, never a 500', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  const cases: Array<[string, string]> = [
    ['/dashboard?q=日本', '/dashboard?q=%E6%97%A5%E6%9C%AC'],
    ['/authorize?state=\u0100\u{1F600}', '/authorize?state=%C4%80%F0%9F%98%80'],
    ['/ünïcode/path', '/%C3%BCn%C3%AFcode/path'],
    ['/a\u2028b', '/dashboard'],
    ['/x\u00a0y', '/dashboard'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    ['/./\u0000', '/dashboard'],
    ['/a/../..//evil.example', '/dashboard'],
  ]
  for (const [target, expected] of cases) {
    const res = await loginAttempt(app, 'alice@example.com', 'correct horse battery', '127.0.0.1', target)
    // Messages name the case by its code points: a raw U+2028 would break the TAP stream.
    const name = encodeURIComponent(target)
    t.equal(res.statusCode, 303, name)
    t.equal(res.headers.location, expected, name)
    t.ok(
      res.cookies.some((c: any) => c.name === 'keygate_session' && c.value),
      'the new session is kept',
    )
  }
})

t.test('signing out ends the session server-side: a copied cookie no longer works', async (t) => {
  const { app, clock } = await build(t)
  await createUser(app, 'alice@example.com')
  const cookie = await signIn(app, 'alice@example.com')
  const other = await signIn(app, 'alice@example.com')
  t.equal((await app.inject({ url: '/dashboard', headers: { cookie } })).statusCode, 200)
  const logoutPage = await app.inject({ url: '/logout', headers: { cookie } })
  const out = await app.inject({
    method: 'POST',
    url: '/logout',
    headers: { cookie },
    payload: { csrf: csrfOf(logoutPage.body) },
  })
  t.equal(out.statusCode, 303)
  const copied = await app.inject({ url: '/dashboard', headers: { cookie } })
  t.equal(copied.statusCode, 303, 'the copied cookie is signed out')
  t.match(copied.headers.location, /^\/login/)
  t.equal(
    (await app.inject({ url: '/dashboard', headers: { cookie: other } })).statusCode,
    303,
    'every session of the user ends (sign out everywhere)',
  )
  const again = await signIn(app, 'alice@example.com')
  t.equal(
    (await app.inject({ url: '/dashboard', headers: { cookie: again } })).statusCode,
    200,
    'a new sign-in in the same millisecond works',
  )
  clock.advance(5)
  t.equal((await app.inject({ url: '/dashboard', headers: { cookie: again } })).statusCode, 200)
})
