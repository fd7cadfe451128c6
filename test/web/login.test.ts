import t from 'tap'
import { build, cookiesOf, createUser, csrfOf, signIn } from '../helper.js'

t.test('login page, sign-in, session cookie, sign-out', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  const page = await app.inject({ method: 'GET', url: '/login' })
  t.equal(page.statusCode, 200)
  t.match(page.body, /<label for="email">Email<\/label>/)
  t.match(page.body, /<label for="password">Password<\/label>/)
  t.match(page.body, /<button type="submit">Sign in<\/button>/)
  const cookie = cookiesOf(page)
  const res = await app.inject({ method: 'POST', url: '/login', headers: { cookie }, payload: { csrf: csrfOf(page.body), email: 'Alice@Example.com', password: 'correct horse battery', return_to: '/authorize?x=1' } })
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
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: session }, payload: { csrf: csrfOf(logoutPage.body) } })
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
  ]) {
    const page = await app.inject({ method: 'GET', url: `/login?return_to=${encodeURIComponent(target!)}` })
    if (expected === '/dashboard') t.match(page.body, /name="return_to" value="\/dashboard"/, `${target} is not echoed`)
    const res = await app.inject({ method: 'POST', url: '/login', headers: { cookie: cookiesOf(page) }, payload: { csrf: csrfOf(page.body), email: 'alice@example.com', password: 'correct horse battery', return_to: target } })
    t.equal(res.headers.location, expected, target)
  }
})

t.test('failed sign-ins are audited and throttled per email', async (t) => {
  const { app, clock } = await build(t, { KEYGATE_LOGIN_MAX_FAILURES: '3', KEYGATE_LOGIN_WINDOW_SECONDS: '600' })
  const { account } = await createUser(app, 'alice@example.com')
  const attempt = async (email: string, password: string) => {
    const page = await app.inject({ method: 'GET', url: '/login' })
    return app.inject({ method: 'POST', url: '/login', headers: { cookie: cookiesOf(page) }, payload: { csrf: csrfOf(page.body), email, password } })
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
  await createUser(app, 'alice@example.com')
  const page = await app.inject({ method: 'GET', url: '/login' })
  const none = await app.inject({ method: 'POST', url: '/login', headers: { cookie: cookiesOf(page) }, payload: { email: 'alice@example.com', password: 'correct horse battery' } })
  t.equal(none.statusCode, 403)
  const wrong = await app.inject({ method: 'POST', url: '/login', headers: { cookie: cookiesOf(page) }, payload: { csrf: 'x', email: 'alice@example.com', password: 'correct horse battery' } })
  t.equal(wrong.statusCode, 403)
  t.match(wrong.headers['content-type'], /text\/html/)
  t.ok(await signIn(app, 'alice@example.com'))
})
