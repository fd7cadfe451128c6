// KEYGATE_ROLE_SCOPES: a role caps what its members may grant. The consent page and the
// dashboard offer and accept only that; the token endpoint checks again at mint; a role
// the product lowers revokes the keys that exceed it.
import type { FastifyInstance } from 'fastify'
import { SignJWT } from 'jose'
import t from 'tap'
import { loadConfig } from '../../src/config/index.js'
import {
  approve,
  authorizeQuery,
  build,
  cookiesOf,
  createKey,
  createUser,
  csrfOf,
  pkce,
  REDIRECT_URI,
  registerClient,
  SECRET,
  sessionCookie,
  tokenRequest,
} from '../helper.js'

const ROLES = { KEYGATE_ROLE_SCOPES: 'owner=read write;admin=read write;member=read' }

async function team(app: FastifyInstance) {
  const alice = await createUser(app, 'alice@example.com')
  const bob = await createUser(app, 'bob@example.com')
  const account = await app.store.accounts.create({ name: 'Team', kind: 'team', ownerId: alice.user.id, createdAt: 1 })
  await app.store.accounts.addMember(account.id, bob.user.id, 'member', 1)
  return { alice, bob, account }
}

t.test('roles cap scopes: parsed from KEYGATE_ROLE_SCOPES; unlisted roles grant the always scopes', async (t) => {
  const config = loadConfig(
    { KEYGATE_SECRET: SECRET, KEYGATE_SCOPES: 'read write admin', KEYGATE_ROLE_SCOPES: 'owner=read write admin' },
    { generateSecret: false },
  )
  t.same(config.roleScopes, { owner: ['read', 'write', 'admin'], admin: ['read'], member: ['read'] })
  t.equal(loadConfig({ KEYGATE_SECRET: SECRET }, { generateSecret: false }).roleScopes, null, 'unset: no cap')
  for (const [value, message] of [
    ['boss=read', /^KEYGATE_ROLE_SCOPES: entries must look like role=scope scope/],
    ['member=delete', /^KEYGATE_ROLE_SCOPES: delete is not in KEYGATE_SCOPES/],
  ] as const)
    t.throws(() => loadConfig({ KEYGATE_SECRET: SECRET, KEYGATE_ROLE_SCOPES: value }, { generateSecret: false }), {
      message,
    })
})

t.test('a member with member=read cannot obtain write by editing the consent form', async (t) => {
  const { app } = await build(t, ROLES)
  const { bob, account } = await team(app)
  const client = await registerClient(app)
  const cookie = await sessionCookie(app, 'bob@example.com')
  const { challenge } = pkce()
  const query = authorizeQuery(client.client_id, challenge, { scope: 'read write' })
  const page = await app.inject({ url: `/authorize?${query}`, headers: { cookie } })
  t.match(page.body, 'member: may grant read', 'the picker says what the role may grant')

  const forged = await approve(app, cookie, query, { account_id: String(account.id), scope_choice: 'write' })
  t.equal(forged.statusCode, 403)
  t.match(forged.body, 'As member of this account you may grant: read')
  t.equal(await app.store.consents.get(bob.user.id, client.client_id), undefined, 'no consent was written')

  const readOnly = await approve(app, cookie, query, { account_id: String(account.id), scope_choice: [] })
  t.equal(readOnly.statusCode, 302, 'read alone is granted')
  t.same((await app.store.consents.get(bob.user.id, client.client_id))?.scopes, ['read'])
})

t.test('with one account, the consent page offers only what the role there may grant', async (t) => {
  const { app } = await build(t, { ...ROLES, KEYGATE_ROLE_SCOPES: 'owner=read' })
  await createUser(app, 'carol@example.com')
  const client = await registerClient(app)
  const { challenge } = pkce()
  const page = await app.inject({
    url: `/authorize?${authorizeQuery(client.client_id, challenge, { scope: 'read write' })}`,
    headers: { cookie: await sessionCookie(app, 'carol@example.com') },
  })
  t.equal(page.statusCode, 200)
  t.notMatch(page.body, 'value="write"', 'write is not offered')
})

