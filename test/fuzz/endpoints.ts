// Generated bad input at every endpoint group, through real HTTP (fast-check). Shared by the
// seeded suite in `npm test` (seeded.ts and the *.test.ts beside it) and the long run (`npm run fuzz`, run.ts).
//
// Properties, for every input: no 5xx and the process keeps answering; OAuth endpoints answer
// RFC 6749 JSON ({error, error_description}) with Cache-Control: no-store; no JSON null
// except JSON-RPC's id; pages answer HTML; nothing is minted that the input did not earn
// (no key row appears from forged codes or tokens).
import { createServer, type Server } from 'node:http'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { getGlobalDispatcher, request } from 'undici'
import { createKey, createUser, findNull } from '../helper.js'
import { MCP_HEADERS } from '../support/mcp.js'

export type Target = { app: FastifyInstance; base: string }
export type Group = {
  name: string
  property: (target: Target, ctx: Context) => fc.IAsyncProperty<never> | fc.IAsyncProperty<any>
}
export type Context = {
  clientId: string
  /** A client registered for the device grant only. */
  deviceClientId: string
  redirectUri: string
  key: string
  email: string
  password: string
  docs: string
}

/** The environment of the keygate under fuzz: limits out of the way, documents from a local server allowed. */
export const FUZZ_ENV = {
  KEYGATE_RATE_LIMIT_REGISTER: '100000000',
  KEYGATE_RATE_LIMIT_TOKEN: '100000000',
  KEYGATE_RATE_LIMIT_AUTHORIZE: '100000000',
  KEYGATE_RATE_LIMIT_LOGIN: '100000000',
  KEYGATE_RATE_LIMIT_MCP: '100000000',
  KEYGATE_RATE_LIMIT_MCP_AUTH_FAILURES: '100000000',
  KEYGATE_LOGIN_MAX_FAILURES: '100000000',
  KEYGATE_LOGIN_EMAIL_CEILING: '100000000',
  KEYGATE_CIMD_ALLOW_PRIVATE: 'true',
  KEYGATE_CIMD_TIMEOUT_MS: '300',
}

const REDIRECT = 'https://client.example/callback'
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

/** Client metadata documents that misbehave (large, trickling, invalid), for /authorize. */
export async function hostileDocuments(): Promise<{ base: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    if (path.startsWith('/big')) return res.writeHead(200, { 'content-length': '6000' }).end('x'.repeat(6000))
    if (path.startsWith('/trickle')) {
      res.writeHead(200, { 'content-type': 'application/json' })
      const timer = setInterval(() => res.write(' '), 50)
      return res.on('close', () => clearInterval(timer))
    }
    if (path.startsWith('/ok')) {
      const id = `http://127.0.0.1:${(server.address() as { port: number }).port}${path}`
      return res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ client_id: id, client_name: 'Doc \u202Eclient', redirect_uris: [REDIRECT] }))
    }
    return res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(path.includes('null') ? 'null' : '{"client_id":1}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server }
}

export async function prepare(target: Target, docs: string): Promise<Context> {
  const { app } = target
  const { user, account } = await createUser(app, 'fuzz@example.com', 'fuzz password 1')
  const key = await createKey(app, { userId: user.id, accountId: account.id })
  const res = await request(`${target.base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Fuzz', redirect_uris: [REDIRECT] }),
  })
  const client = (await res.body.json()) as { client_id: string }
  const device = await request(`${target.base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Fuzz device', grant_types: [DEVICE_GRANT] }),
  })
  const deviceClient = (await device.body.json()) as { client_id: string }
  return {
    clientId: client.client_id,
    deviceClientId: deviceClient.client_id,
    redirectUri: REDIRECT,
    key: key.token,
    email: 'fuzz@example.com',
    password: 'fuzz password 1',
    docs,
  }
}

// ---- generators -------------------------------------------------------------------------

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({
    unit: fc.constantFrom(
      '\u0000',
      '\u202E',
      '\u2028',
      '\uFEFF',
      '\uD800',
      '%',
      '&',
      '=',
      '+',
      '"',
      '<',
      '\\',
      '/',
      '.',
      ':',
      '\r\n',
    ),
    maxLength: 12,
  }),
  fc.constantFrom(
    '',
    ' ',
    '..',
    '.',
    'null',
    'undefined',
    '[]',
    '{}',
    'true',
    '0',
    '-1',
    '1e309',
    'NaN',
    '__proto__',
    'constructor',
  ),
  fc.nat().map(String),
  fc.string({ minLength: 5000, maxLength: 20000 }),
)

