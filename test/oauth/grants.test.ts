// Connections: approving an app again replaces its keys; a client shared by many
// installations keeps one connection per installation, with a cap on live keys; an app
// that revokes its last key is disconnected.
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { MAX_LIVE_PER_CONNECTION } from '../../src/oauth/token.js'
import {
  approve,
  authorizeQuery,
  build,
  createUser,
  pkce,
  REDIRECT_URI,
  registerClient,
  sessionCookie,
  signIn,
  tokenRequest,
} from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

/** One approval and exchange, as a client installation at `redirect` does it. */
async function connect(
  app: FastifyInstance,
  cookie: string,
  clientId: string,
  redirect = REDIRECT_URI,
  form: Record<string, string> = {},
) {
  const { verifier, challenge } = pkce()
  const res = await approve(app, cookie, authorizeQuery(clientId, challenge, { redirect_uri: redirect }), form)
  if (res.statusCode !== 302) throw new Error(`approve: ${res.statusCode} ${res.body.slice(0, 300)}`)
  const code = new URL(res.headers.location as string).searchParams.get('code')!
  const token = await tokenRequest(app, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: clientId,
    redirect_uri: redirect,
  })
  if (token.statusCode !== 200) throw new Error(token.body)
  return token.json().access_token as string
}

const works = async (app: FastifyInstance, key: string) =>
  (
    await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { ...INJECT_HEADERS, authorization: `Bearer ${key}` },
      payload: rpc('tools/list'),
    })
  ).statusCode === 200

t.test('a client one installation registered: approving it again replaces its keys', async (t) => {
  const { app } = await build(t)
  const { user, account } = await createUser(app, 'alice@example.com')
  const team = await app.store.accounts.create({ name: 'Team', kind: 'team', ownerId: user.id, createdAt: app.now() })
  const cookie = await sessionCookie(app, 'alice@example.com')
  const client = await registerClient(app, { client_name: 'Claude' })
  const personal = { account_id: String(account.id) }
  const first = await connect(app, cookie, client.client_id, REDIRECT_URI, personal)
  const second = await connect(app, cookie, client.client_id, REDIRECT_URI, { ...personal, scope_choice: '' })
  t.notOk(await works(app, first), 'the first key is revoked')
  t.ok(await works(app, second))
  // Approved again for another account: the key bound to the one un-chosen goes too.
  const third = await connect(app, cookie, client.client_id, REDIRECT_URI, { account_id: String(team.id) })
  t.notOk(await works(app, second))
  t.ok(await works(app, third))
  const live = (await app.store.keys.list({ userId: user.id })).filter((k) => k.revokedAt === null)
  t.equal(live.length, 1, 'one live key per connection')
  const page = await app.inject({ url: `/dashboard?account=${team.id}`, headers: { cookie } })
  t.equal([...page.body.matchAll(/<td data-label="Name">MCP — Claude<\/td>/g)].length, 1)
})

t.test(
  'a client many installations share: one connection per installation, capped; other devices stay in',
  async (t) => {
    const { app } = await build(t)
    const { user } = await createUser(app, 'alice@example.com')
    const cookie = await sessionCookie(app, 'alice@example.com')
    const laptop = 'https://claude.example/callback/laptop'
    const phone = 'https://claude.example/callback/phone'
    await app.store.clients.upsert(
      {
        clientId: 'claude.example',
        clientName: 'Claude',
        redirectUris: [laptop, phone],
        tokenEndpointAuthMethod: 'none',
        clientSecretHash: null,
        metadata: { grant_types: ['authorization_code'] },
        source: 'config',
      },
      app.now(),
    )
    const onPhone = await connect(app, cookie, 'claude.example', phone)
    const onLaptop: string[] = []
    for (let i = 0; i < MAX_LIVE_PER_CONNECTION; i++)
      onLaptop.push(await connect(app, cookie, 'claude.example', laptop))
    t.ok(await works(app, onPhone), 'signing in on the laptop does not log the phone out')
    for (const key of onLaptop) t.ok(await works(app, key), `${MAX_LIVE_PER_CONNECTION} live keys at one installation`)
    const another = await connect(app, cookie, 'claude.example', laptop)
    t.notOk(await works(app, onLaptop[0]!), 'past the cap, the oldest key of that installation is revoked')
    t.ok(await works(app, onLaptop[1]!))
    t.ok(await works(app, another))
    t.ok(await works(app, onPhone))
    const rows = (await app.store.keys.listForAccount((await app.store.accounts.membershipsOf(user.id))[0]!.account.id))
      .filter((k) => k.clientId === 'claude.example')
      .map((k) => k.installation)
    t.same(rows.sort(), [laptop, phone], 'the dashboard lists one row per installation')
  },
)

