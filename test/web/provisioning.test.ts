// The provisioning API: the product says, server to server, that someone's accounts
// changed or that they left. The same sync and revocation as a sign-in, with no sign-in.
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { loadConfig } from '../../src/config/index.js'
import { build, createKey, SECRET } from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

const TOKEN = 'provisioning-token-0123456789-abcdefghij'
const ENV = {
  KEYGATE_LOGIN: 'handoff',
  KEYGATE_HANDOFF_URL: 'https://product.example/h',
  KEYGATE_HANDOFF_ISSUER: 'https://product.example',
  KEYGATE_HANDOFF_SECRET: 'product-handoff-secret-0123456789-abcdef',
  KEYGATE_PROVISIONING_TOKEN: TOKEN,
  KEYGATE_ROLE_SCOPES: 'owner=read write;admin=read write;member=read',
}

const put = (app: FastifyInstance, sub: string, payload: unknown, token = TOKEN) =>
  app.inject({
    method: 'PUT',
    url: `/provisioning/v1/users/${encodeURIComponent(sub)}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: payload as object,
  })
const remove = (app: FastifyInstance, sub: string, token = TOKEN) =>
  app.inject({
    method: 'DELETE',
    url: `/provisioning/v1/users/${encodeURIComponent(sub)}`,
    headers: { authorization: `Bearer ${token}` },
  })

const mcp = (app: FastifyInstance, token: string) =>
  app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...INJECT_HEADERS, authorization: `Bearer ${token}` },
    payload: rpc('tools/list'),
  })

t.test('the token is required, and only with handoff sign-in', async (t) => {
  const { app } = await build(t, ENV)
  for (const [name, res] of [
    ['no token', await app.inject({ method: 'DELETE', url: '/provisioning/v1/users/u-1' })],
    ['wrong token', await remove(app, 'u-1', `${TOKEN}x`)],
    ['a key as token', await remove(app, 'u-1', 'kg_notatoken')],
  ] as const) {
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="keygate-provisioning"', name)
    t.equal(res.json().title, 'Unauthorized', `${name}: problem details`)
  }
  t.equal((await put(app, 'u-1', { email: 'a@b.c' }, 'nope')).statusCode, 401)
  t.throws(() => loadConfig({ KEYGATE_SECRET: SECRET, KEYGATE_PROVISIONING_TOKEN: TOKEN }, { generateSecret: false }), {
    message: /^KEYGATE_PROVISIONING_TOKEN: is used with KEYGATE_LOGIN=handoff or oidc only/,
  })
  t.throws(() => loadConfig({ KEYGATE_SECRET: SECRET, ...ENV, KEYGATE_PROVISIONING_TOKEN: 'short' }), {
    message: /^KEYGATE_PROVISIONING_TOKEN: must be at least 32 bytes long/,
  })
  t.equal((await remove(app, 'u-1', '')).statusCode, 401, 'an empty token is no token')
})

t.test('bad bodies are refused with what is wrong; nothing is created', async (t) => {
  const { app } = await build(t, ENV)
  for (const [payload, detail] of [
    [{}, 'email: '],
    [{ email: 'nope' }, 'email: is not an email address'],
    [{ email: 'moc.evil\u202E@corp.example' }, 'email: holds an invisible or reordering character'],
    [{ email: 'a\u3164@corp.example' }, 'email: holds an invisible or reordering character'],
    [{ email: 'a@b.c', email_verified: 'yes' }, 'email_verified: '],
    [{ email: 'a@b.c', accounts: [{ id: 'o', name: 'O', role: 'root' }] }, 'accounts.0.role: '],
    [{ email: 'a@b.c', accounts: 'o' }, 'accounts: '],
  ] as const) {
    const res = await put(app, 'u-1', payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json().detail, detail)
  }
  t.equal((await put(app, 'x'.repeat(255), { email: 'b@b.c' })).statusCode, 200, 'an id of 255 characters')
  const long = await put(app, 'x'.repeat(256), { email: 'c@b.c' })
  t.equal(long.statusCode, 400, 'an id too long')
  t.match(long.json().detail, 'is 1-255 characters')
  t.equal(await app.store.users.byEmail('a@b.c'), undefined)
  t.equal((await remove(app, 'unknown')).statusCode, 404, 'an unknown person')
})

t.test('accounts changed and a departure, with no sign-in: keys revoked, sessions ended, audited', async (t) => {
  const { app } = await build(t, ENV)
  const made = await put(app, 'u-1', {
    email: 'Alice@Product.example',
    name: 'Alice',
    accounts: [
      { id: 'acme', name: 'Acme', role: 'admin' },
      { id: 'beta', name: 'Beta', role: 'owner' },
    ],
  })
  t.equal(made.statusCode, 200, made.body)
  t.same(
    made.json().changes.map((c: { kind: string; role: string }) => [c.kind, c.role]),
    [
      ['added', 'admin'],
      ['added', 'owner'],
    ],
  )
  const user = (await app.store.users.byEmail('alice@product.example'))!
  const accounts = await app.store.accounts.membershipsOf(user.id)
  const acme = accounts.find((m) => m.account.name === 'Acme')!.account
  const beta = accounts.find((m) => m.account.name === 'Beta')!.account
  const acmeKey = await createKey(app, { userId: user.id, accountId: acme.id }, { scopes: ['read', 'write'] })
  const betaKey = await createKey(app, { userId: user.id, accountId: beta.id }, { scopes: ['read', 'write'] })
  t.equal((await mcp(app, acmeKey.token)).statusCode, 200)

  // Acme lowers her to member: the read-write key there is revoked.
  const lowered = await put(app, 'u-1', {
    email: 'alice@product.example',
    accounts: [
      { id: 'acme', name: 'Acme', role: 'member' },
      { id: 'beta', name: 'Beta', role: 'owner' },
    ],
  })
  t.equal(lowered.statusCode, 200)
  t.match(lowered.json().changes, [{ kind: 'role_changed', role: 'member', previousRole: 'admin', revokedKeys: 1 }])
  t.equal((await mcp(app, acmeKey.token)).statusCode, 401, 'the over-scoped key is refused')
  t.equal((await mcp(app, betaKey.token)).statusCode, 200)

  // She leaves: every membership ends, every key is refused, her sessions end.
  const left = await remove(app, 'u-1')
  t.equal(left.statusCode, 200)
  t.same(
    left
      .json()
      .changes.map((c: { kind: string; revokedKeys: number }) => [c.kind, c.revokedKeys])
      .sort(),
    [
      ['removed', 0],
      ['removed', 1],
    ],
  )
  t.equal((await mcp(app, betaKey.token)).statusCode, 401, 'the key in Beta is refused')
  t.same(await app.store.accounts.membershipsOf(user.id), [], 'a member of nothing')
  t.ok((await app.store.sessions.validAfter(user.id)) > 0, 'her sessions are void')
  const events = await app.store.audit.list(beta.id, { limit: 10 })
  t.ok(events.some((e) => e.event === 'membership_removed' && e.detail.via === 'provisioning'))
  t.equal((await remove(app, 'u-1')).statusCode, 200, 'leaving twice is harmless')
})

t.test('an existing person is linked only when the product says the email is verified', async (t) => {
  const { app } = await build(t, ENV)
  const local = await app.store.users.create({ email: 'l@corp.example', name: 'L', passwordHash: 'x', createdAt: 1 })
  const unverified = await put(app, 'claimer', { email: 'l@corp.example' })
  t.equal(unverified.statusCode, 409)
  t.match(unverified.json().detail, 'not known to be verified (send email_verified: true)')
  t.equal((await app.store.users.byId(local.id))!.emailVerified, false)
  const verified = await put(app, 'claimer', { email: 'l@corp.example', email_verified: true })
  t.equal(verified.statusCode, 200)
  t.equal(verified.json().user.id, local.id, 'linked')
  t.equal((await app.store.users.byId(local.id))!.emailVerified, true)
})