const formValue = (ctx: Context, known: Array<(c: Context) => string>) =>
  fc.oneof({ weight: 3, arbitrary: text }, { weight: 2, arbitrary: fc.constantFrom(...known).map((f) => f(ctx)) })

/** A form body from chosen field names, each absent, once or repeated, plus stray fields. */
function formBody(ctx: Context, fields: string[], known: Array<(c: Context) => string>) {
  const value = formValue(ctx, known)
  return fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom(...fields), value), { maxLength: 10 }),
      fc.array(fc.tuple(fc.oneof(text, fc.constantFrom(...fields)), text), { maxLength: 3 }),
    )
    .map(([known, stray]) => new URLSearchParams([...known, ...stray]).toString())
}

const contentType = fc.constantFrom(
  'application/x-www-form-urlencoded',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded; charset=utf-16',
  '',
  'application/json; charset=latin1',
)

const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(
    fc.constantFrom(
      'client_name',
      'redirect_uris',
      'client_uri',
      'logo_uri',
      'tos_uri',
      'policy_uri',
      'grant_types',
      'response_types',
      'token_endpoint_auth_method',
      'scope',
      'contacts',
      'application_type',
      'software_id',
      '__proto__',
    ),
    fc.jsonValue({ maxDepth: 2 }),
  ),
)

// ---- checks -----------------------------------------------------------------------------

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: string }