t.test('the app revokes its last key at /revoke: it is disconnected and leaves Connected apps', async (t) => {
  const { app } = await build(t)
  const { account } = await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  const laptop = 'https://shared.example/a'
  const phone = 'https://shared.example/b'
  await app.store.clients.upsert(
    {
      clientId: 'shared.example',
      clientName: 'Shared',
      redirectUris: [laptop, phone],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      metadata: {},
      source: 'config',
    },
    app.now(),
  )
  const a = await connect(app, cookie, 'shared.example', laptop)
  const b = await connect(app, cookie, 'shared.example', phone)
  const revoke = (token: string) =>
    app.inject({
      method: 'POST',
      url: '/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token, client_id: 'shared.example' }).toString(),
    })
  t.equal((await revoke(a)).statusCode, 200)
  const userId = (await app.store.users.byEmail('alice@example.com'))!.id
  t.ok(await app.store.consents.get(userId, 'shared.example'), 'another device still holds a key: still connected')
  t.equal((await revoke(b)).statusCode, 200)
  t.equal(await app.store.consents.get(userId, 'shared.example'), undefined, 'the last key gone: the consent too')
  const page = await app.inject({ url: '/dashboard', headers: { cookie } })
  t.notMatch(page.body, /data-client-id="shared\.example"/, 'gone from Connected apps')
  const events = await app.store.audit.list(account.id, { limit: 10 })
  t.equal(events.filter((e) => e.event === 'app_disconnected').length, 1)
})

t.test(
  'a disabled client: its key refused on /mcp, its authorizations refused with a page, its token requests refused',
  async (t) => {
    const { app } = await build(t)
    const { account } = await createUser(app, 'alice@example.com')
    const cookie = await sessionCookie(app, 'alice@example.com')
    const client = await registerClient(app, { client_name: 'Rogue' })
    const key = await connect(app, cookie, client.client_id, REDIRECT_URI, { account_id: String(account.id) })
    const { verifier, challenge } = pkce()
    const pending = await approve(app, cookie, authorizeQuery(client.client_id, challenge))
    const code = new URL(pending.headers.location as string).searchParams.get('code')!
    t.ok(await works(app, key))
    t.same(await app.store.clients.disable(client.client_id, app.now()), { revokedKeys: 1 })
    t.notOk(await works(app, key), 'its key stops working on the next request')
    const page = await app.inject({
      url: `/authorize?${authorizeQuery(client.client_id, pkce().challenge)}`,
      headers: { cookie },
    })
    t.equal(page.statusCode, 403)
    t.match(page.body, 'Application disabled')
    const token = await tokenRequest(app, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: client.client_id,
      redirect_uri: REDIRECT_URI,
    })
    t.same(token.json(), {
      error: 'invalid_client',
      error_description: 'this client has been disabled by the operator',
    })
    t.equal(
      await app.store.consents.get((await app.store.users.byEmail('alice@example.com'))!.id, client.client_id),
      undefined,
    )
    const again = await app.inject({
      method: 'POST',
      url: '/register',
      payload: { client_name: 'Rogue', redirect_uris: [REDIRECT_URI] },
    })
    t.equal(again.json().error, 'invalid_client_metadata', 'registering the same metadata again does not bring it back')
  },
)

t.test('a disabled user cannot sign in, and their session ends', async (t) => {
  const { app } = await build(t)
  const { user } = await createUser(app, 'alice@example.com')
  const cookie = await signIn(app, 'alice@example.com')
  t.equal((await app.inject({ url: '/dashboard', headers: { cookie } })).statusCode, 200)
  await app.store.admin.disableUser(user.id, app.now())
  t.equal((await app.inject({ url: '/dashboard', headers: { cookie } })).statusCode, 303, 'signed out')
  await t.rejects(signIn(app, 'alice@example.com'), { message: /sign-in failed/ }, 'the right password is not enough')
})

t.test('registration policy: allowed redirect hosts, and never-used registrations expire', async (t) => {
  const { app, clock } = await build(t, {
    KEYGATE_REGISTRATION_REDIRECT_HOSTS: 'claude.ai,*.example.com',
    KEYGATE_REGISTRATION_TTL: '86400',
  })
  const register = (uri: string) =>
    app.inject({ method: 'POST', url: '/register', payload: { client_name: 'x', redirect_uris: [uri] } })
  for (const uri of [
    'https://claude.ai/api/mcp/auth_callback',
    'https://app.example.com/cb',
    'http://127.0.0.1:3334/cb',
    'http://localhost/cb',
  ])
    t.equal((await register(uri)).statusCode, 201, uri)
  for (const uri of [
    'https://evil.test/cb',
    'https://example.com.evil.test/cb',
    'https://example.com/cb',
    'https://xclaude.ai/cb',
  ]) {
    const res = await register(uri)
    t.equal(res.json().error, 'invalid_redirect_uri', uri)
  }
  // One used (a consent), one never used.
  await createUser(app, 'alice@example.com')
  const used = (await register('https://claude.ai/used')).json()
  const idle = (await register('https://claude.ai/idle')).json()
  const cookie = await sessionCookie(app, 'alice@example.com')
  await approve(
    app,
    cookie,
    authorizeQuery(used.client_id, pkce().challenge, { redirect_uri: 'https://claude.ai/used' }),
  )
  clock.advance(86401)
  const { cleanExpired } = await import('../../src/plugins/cleanup.js')
  t.ok((await cleanExpired(app)).clients >= 1)
  t.equal(await app.store.clients.byId(idle.client_id), undefined, 'never used: deleted')
  t.ok(await app.store.clients.byId(used.client_id), 'used: kept')
})
