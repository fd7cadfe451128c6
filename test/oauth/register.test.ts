import t from 'tap'
import { build, findNull } from '../helper.js'

const register = (app: any, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/register', payload, headers })

// Every redirect URI real MCP clients were seen registering (INTEROP.md).
const IN_THE_WILD = [
  'https://claude.ai/api/mcp/auth_callback',
  'https://claude.com/api/mcp/auth_callback',
  'https://chatgpt.com/connector/oauth/abc123XYZ',
  'cursor://anysphere.cursor-mcp/oauth/callback',
  'https://vscode.dev/redirect',
  'http://127.0.0.1:33418/',
  'http://localhost:6274/oauth/callback',
  'http://localhost/callback',
  'http://[::1]:8080/cb',
]

t.test('every redirect URI seen in the wild registers', async (t) => {
  const { app } = await build(t)
  for (const uri of IN_THE_WILD) {
    const res = await register(app, { client_name: 'c', redirect_uris: [uri] })
    t.equal(res.statusCode, 201, uri)
  }
  // Cursor sends three at once.
  const cursor = await register(app, {
    client_name: 'Cursor',
    redirect_uris: [
      'cursor://anysphere.cursor-mcp/oauth/callback',
      'https://cursor.com/cb',
      'http://127.0.0.1:5000/cb',
    ],
  })
  t.equal(cursor.statusCode, 201)
  t.same(cursor.json().redirect_uris, [
    'cursor://anysphere.cursor-mcp/oauth/callback',
    'https://cursor.com/cb',
    'http://127.0.0.1:5000/cb',
  ])
})

t.test('dangerous redirect URIs are refused with invalid_redirect_uri', async (t) => {
  const { app } = await build(t)
  const cases: Array<[string, string]> = [
    ['javascript:alert(1)', 'uses the forbidden scheme javascript:'],
    ['data:text/html,<script>alert(1)</script>', 'uses the forbidden scheme data:'],
    ['data:text/html;base64,PHNjcmlwdD4=', 'uses the forbidden scheme data:'],
    ['file:///etc/passwd', 'uses the forbidden scheme file:'],
    ['https://client.example/cb#frag', 'must not contain a fragment (RFC 6749 §3.1.2)'],
    ['https://claude.ai@evil.example/cb', 'must not contain userinfo'],
    ['https://user:pw@evil.example/cb', 'must not contain userinfo'],
    ['https://evil.example\\@claude.ai/cb', 'contains spaces, control characters or backslashes'],
    ['http://evil.example/cb', 'must use https (http is allowed only for loopback, RFC 8252 §7.3)'],
    ['http://localhost.evil.example/cb', 'must use https (http is allowed only for loopback, RFC 8252 §7.3)'],
    ['/relative/cb', 'is not an absolute URI'],
    ['https://client.example/\ncb', 'contains spaces, control characters or backslashes'],
    [`https://client.example/${'a'.repeat(2100)}`, 'is longer than 2000 characters'],
  ]
  for (const [uri, why] of cases) {
    const res = await register(app, { client_name: 'bad', redirect_uris: ['https://ok.example/cb', uri] })
    t.equal(res.statusCode, 400, uri.slice(0, 60))
    t.same(
      res.json(),
      { error: 'invalid_redirect_uri', error_description: `redirect_uri ${JSON.stringify(uri.slice(0, 200))} ${why}` },
      uri.slice(0, 60),
    )
  }
})

t.test('bad metadata is refused with invalid_client_metadata', async (t) => {
  const { app } = await build(t)
  const ok = { redirect_uris: ['https://ok.example/cb'] }
  const cases: Array<[unknown, string, string]> = [
    [[1, 2], 'invalid_client_metadata', 'the request body must be a JSON object'],
    [{}, 'invalid_redirect_uri', 'redirect_uris is required'],
    [{ redirect_uris: [] }, 'invalid_redirect_uri', 'redirect_uris must be a non-empty array of strings'],
    [
      { redirect_uris: 'https://ok.example/cb' },
      'invalid_redirect_uri',
      'redirect_uris must be a non-empty array of strings',
    ],
    [
      { redirect_uris: Array.from({ length: 11 }, (_, i) => `https://ok.example/${i}`) },
      'invalid_redirect_uri',
      'redirect_uris may hold at most 10 entries',
    ],
    [
      { ...ok, token_endpoint_auth_method: 'private_key_jwt' },
      'invalid_client_metadata',
      'token_endpoint_auth_method must be one of: none, client_secret_basic, client_secret_post',
    ],
    [
      { ...ok, grant_types: ['implicit'] },
      'invalid_client_metadata',
      'grant_type implicit is not supported (supported: authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code)',
    ],
    [
      { ...ok, grant_types: ['refresh_token'] },
      'invalid_client_metadata',
      'grant_types must include authorization_code or urn:ietf:params:oauth:grant-type:device_code',
    ],
    [{ ...ok, response_types: ['token'] }, 'invalid_client_metadata', 'response_types may only contain "code"'],
    [{ ...ok, client_name: 42 }, 'invalid_client_metadata', 'client_name must be a string'],
    [{ ...ok, client_name: 'x'.repeat(201) }, 'invalid_client_metadata', 'client_name must be at most 200 characters'],
    [{ ...ok, contacts: 'me@example.com' }, 'invalid_client_metadata', 'contacts must be an array of strings'],
    [{ ...ok, application_type: 'desktop' }, 'invalid_client_metadata', 'application_type must be "web" or "native"'],
  ]
  for (const [payload, error, description] of cases) {
    const res = await register(app, payload)
    t.equal(res.statusCode, 400, description)
    t.same(res.json(), { error, error_description: description })
  }
  const form = await register(app, 'redirect_uris=https://ok.example/cb', {
    'content-type': 'application/x-www-form-urlencoded',
  })
  t.same(form.json(), {
    error: 'invalid_client_metadata',
    error_description: 'the request body must be application/json',
  })
  const broken = await register(app, '{"redirect_uris": [', { 'content-type': 'application/json' })
  t.equal(broken.statusCode, 400)
  t.equal(broken.json().error, 'invalid_request')
  const huge = await register(app, { ...ok, client_name: 'x', padding: 'y'.repeat(20_000) })
  t.equal(huge.statusCode, 413)
  t.same(huge.json(), { error: 'invalid_request', error_description: 'request body is too large' })
})

t.test('a public registration: 201, echoes metadata, no secret, no null, persists', async (t) => {
  const { app, config, clock } = await build(t)
  const body = {
    client_name: 'Claude',
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'claudeai read',
    application_type: 'web',
    software_id: 'x',
    unknown_field: { nested: true },
    client_uri: null,
    logo_uri: 'https://claude.ai/logo.png',
  }
  const res = await register(app, body)
  t.equal(res.statusCode, 201)
  t.equal(res.headers['cache-control'], 'no-store')
  const json = res.json()
  t.equal(findNull(json), null, 'no null anywhere')
  t.type(json.client_id, 'string')
  t.equal(json.client_id_issued_at, Math.floor(clock.ms / 1000))
  t.notOk('client_secret' in json)
  t.notOk('unknown_field' in json, 'unknown fields are accepted, not echoed')
  t.notOk('client_uri' in json, 'a null field is treated as absent')
  t.match(json, {
    client_name: 'Claude',
    redirect_uris: body.redirect_uris,
    token_endpoint_auth_method: 'none',
    grant_types: body.grant_types,
    scope: 'claudeai read',
    logo_uri: body.logo_uri,
  })

  const again = await register(app, body)
  t.equal(again.json().client_id, json.client_id, 'identical public registrations share one client_id')
  const different = await register(app, { ...body, client_name: 'Claude 2' })
  t.not(different.json().client_id, json.client_id)

  // Registrations survive a restart: a new app on the same database file knows the client.
  const { buildApp } = await import('../../src/server/app.js')
  const second = await buildApp(config)
  t.teardown(() => second.close())
  t.equal((await second.store.clients.byId(json.client_id))?.clientName, 'Claude')

  const omitted = await register(app, { redirect_uris: ['https://x.example/cb'] })
  t.equal(omitted.json().token_endpoint_auth_method, 'none', 'absent method means a public client')
  t.notOk('client_secret' in omitted.json())
})

t.test('confidential registrations get a secret, stored hashed, never deduplicated', async (t) => {
  const { app } = await build(t)
  for (const method of ['client_secret_basic', 'client_secret_post']) {
    const body = {
      client_name: 'Hosted',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      token_endpoint_auth_method: method,
    }
    const a = (await register(app, body)).json()
    const b = (await register(app, body)).json()
    t.type(a.client_secret, 'string')
    t.ok(a.client_secret.length >= 43)
    t.equal(a.client_secret_expires_at, 0)
    t.not(a.client_id, b.client_id)
    const stored = await app.store.clients.byId(a.client_id)
    t.not(stored!.clientSecretHash, a.client_secret)
    t.match(stored!.clientSecretHash, /^[0-9a-f]{64}$/)
    t.equal(findNull(a), null)
  }
})

t.test('display-only fields a client cannot use are dropped, never fatal (RFC 7591 §2)', async (t) => {
  const { app } = await build(t)
  const res = await register(app, {
    client_name: 'mcp-use',
    redirect_uris: ['http://localhost:3000/callback'],
    client_uri: '',
    logo_uri: 'http://localhost:5173/logo.png',
    tos_uri: 'javascript:alert(1)',
    policy_uri: 'https://user:pw@evil.example/p',
  })
  t.equal(res.statusCode, 201, 'registered')
  const json = res.json()
  for (const field of ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri']) t.notOk(field in json, `${field} is dropped`)
  const kept = await register(app, {
    redirect_uris: ['https://ok.example/cb'],
    logo_uri: 'https://ok.example/logo.png',
    client_uri: 42,
  })
  t.equal(kept.statusCode, 201)
  t.equal(kept.json().logo_uri, 'https://ok.example/logo.png', 'an https logo is kept')
  t.notOk('client_uri' in kept.json())
})

t.test('client names lose invisible and reordering characters', async (t) => {
  const { app } = await build(t)
  const cases: Array<[string, string]> = [
    ['Claude\u202E\u2066evil\u2069', 'Claudeevil'],
    ['Cla\u200Bude', 'Claude'],
    ['\uFEFFCursor\u200E', 'Cursor'],
    ['A\u2028B\u0000C\u001b[31m', 'ABC[31m'],
    ['  spaced   out  ', 'spaced out'],
    ['Cur\u3164sor\u2800', 'Cursor'],
  ]
  for (const [raw, expected] of cases) {
    const name = raw
    const res = await register(app, { client_name: name, redirect_uris: ['https://ok.example/cb'] })
    t.equal(res.statusCode, 201)
    t.equal(res.json().client_name, expected, encodeURIComponent(name))
    t.equal((await app.store.clients.byId(res.json().client_id))!.clientName, expected)
  }
  // Characters that draw nothing: bidi and zero-width ones, the Hangul fillers, a blank Braille cell.
  for (const blank of ['\u202E\u200B', '\u3164', '\u2800', '\u115F', '\u1160', '\uFFA0 \u3164']) {
    const invisible = await register(app, { client_name: blank, redirect_uris: ['https://only.example/cb'] })
    t.equal(invisible.statusCode, 201)
    t.notOk('client_name' in invisible.json(), `a name with nothing visible is absent: ${encodeURIComponent(blank)}`)
    t.equal(
      (await app.store.clients.byId(invisible.json().client_id))!.clientName,
      'only.example',
      'the redirect host stands in',
    )
  }
})

t.test('redirect schemes are an allow-list', async (t) => {
  const { app } = await build(t)
  for (const uri of [
    'com.example.app:/oauth2redirect',
    'com.example.app:/cb?x=1',
    'cursor://anysphere.cursor-mcp/oauth/callback',
    'vscode://vscode.github-authentication/did-authenticate',
  ]) {
    t.equal((await register(app, { redirect_uris: [uri] })).statusCode, 201, `${uri} registers`)
  }
  const refused: Array<[string, string]> = [
    [
      'x-javascript:alert(1)',
      'uses the scheme x-javascript:, which is not https, http on loopback, or a private-use scheme in reverse-domain form (RFC 8252 §7.1)',
    ],
    ['jar:https://evil.example/a.jar!/', 'uses the forbidden scheme jar:'],
    ['chrome-extension://abcdefghijklmnop/cb', 'uses the forbidden scheme chrome-extension:'],
    ['myapp:<script>', 'contains markup characters'],
    [
      'myapp://cb',
      'uses the scheme myapp:, which is not https, http on loopback, or a private-use scheme in reverse-domain form (RFC 8252 §7.1)',
    ],
    ['com.example.app:/"onmouseover=x', 'contains markup characters'],
    ['https://client.example/cb?x=<script>', 'contains markup characters'],
  ]
  for (const [uri, why] of refused) {
    const res = await register(app, { redirect_uris: [uri] })
    t.equal(res.statusCode, 400, uri)
    t.same(
      res.json(),
      { error: 'invalid_redirect_uri', error_description: `redirect_uri ${JSON.stringify(uri)} ${why}` },
      uri,
    )
  }
})

t.test('a __proto__ key in a registration is dropped like any unknown field', async (t) => {
  const { app } = await build(t)
  const res = await register(
    app,
    '{"redirect_uris":["https://ok.example/cb"],"client_uri":{"__proto__":""},"__proto__":{"admin":true}}',
    { 'content-type': 'application/json' },
  )
  t.equal(res.statusCode, 201)
  t.notOk('admin' in res.json())
  t.equal(({} as Record<string, unknown>).admin, undefined, 'no prototype was touched')
})

t.test('application_type (SEP-837): a web application is redirected to https on a host of its own', async (t) => {
  const { app } = await build(t)
  const refused: Array<[string[], string]> = [
    [['http://127.0.0.1:33418/callback'], 'http://127.0.0.1:33418/callback'],
    [['https://app.example/cb', 'http://localhost:9000/cb'], 'http://localhost:9000/cb'],
    [['https://localhost/cb'], 'https://localhost/cb'],
    [['com.example.app:/callback'], 'com.example.app:/callback'],
  ]
  for (const [uris, culprit] of refused) {
    const res = await register(app, { application_type: 'web', redirect_uris: uris })
    t.equal(res.statusCode, 400, `web: ${uris.join(' ')}`)
    t.equal(res.json().error, 'invalid_redirect_uri')
    t.match(res.json().error_description, `${culprit} is not a web application's redirect URI`)
    t.match(res.json().error_description, 'application_type "native"', 'says what to register instead')
  }
  const web = await register(app, { application_type: 'web', redirect_uris: ['https://app.example/cb'] })
  t.equal(web.statusCode, 201)
  t.equal(web.json().application_type, 'web', 'echoed')
  // A native application may use loopback, an app scheme and https (RFC 8252 §7), as VS Code does.
  const native = await register(app, {
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1:33418/', 'https://vscode.dev/redirect', 'com.example.app:/callback'],
  })
  t.equal(native.statusCode, 201)
  t.equal(native.json().application_type, 'native')
  // Saying neither: judged by the redirect URIs alone, as before SEP-837 (clients of 2025 send none).
  const unsaid = await register(app, { redirect_uris: ['http://127.0.0.1:1/cb'] })
  t.equal(unsaid.statusCode, 201)
  t.notOk('application_type' in unsaid.json())
})
