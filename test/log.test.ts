import t from 'tap'
import {
  approve,
  authorizeQuery,
  cookiesOf,
  createUser,
  csrfOf,
  loggedApp,
  pkce,
  REDIRECT_URI,
  registerClient,
  tokenRequest,
} from './helper.js'

t.test('secrets never reach a log line', async (t) => {
  const { app, lines } = await loggedApp(t, 'trace')
  const { password } = await createUser(app, 'alice@example.com', 'super-secret-password')
  const page = await app.inject({ method: 'GET', url: '/login' })
  const login = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: cookiesOf(page) },
    payload: { csrf: csrfOf(page.body), email: 'alice@example.com', password },
  })
  const cookie = cookiesOf(login, cookiesOf(page))
  const client = await registerClient(app, { token_endpoint_auth_method: 'client_secret_basic' })
  const { verifier, challenge } = pkce()
  const res = await approve(app, cookie, authorizeQuery(client.client_id, challenge))
  const code = new URL(res.headers.location as string).searchParams.get('code')!
  const basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`
  const token = await tokenRequest(
    app,
    { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI },
    { authorization: basic },
  )
  t.equal(token.statusCode, 200)
  await app.inject({
    method: 'GET',
    url: `/nowhere?code=${code}&access_token=${token.json().access_token}&password=${password}`,
  })
  const all = lines.join('')
  t.ok(lines.length > 10, 'requests were logged')
  const sessionValue = cookie.split('=')[1]!
  for (const [name, secret] of Object.entries({
    password,
    code,
    verifier,
    client_secret: client.client_secret,
    basic,
    access_token: token.json().access_token,
    session: sessionValue,
  })) {
    t.notOk(all.includes(secret), `${name} is not in the logs`)
  }
  t.match(all, /code=\[redacted\]/)
})

t.test('a key anywhere in a URL is redacted by its shape', async (t) => {
  const { app, lines } = await loggedApp(t)
  const { mintToken } = await import('../src/keys/format.js')
  const key = mintToken('kg_').token
  const refresh = mintToken('kgrt_').token
  await app.inject({ url: `/api/v1/${key}/notes?q=${refresh}&x=1` })
  await app.inject({ url: `/mcp/${encodeURIComponent(key)}` })
  const all = lines.join('')
  t.match(all, /\/api\/v1\/\[redacted-key\]\/notes\?q=\[redacted-key\]&x=1/)
  t.notOk(all.includes(key), 'the key in the path is not logged')
  t.notOk(all.includes(refresh), 'the refresh token in a query parameter is not logged')
})

t.test('an OAuthError with a 5xx status is logged with its error and shows no internal message', async (t) => {
  const { app, lines } = await loggedApp(t)
  const { OAuthError } = await import('../src/shared/errors.js')
  app.get('/test-only/fail', async () => {
    throw new OAuthError('server_error', 'the store said: disk /var/lib/x is full', 500)
  })
  const res = await app.inject({ url: '/test-only/fail' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { error: 'server_error', error_description: 'internal server error' })
  t.equal(res.headers['cache-control'], 'no-store')
  const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request failed')
  t.ok(logged, 'the failure is logged')
  t.match(logged?.err?.message, /disk \/var\/lib\/x is full/, 'with its error')
})

t.test("an error's code (ECONNREFUSED) is logged; a code that could be a secret is not", async (t) => {
  const { app, lines } = await loggedApp(t)
  app.get('/test-only/refused', async () => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })
  })
  app.get('/test-only/oauth-code', async (req) => {
    req.log.warn({ body: { code: 'kq3-Zx_8aLpW0s9dEr2vTy' } }, 'a body with an authorization code')
    return {}
  })
  t.equal((await app.inject({ url: '/test-only/refused' })).statusCode, 500)
  await app.inject({ url: '/test-only/oauth-code' })
  const all = lines.join('')
  t.match(all, /"code":"ECONNREFUSED"/, 'the error code is there for the operator')
  t.notOk(all.includes('kq3-Zx_8aLpW0s9dEr2vTy'), 'the authorization code is not')
  t.match(all, /"code":"\[redacted\]"/)
})
