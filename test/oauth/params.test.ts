// Every parameter of every OAuth form and query is one string of bounded length: repeated,
// it is refused; oversized, it is refused; either way with the RFC 6749 error of that
// parameter and nothing minted. Parameters no schema names are ignored (RFC 6749 §3.1).
import t from 'tap'
import {
  authorizeQuery,
  build,
  codeFor,
  createUser,
  pkce,
  REDIRECT_URI,
  registerClient,
  sessionCookie,
} from '../helper.js'

const RS_SECRET = 'resource-server-secret-0123456789abcdef'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const LONG = 'a'.repeat(4097)

function post(app: any, url: string, pairs: Array<[string, string]>, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url,
    headers: { ...FORM, ...headers },
    payload: new URLSearchParams(pairs).toString(),
  })
}

/** The form with `name` sent twice, or with an oversized value. */
function variants(form: Record<string, string>, name: string): Array<[string, Array<[string, string]>]> {
  const others = Object.entries(form).filter(([k]) => k !== name)
  const value = form[name] ?? 'x'
  return [
    ['repeated', [...others, [name, value], [name, value]]],
    ['oversized', [...others, [name, LONG]]],
  ]
}

t.test(
  '/token: each parameter repeated or oversized is refused with its own error, before anything is minted',
  async (t) => {
    const { app } = await build(t)
    const { code, verifier, client } = await codeFor(app)
    const form = {
      grant_type: 'authorization_code',
      client_id: client.client_id,
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      resource: 'http://localhost:3000/mcp',
      scope: 'read',
      refresh_token: 'kgrt_x',
    }
    const errorOf: Record<string, string> = { code_verifier: 'invalid_grant', resource: 'invalid_target' }
    for (const name of Object.keys(form)) {
      for (const [how, pairs] of variants(form, name)) {
        const res = await post(app, '/token', pairs)
        const description = how === 'repeated' ? `${name} must be a single string` : `${name} is too long`
        t.equal(res.statusCode, 400, `${name} ${how}`)
        t.same(
          res.json(),
          { error: errorOf[name] ?? 'invalid_request', error_description: description },
          `${name} ${how}`,
        )
        t.equal(res.headers['cache-control'], 'no-store')
      }
    }
    const unknown = await post(app, '/token', [
      ...Object.entries(form).filter(([k]) => k !== 'refresh_token'),
      ['made_up', 'x'],
      ['made_up', 'y'],
    ])
    t.equal(
      unknown.statusCode,
      200,
      'an unknown parameter, even repeated, is ignored; the code was not spent by the refused requests',
    )
  },
)

t.test('/token: a required parameter sent empty counts as missing (RFC 6749 §3.1)', async (t) => {
  const { app } = await build(t)
  const client = await registerClient(app)
  const res = await post(app, '/token', [
    ['grant_type', 'refresh_token'],
    ['client_id', client.client_id],
    ['refresh_token', ''],
  ])
  t.equal(res.statusCode, 400)
  t.same(
    res.json(),
    { error: 'unsupported_grant_type', error_description: 'grant_type refresh_token is not supported' },
    'without expiring keys there is no refresh grant',
  )
  const { app: withRefresh } = await build(t, { KEYGATE_ACCESS_TTL: '3600' })
  const other = await registerClient(withRefresh)
  const missing = await post(withRefresh, '/token', [
    ['grant_type', 'refresh_token'],
    ['client_id', other.client_id],
    ['refresh_token', ''],
  ])
  t.same(missing.json(), { error: 'invalid_request', error_description: 'refresh_token is required' })
})

t.test('/revoke and /introspect: token and client parameters repeated or oversized', async (t) => {
  const { app } = await build(t, { KEYGATE_RESOURCE_SERVERS: `rs:${RS_SECRET}` })
  const { code, verifier, client } = await codeFor(app)
  const minted = await post(app, '/token', [
    ['grant_type', 'authorization_code'],
    ['client_id', client.client_id],
    ['code', code],
    ['redirect_uri', REDIRECT_URI],
    ['code_verifier', verifier],
  ])
  const token = minted.json().access_token as string
  const revokeForm = { client_id: client.client_id, token, token_type_hint: 'access_token' }
  for (const name of Object.keys(revokeForm)) {
    for (const [how, pairs] of variants(revokeForm, name)) {
      const res = await post(app, '/revoke', pairs)
      t.equal(res.statusCode, 400, `/revoke ${name} ${how}`)
      t.same(res.json(), {
        error: 'invalid_request',
        error_description: how === 'repeated' ? `${name} must be a single string` : `${name} is too long`,
      })
    }
  }
  const basic = `Basic ${Buffer.from(`rs:${RS_SECRET}`).toString('base64')}`
  for (const [how, pairs] of variants({ token }, 'token')) {
    const res = await post(app, '/introspect', pairs, { authorization: basic })
    t.equal(res.statusCode, 400, `/introspect token ${how}`)
    t.equal(res.json().error, 'invalid_request')
  }
  const active = await post(app, '/introspect', [['token', token]], { authorization: basic })
  t.equal(active.json().active, true, 'the refused revocations revoked nothing')
})

t.test('/authorize: phase-two parameters repeated or oversized are reported to the client by redirect', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  const client = await registerClient(app)
  const cookie = await sessionCookie(app, 'alice@example.com')
  const { challenge } = pkce()
  const base = authorizeQuery(client.client_id, challenge)
  const cases: Array<[string, string, string]> = [
    [`${base}&response_type=code`, 'invalid_request', 'response_type must not be repeated'],
    [`${base}&code_challenge=${challenge}`, 'invalid_request', 'code_challenge must not be repeated'],
    [`${base}&scope=read`, 'invalid_request', 'scope must not be repeated'],
    [
      `${base}&resource=http%3A%2F%2Flocalhost%3A3000%2Fmcp`,
      'invalid_target',
      'resource may be given once: this server is one resource',
    ],
    [authorizeQuery(client.client_id, challenge, { scope: 'r'.repeat(4097) }), 'invalid_request', 'scope is too long'],
  ]
  for (const [query, error, description] of cases) {
    const res = await app.inject({ method: 'GET', url: `/authorize?${query}`, headers: { cookie } })
    t.equal(res.statusCode, 302, description)
    const loc = new URL(res.headers.location as string)
    t.equal(`${loc.origin}${loc.pathname}`, REDIRECT_URI)
    t.equal(loc.searchParams.get('error'), error)
    t.equal(loc.searchParams.get('error_description'), description)
  }
  const page = await app.inject({
    method: 'GET',
    url: `/authorize?${authorizeQuery(client.client_id, challenge, { redirect_uri: `${REDIRECT_URI}?${'x'.repeat(4097)}` })}`,
    headers: { cookie },
  })
  t.equal(page.statusCode, 400, 'an oversized redirect_uri is a page, never a redirect')
  t.equal(page.headers.location, undefined)
  t.match(page.body, 'redirect_uri is too long')
})