t.test('the dashboard makes no key beyond the role', async (t) => {
  const { app } = await build(t, ROLES)
  const { account } = await team(app)
  const cookie = await sessionCookie(app, 'bob@example.com')
  const dashboard = await app.inject({ url: `/dashboard?account=${account.id}`, headers: { cookie } })
  t.notMatch(dashboard.body, 'name="scopes" value="write"', 'write is not offered to a member')
  const res = await app.inject({
    method: 'POST',
    url: '/dashboard/keys',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      csrf: csrfOf(dashboard.body),
      account_id: String(account.id),
      name: 'sneaky',
      scopes: 'write',
      expires_in_days: 'never',
    }).toString(),
  })
  t.equal(res.statusCode, 403)
  t.match(res.body, 'As member of this account you may grant: read')
})

const PRODUCT = 'https://product.example'
const HANDOFF_SECRET = 'product-handoff-secret-0123456789-abcdef'

/** Signs alice in through the product, with her role in Acme as the product says. */
async function signInAs(app: FastifyInstance, role: 'admin' | 'member') {
  const start = await app.inject({ url: '/login' })
  const state = new URL(start.headers.location as string).searchParams.get('state')!
  const now = app.now()
  const assertion = await new SignJWT({
    email: 'alice@product.example',
    nonce: state,
    accounts: [{ id: 'acme', name: 'Acme', role }],
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(PRODUCT)
    .setAudience('http://localhost:3000')
    .setSubject('u-1')
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .setJti(`${role}-${Math.random()}`)
    .sign(new TextEncoder().encode(HANDOFF_SECRET))
  const res = await app.inject({
    url: `/login/handoff?${new URLSearchParams({ state, assertion })}`,
    headers: { cookie: cookiesOf(start) },
  })
  if (res.statusCode !== 303) throw new Error(`handoff: ${res.statusCode} ${res.body.slice(0, 300)}`)
  return cookiesOf(res)
}

t.test('a role the product lowers: over-scoped keys revoked, a code issued before is refused', async (t) => {
  const { app } = await build(t, {
    ...ROLES,
    KEYGATE_LOGIN: 'handoff',
    KEYGATE_HANDOFF_URL: `${PRODUCT}/h`,
    KEYGATE_HANDOFF_ISSUER: PRODUCT,
    KEYGATE_HANDOFF_SECRET: HANDOFF_SECRET,
  })
  const cookie = await signInAs(app, 'admin')
  const user = (await app.store.users.byEmail('alice@product.example'))!
  const acme = (await app.store.accounts.membershipsOf(user.id))[0]!.account
  const writer = await createKey(app, { userId: user.id, accountId: acme.id }, { scopes: ['read', 'write'] })
  const reader = await createKey(app, { userId: user.id, accountId: acme.id }, { scopes: ['read'] })
  const client = await registerClient(app)
  const { verifier, challenge } = pkce()
  const approved = await approve(app, cookie, authorizeQuery(client.client_id, challenge, { scope: 'read write' }))
  t.equal(approved.statusCode, 302, approved.body)
  const code = new URL(approved.headers.location as string).searchParams.get('code')!

  await signInAs(app, 'member')
  t.equal(await app.store.accounts.roleOf(user.id, acme.id), 'member')
  t.ok((await app.store.keys.byId(writer.key.id))!.revokedAt, 'the read-write key is revoked')
  t.equal((await app.store.keys.byId(reader.key.id))!.revokedAt, null, 'the read key stays')
  const events = await app.store.audit.list(acme.id, { limit: 10 })
  t.ok(
    events.some((e) => e.event === 'membership_role_changed' && e.detail.revokedKeys === 1),
    'audited with the keys it revoked',
  )

  const token = await tokenRequest(app, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
  })
  t.equal(token.statusCode, 400)
  t.same(token.json(), {
    error: 'invalid_grant',
    error_description: "the user's role in the account no longer allows the scopes of this grant",
  })
})
