// Owners manage a team account's members in the dashboard (local sign-in): add, change a
// role, remove after a confirmation; CSRF, owners only, the last owner kept, audited.
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, createKey, createUser, csrfOf, sessionCookie } from '../helper.js'

async function team(t: Parameters<typeof build>[0]) {
  const built = await build(t)
  const { app } = built
  const alice = await createUser(app, 'alice@example.com')
  const bob = await createUser(app, 'bob@example.com')
  await createUser(app, 'carol@example.com')
  const acme = await app.store.accounts.create({
    name: 'Acme',
    kind: 'team',
    ownerId: alice.user.id,
    createdAt: app.now(),
  })
  await app.store.accounts.addMember(acme.id, bob.user.id, 'admin', app.now())
  return { ...built, alice, bob, acme, owner: await sessionCookie(app, 'alice@example.com') }
}

const form = (app: FastifyInstance, cookie: string, url: string, fields: Record<string, string>) =>
  app.inject({
    method: 'POST',
    url,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  })

t.test('an owner adds, re-roles and removes members; each is audited', async (t) => {
  const { app, acme, bob, owner } = await team(t)
  const page = await app.inject({ url: `/dashboard?account=${acme.id}`, headers: { cookie: owner } })
  t.match(page.body, '<h2>Members</h2>')
  t.match(page.body, /<td data-label="Email">bob@example\.com<\/td>/)
  const csrf = csrfOf(page.body)
  const account_id = String(acme.id)

  const added = await form(app, owner, '/dashboard/members', {
    csrf,
    account_id,
    email: 'Carol@Example.com',
    role: 'member',
  })
  t.equal(added.statusCode, 303)
  const carol = (await app.store.users.byEmail('carol@example.com'))!
  t.equal(await app.store.accounts.roleOf(carol.id, acme.id), 'member')
  t.equal(
    (await form(app, owner, '/dashboard/members', { csrf, account_id, email: 'carol@example.com', role: 'member' }))
      .statusCode,
    409,
  )
  t.equal(
    (await form(app, owner, '/dashboard/members', { csrf, account_id, email: 'nobody@example.com', role: 'member' }))
      .statusCode,
    404,
  )
  t.equal(
    (await form(app, owner, '/dashboard/members', { csrf, account_id, email: 'carol@example.com', role: 'god' }))
      .statusCode,
    400,
  )

  t.equal(
    (await form(app, owner, `/dashboard/members/${carol.id}/role`, { csrf, account_id, role: 'admin' })).statusCode,
    303,
  )
  t.equal(await app.store.accounts.roleOf(carol.id, acme.id), 'admin')

  const key = await createKey(app, { userId: bob.user.id, accountId: acme.id })
  const confirm = await form(app, owner, `/dashboard/members/${bob.user.id}/remove`, { csrf, account_id })
  t.equal(confirm.statusCode, 200, 'asks first')
  t.match(confirm.body, 'Remove bob@example.com from Acme?')
  t.equal(await app.store.accounts.roleOf(bob.user.id, acme.id), 'admin', 'nothing changed yet')
  const removed = await form(app, owner, `/dashboard/members/${bob.user.id}/remove`, {
    csrf,
    account_id,
    confirm: 'yes',
  })
  t.equal(removed.statusCode, 303)
  t.equal(await app.store.accounts.roleOf(bob.user.id, acme.id), undefined)
  t.not((await app.store.keys.byHash(app.store.keys.hash(key.token)))!.revokedAt, null, "the member's key is revoked")

  const events = (await app.store.audit.list(acme.id, { limit: 10 })).map((e) => e.event)
  t.same(events.slice(0, 3), ['membership_removed', 'membership_role_changed', 'member_added'])
})

t.test('owners only, CSRF, and the last owner stays', async (t) => {
  const { app, acme, alice, owner } = await team(t)
  const admin = await sessionCookie(app, 'bob@example.com')
  const adminPage = await app.inject({ url: `/dashboard?account=${acme.id}`, headers: { cookie: admin } })
  t.notMatch(adminPage.body, '<h2>Members</h2>', 'an admin does not manage members')
  const csrf = csrfOf(adminPage.body)
  t.equal(
    (
      await form(app, admin, '/dashboard/members', {
        csrf,
        account_id: String(acme.id),
        email: 'carol@example.com',
        role: 'owner',
      })
    ).statusCode,
    404,
  )
  const ownerCsrf = csrfOf((await app.inject({ url: '/dashboard', headers: { cookie: owner } })).body)
  t.equal(
    (
      await form(app, owner, '/dashboard/members', {
        csrf: 'forged',
        account_id: String(acme.id),
        email: 'carol@example.com',
        role: 'member',
      })
    ).statusCode,
    403,
  )
  const last = await form(app, owner, `/dashboard/members/${alice.user.id}/role`, {
    csrf: ownerCsrf,
    account_id: String(acme.id),
    role: 'member',
  })
  t.equal(last.statusCode, 409)
  t.match(last.body, 'An account keeps at least one owner')
  const personal = alice.account.id
  t.equal(
    (
      await form(app, owner, '/dashboard/members', {
        csrf: ownerCsrf,
        account_id: String(personal),
        email: 'carol@example.com',
        role: 'member',
      })
    ).statusCode,
    404,
    'a personal account has no members to manage',
  )
})

t.test('signed in through the product, the product manages members', async (t) => {
  const { app } = await build(t, {
    KEYGATE_LOGIN: 'handoff',
    KEYGATE_HANDOFF_URL: 'https://product.example/keygate-handoff',
    KEYGATE_HANDOFF_ISSUER: 'https://product.example',
    KEYGATE_HANDOFF_SECRET: 'product-handoff-secret-0123456789-abcdef',
  })
  const synced = await app.store.product.sync(
    {
      issuer: 'https://product.example',
      subject: 'u1',
      email: 'a@product.example',
      emailVerified: true,
      name: 'A',
      accounts: [{ id: 'o1', name: 'Org', role: 'owner' }],
    },
    app.now(),
    null,
  )
  t.ok(synced.ok)
  const cookie = await sessionCookie(app, 'a@product.example')
  t.notMatch((await app.inject({ url: '/dashboard', headers: { cookie } })).body, '<h2>Members</h2>')
})