async function send(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  // The path is sent as it is: a URL parser would resolve dot segments (even %2E%2E) first.
  const res = await getGlobalDispatcher().request({
    origin: base,
    path,
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers,
    body: init.body,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

function fail(why: string, answer: Answer): never {
  throw new Error(
    `${why}: HTTP ${answer.status} ${String(answer.headers['content-type'])} ${answer.body.slice(0, 300)}`,
  )
}

function checkNo5xx(answer: Answer): void {
  if (answer.status >= 500) fail('a 5xx', answer)
}

/** RFC 6749 §5.2 JSON with Cache-Control: no-store and no JSON null. */
function checkOAuthJson(answer: Answer, allowed: number[] = []): void {
  checkNo5xx(answer)
  if (answer.headers['cache-control'] !== 'no-store') fail('no Cache-Control: no-store', answer)
  let json: unknown
  try {
    json = answer.body === '' ? {} : JSON.parse(answer.body)
  } catch {
    fail('not JSON', answer)
  }
  if (findNull(json)) fail(`a JSON null at ${findNull(json)}`, answer)
  if (answer.status >= 400) {
    const e = json as { error?: unknown; error_description?: unknown }
    if (typeof e.error !== 'string' || typeof e.error_description !== 'string') fail('not an RFC 6749 error', answer)
  } else if (!allowed.includes(answer.status)) {
    fail('an unexpected success', answer)
  }
}

function checkPage(answer: Answer, base: string, ctx: Context): void {
  checkNo5xx(answer)
  // A URL longer than Node's header limit is refused by the HTTP parser, before any route.
  if (answer.status === 431) return
  if (answer.status >= 300 && answer.status < 400) {
    const location = String(answer.headers.location ?? '')
    // A redirect goes to our own pages or to the registered redirect URI, nowhere else.
    const ok =
      location.startsWith('/') && !location.startsWith('//') ? true : location.startsWith(`${ctx.redirectUri}?`)
    if (!ok) fail(`a redirect to ${location}`, answer)
    return
  }
  if (!String(answer.headers['content-type']).startsWith('text/html')) fail('not an HTML page', answer)
  void base
}

async function stillAlive(base: string): Promise<void> {
  const health = await send(base, '/healthz', {})
  if (health.status !== 200) throw new Error(`the process stopped answering: /healthz ${health.status}`)
}

// ---- groups -----------------------------------------------------------------------------

export const GROUPS: Group[] = [
  {
    name: 'register',
    property: ({ base }) =>
      fc.asyncProperty(
        fc.oneof(
          anyJson.map((j) => JSON.stringify(j)),
          text,
        ),
        contentType,
        async (body, type) => {
          const answer = await send(base, '/register', { method: 'POST', headers: { 'content-type': type }, body })
          checkOAuthJson(answer, [201])
        },
      ),
  },
  {
    name: 'register (valid redirect, any display fields)',
    property: ({ base }) =>
      fc.asyncProperty(
        fc.record(
          {
            client_name: fc.oneof(text, fc.jsonValue()),
            client_uri: fc.oneof(text, fc.jsonValue()),
            logo_uri: fc.oneof(text, fc.webUrl()),
            tos_uri: text,
            policy_uri: text,
          },
          { requiredKeys: [] },
        ),
        async (fields) => {
          const answer = await send(base, '/register', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ redirect_uris: [REDIRECT], ...fields }),
          })
          // Display-only fields never make a registration fail (RFC 7591 §2).
          // (413: a body past the registration limit, whatever its fields.)
          if (answer.status !== 201 && answer.status !== 413 && !/client_name/.test(answer.body))
            fail('a registration refused over display-only fields', answer)
          checkOAuthJson(answer, [201])
        },
      ),
  },
  {
    name: 'token',
    property: ({ base, app }, ctx) =>
      fc.asyncProperty(
        formBody(
          ctx,
          [
            'grant_type',
            'code',
            'code_verifier',
            'redirect_uri',
            'client_id',
            'client_secret',
            'refresh_token',
            'device_code',
            'scope',
            'resource',
          ],
          [
            (c) => c.clientId,
            (c) => c.deviceClientId,
            (c) => c.redirectUri,
            () => 'authorization_code',
            () => 'refresh_token',
            () => DEVICE_GRANT,
            (c) => c.key,
            () => 'eyJhbGciOiJIUzI1NiJ9.e30.x',
          ],
        ),
        contentType,
        fc.option(
          fc.oneof(
            text.map((t) => `Basic ${t}`),
            text.map((t) => `Basic ${Buffer.from(t).toString('base64')}`),
            text,
          ),
        ),
        async (body, type, authorization) => {
          const before = (await app.store.keys.list({})).length
          // undici refuses to send a header value with CR, LF or characters above U+00FF.
          const sendable = authorization !== null && /^[\t\x20-\x7e\x80-\xff]*$/.test(authorization)
          const answer = await send(base, '/token', {
            method: 'POST',
            headers: { 'content-type': type, ...(sendable ? { authorization } : {}) },
            body,
          })
          checkOAuthJson(answer)
          if ((await app.store.keys.list({})).length !== before) throw new Error('a key was minted from forged input')
        },
      ),
  },
  {
    name: 'revoke and introspect',
    property: ({ base }, ctx) =>
      fc.asyncProperty(
        fc.constantFrom('/revoke', '/introspect'),
        formBody(ctx, ['token', 'token_type_hint', 'client_id', 'client_secret'], [(c) => c.key, (c) => c.clientId]),
        contentType,
        async (path, body, type) => {
          const answer = await send(base, path, { method: 'POST', headers: { 'content-type': type }, body })
          checkOAuthJson(answer, [200])
        },
      ),
  },
  {
    name: 'device',
    property: ({ base, app }, ctx) =>
      fc.asyncProperty(
        fc.constantFrom('POST /device_authorization', 'GET /device', 'POST /device', 'POST /device/approve'),
        formBody(
          ctx,
          ['client_id', 'client_secret', 'scope', 'resource', 'user_code', 'csrf', 'decision', 'account_id'],
          [(c) => c.deviceClientId, (c) => c.clientId, () => 'BCDF-GHJK', () => 'approve', () => `${base}/mcp`],
        ),
        contentType,
        async (route, body, type) => {
          const [method, path] = route.split(' ') as [string, string]
          const before = (await app.store.keys.list({})).length
          const answer =
            method === 'GET'
              ? await send(base, `${path}?${body}`, {})
              : await send(base, path, { method, headers: { 'content-type': type }, body })
          if (path === '/device_authorization') checkOAuthJson(answer, [200])
          else checkPage(answer, base, ctx)
          if ((await app.store.keys.list({})).length !== before) throw new Error('a key was minted from forged input')
          await stillAlive(base)
        },
      ),
  },
  {
    name: 'authorize',
    property: ({ base }, ctx) =>
      fc.asyncProperty(
        formBody(
          ctx,
          [
            'client_id',
            'redirect_uri',
            'response_type',
            'state',
            'code_challenge',
            'code_challenge_method',
            'resource',
            'scope',
          ],
          [
            (c) => c.clientId,
            (c) => c.redirectUri,
            () => 'code',
            () => 'S256',
            () => 'A'.repeat(43),
            (c) => `${c.docs}/big.json`,
            (c) => `${c.docs}/trickle.json`,
            (c) => `${c.docs}/ok.json`,
            (c) => `${c.docs}/null.json`,
          ],
        ),
        async (query) => {
          const answer = await send(base, `/authorize?${query}`, {})
          checkPage(answer, base, ctx)
          await stillAlive(base)
        },
      ),
  },
  {
    name: 'login',
    property: ({ base }, ctx) =>
      fc.asyncProperty(
        formBody(
          ctx,
          ['email', 'password', 'return_to', 'csrf'],
          [(c) => c.email, (c) => c.password, () => '/dashboard'],
        ),
        fc.oneof(
          text,
          text.map((t) => `/${t}`),
        ),
        async (body, returnTo) => {
          const page = await send(base, '/login', {})
          const cookie = String(page.headers['set-cookie']).split(';')[0]!
          const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!
          // Half the cases carry a valid CSRF token and the right password, so the sign-in succeeds and return_to is used.
          const valid = new URLSearchParams({
            csrf,
            email: ctx.email,
            password: ctx.password,
            return_to: returnTo,
          }).toString()
          for (const form of [body, valid]) {
            const answer = await send(base, '/login', {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
              body: form,
            })
            checkPage(answer, base, ctx)
          }
        },
      ),
  },
  {
    name: 'mcp',
    property: ({ base }, ctx) =>
      fc.asyncProperty(
        fc.oneof(
          anyJson.map((j) => JSON.stringify(j)),
          text,
          fc
            .record(
              {
                jsonrpc: fc.constant('2.0'),
                id: fc.oneof(fc.nat(), text, fc.constant(null)),
                method: fc.constantFrom('tools/call', 'tools/list', 'initialize', 'ping', 'x'),
                params: fc.record(
                  {
                    name: fc.oneof(text, fc.constantFrom('list_notes', 'get_note', 'create_note')),
                    arguments: fc.dictionary(text, fc.jsonValue({ maxDepth: 2 })),
                  },
                  { requiredKeys: [] },
                ),
              },
              { requiredKeys: [] },
            )
            .map((r) => JSON.stringify(r)),
        ),
        fc.option(contentType),
        fc.option(text),
        fc.boolean(),
        async (body, type, version, withKey) => {
          const headers: Record<string, string> = {
            ...MCP_HEADERS,
            ...(withKey ? { authorization: `Bearer ${ctx.key}` } : {}),
          }
          if (type !== null) headers['content-type'] = type
          if (version !== null && /^[\x20-\x7e]*$/.test(version)) headers['mcp-protocol-version'] = version
          const answer = await send(base, '/mcp', { method: 'POST', headers, body })
          checkNo5xx(answer)
          if (answer.status === 202 && answer.body === '') return
          const json = JSON.parse(answer.body) as Record<string, unknown>
          const nullAt = findNull(Array.isArray(json) ? json.map((m) => ({ ...m, id: 0 })) : { ...json, id: 0 })
          if (nullAt) fail(`a JSON null at ${nullAt}`, answer)
        },
      ),
  },
  {
    name: 'well-known and unknown paths',
    property: ({ base }) =>
      fc.asyncProperty(
        fc.oneof(
          text,
          fc.constantFrom(
            'openid-configuration',
            'oauth-authorization-server',
            'oauth-protected-resource',
            'oauth-protected-resource/mcp',
          ),
        ),
        fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS'),
        async (tail, method) => {
          // OPTIONS as browsers send it: a CORS preflight.
          const headers: Record<string, string> =
            method === 'OPTIONS' ? { origin: 'https://inspector.example', 'access-control-request-method': 'GET' } : {}
          // (A lone surrogate cannot be percent-encoded: it is sent as U+FFFD.)
          // Dot segments are encoded, or the client itself would resolve them away from /.well-known.
          const path = encodeURIComponent(Buffer.from(tail).toString('utf8'))
            .replaceAll('%2F', '/')
            .split('/')
            .map((seg) => (/^\.+$/.test(seg) ? seg.replaceAll('.', '%2E') : seg))
            .join('/')
          const answer = await send(base, `/.well-known/${path}`, { method, headers })
          checkNo5xx(answer)
          if (answer.status >= 300 && answer.status < 400) fail('a redirect on metadata', answer)
          if (answer.status !== 204 && !String(answer.headers['content-type']).startsWith('application/json'))
            fail('not JSON', answer)
        },
      ),
  },
]
