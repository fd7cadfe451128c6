import t from 'tap'
import {
  approve,
  authorizeQuery,
  build,
  createKey,
  createUser,
  csrfOf,
  pkce,
  REDIRECT_URI,
  registerClient,
  sessionCookie,
  tokenRequest,
} from '../helper.js'

async function team(t: any) {
  const built = await build(t)
  const { app } = built
  const owner = await createUser(app, 'owner@example.com')
  const admin = await createUser(app, 'admin@example.com')
  const m1 = await createUser(app, 'member1@example.com')
  const m2 = await createUser(app, 'member2@example.com')
  const outsider = await createUser(app, 'outsider@example.com')
  const acme = await app.store.accounts.create({
    name: 'Acme',
    kind: 'team',
    ownerId: owner.user.id,
    createdAt: app.now(),
  })
  await app.store.accounts.addMember(acme.id, admin.user.id, 'admin', app.now())
  await app.store.accounts.addMember(acme.id, m1.user.id, 'member', app.now())
  await app.store.accounts.addMember(acme.id, m2.user.id, 'member', app.now())
  const k1 = await createKey(app, { userId: m1.user.id, accountId: acme.id })
  const k2 = await createKey(app, { userId: m2.user.id, accountId: acme.id })
  const outsiderKey = await createKey(app, { userId: outsider.user.id, accountId: outsider.account.id })
  return { ...built, owner, admin, m1, m2, outsider, acme, k1, k2, outsiderKey }
}

async function page(app: any, cookie: string, url: string) {
  return app.inject({ method: 'GET', url, headers: { cookie } })
}

async function post(app: any, cookie: string, url: string, form: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(form).toString(),
  })
}

t.test('signed-out visitors are sent to sign in', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/dashboard?account=1' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/login?return_to=%2Fdashboard%3Faccount%3D1')
})

t.test('who sees which keys', async (t) => {
  const { app, acme, k1, k2, outsider } = await team(t)
  for (const [email, sees] of [
    ['owner@example.com', [k1, k2]],
    ['admin@example.com', [k1, k2]],
    ['member1@example.com', [k1]],
  ] as const) {
    const cookie = await sessionCookie(app, email)
    const res = await page(app, cookie, `/dashboard?account=${acme.id}`)
    t.equal(res.statusCode, 200, email)
    const ids = [...res.body.matchAll(/data-key-id="(\d+)"/g)].map((m: RegExpMatchArray) => Number(m[1]))
    t.same(ids.sort(), sees.map((k) => k.key.id).sort(), `${email} sees ${sees.length} keys`)
    t.notMatch(res.body, new RegExp(k1.token), 'never the raw key')
  }
  const cookie = await sessionCookie(app, 'outsider@example.com')
  const foreign = await page(app, cookie, `/dashboard?account=${acme.id}`)
  t.equal(foreign.statusCode, 404, 'another account is not visible')
  t.notMatch(foreign.body, /data-key-id/)
  const own = await page(app, cookie, `/dashboard?account=${outsider.account.id}`)
  t.equal(own.statusCode, 200)
})

t.test('revocation rules: members only their own keys; other accounts 404; forged ids refused', async (t) => {
  const { app, acme, k1, k2, outsiderKey } = await team(t)
  const m1 = await sessionCookie(app, 'member1@example.com')
  const csrf = csrfOf((await page(app, m1, '/dashboard')).body)
  const other = await post(app, m1, `/dashboard/keys/${k2.key.id}/revoke`, { csrf, confirm: 'yes' })
  t.equal(other.statusCode, 403, "a member cannot revoke another member's key")
  t.match(other.body, /Members may revoke only the keys they created/)
  const foreign = await post(app, m1, `/dashboard/keys/${outsiderKey.key.id}/revoke`, { csrf, confirm: 'yes' })
  t.equal(foreign.statusCode, 404, "another account's key id: 404")
  for (const forged of ['99999', 'abc', '1 OR 1=1', '-1']) {
    const res = await post(app, m1, `/dashboard/keys/${encodeURIComponent(forged)}/revoke`, { csrf, confirm: 'yes' })
    t.equal(res.statusCode, 404, `forged id ${forged}`)
  }
  t.equal((await app.store.keys.byId(k2.key.id))!.revokedAt, null)
  t.equal((await app.store.keys.byId(outsiderKey.key.id))!.revokedAt, null)

  const confirm = await post(app, m1, `/dashboard/keys/${k1.key.id}/revoke`, { csrf })
  t.equal(confirm.statusCode, 200, 'the first POST asks for confirmation')
  t.match(confirm.body, /Revoke key "test key"\?/)
  t.equal((await app.store.keys.byId(k1.key.id))!.revokedAt, null, 'nothing revoked before confirmation')
  const done = await post(app, m1, `/dashboard/keys/${k1.key.id}/revoke`, { csrf, confirm: 'yes' })
  t.equal(done.statusCode, 303)
  t.equal(done.headers.location, `/dashboard?account=${acme.id}&done=key_revoked`)
  t.ok((await app.store.keys.byId(k1.key.id))!.revokedAt)

  const admin = await sessionCookie(app, 'admin@example.com')
  const adminCsrf = csrfOf((await page(app, admin, '/dashboard')).body)
  const byAdmin = await post(app, admin, `/dashboard/keys/${k2.key.id}/revoke`, { csrf: adminCsrf, confirm: 'yes' })
  t.equal(byAdmin.statusCode, 303, 'an admin revokes any key of the account')
  const events = await app.store.audit.list(acme.id, { limit: 10 })
  t.same(
    events
      .filter((e) => e.event === 'key_revoked')
      .map((e) => e.actorEmail)
      .sort(),
    ['admin@example.com', 'member1@example.com'],
  )
})

t.test('CSRF: missing or wrong tokens are refused on every dashboard form', async (t) => {
  const { app, acme, k1 } = await team(t)
  const owner = await sessionCookie(app, 'owner@example.com')
  const consentClient = await registerClient(app)
  for (const [url, form] of [
    [`/dashboard/keys/${k1.key.id}/revoke`, { confirm: 'yes' }],
    ['/dashboard/keys', { account_id: String(acme.id), name: 'x' }],
    [`/dashboard/apps/${consentClient.client_id}/disconnect`, {}],
  ] as const) {
    t.equal((await post(app, owner, url, form)).statusCode, 403, `${url} without a token`)
    t.equal((await post(app, owner, url, { ...form, csrf: 'wrong' })).statusCode, 403, `${url} with a wrong token`)
  }
  const other = await sessionCookie(app, 'member1@example.com')
  const otherCsrf = csrfOf((await page(app, other, '/dashboard')).body)
  t.equal(
    (await post(app, owner, `/dashboard/keys/${k1.key.id}/revoke`, { confirm: 'yes', csrf: otherCsrf })).statusCode,
    403,
    "another session's token",
  )
  t.equal((await app.store.keys.byId(k1.key.id))!.revokedAt, null)
  t.equal((await app.store.keys.list({ accountId: acme.id })).length, 2, 'no key created')
})

t.test('create key: validation, account membership, no-store page', async (t) => {
  const { app, acme, outsider } = await team(t)
  const m1 = await sessionCookie(app, 'member1@example.com')
  const csrf = csrfOf((await page(app, m1, '/dashboard')).body)
  const ok = await post(app, m1, '/dashboard/keys', {
    csrf,
    account_id: String(acme.id),
    name: 'laptop',
    expires_in_days: '30',
  })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['cache-control'], 'no-store')
  t.equal(ok.headers['referrer-policy'], 'no-referrer')
  const raw = /<pre class="secret" id="new-key">([^<]+)<\/pre>/.exec(ok.body)![1]!
  const key = (await app.store.keys.list({ accountId: acme.id })).find((k) => k.name === 'laptop')!
  t.same(key.scopes, ['read'], 'write unticked: read only')
  t.equal(key.expiresAt, app.now() + 30 * 86400)
  t.match(ok.body, /This is the only time it is shown/)
  t.match(ok.body, /&quot;KEYGATE_API_KEY&quot;: &quot;kg_/, 'Claude Desktop / Cursor config')
  t.match(ok.body, /\[mcp_servers\.keygate\]/, 'Codex CLI config')
  t.match(ok.body, /mcp-remote/)
  t.ok(raw.startsWith('kg_'))
  const cases: Array<[Record<string, string>, number, RegExp]> = [
    [{ account_id: String(outsider.account.id), name: 'x' }, 404, /nothing here/],
    [{ account_id: 'abc', name: 'x' }, 404, /nothing here/],
    [{ account_id: String(acme.id), name: '   ' }, 400, /Give the key a name/],
    [{ account_id: String(acme.id), name: 'x'.repeat(101) }, 400, /Give the key a name/],
    [{ account_id: String(acme.id), name: 'x', expires_in_days: '3' }, 400, /Choose an expiry/],
  ]
  for (const [form, status, text] of cases) {
    const res = await post(app, m1, '/dashboard/keys', { csrf, ...form })
    t.equal(res.statusCode, status, JSON.stringify(form).slice(0, 80))
    t.match(res.body, text)
  }
})

t.test('connected apps: listed, disconnect revokes every key and deletes the consent', async (t) => {
  const { app } = await build(t)
  const alice = await createUser(app, 'alice@example.com')
  const client = await registerClient(app, { client_name: 'Claude' })
  const cookie = await sessionCookie(app, 'alice@example.com')
  const tokens: string[] = []
  for (let i = 0; i < 2; i++) {
    const { verifier, challenge } = pkce()
    const res = await approve(app, cookie, authorizeQuery(client.client_id, challenge))
    const code = new URL(res.headers.location as string).searchParams.get('code')!
    tokens.push(
      (
        await tokenRequest(app, {
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          client_id: client.client_id,
          redirect_uri: REDIRECT_URI,
        })
      ).json().access_token,
    )
  }
  const dash = await page(app, cookie, '/dashboard')
  t.equal([...dash.body.matchAll(/data-client-id=/g)].length, 1, 're-approval kept one consent row')
  t.match(
    dash.body,
    /<td class="client-name" data-label="App"><bdi>Claude<\/bdi><\/td>\s*<td data-label="Redirects to">client\.example<\/td>/,
  )
  t.equal([...dash.body.matchAll(/<td data-label="Name">MCP — Claude<\/td>/g)].length, 1, 'one row per connection')
  const first = await app.store.keys.byHash(app.store.keys.hash(tokens[0]!))
  t.not(first!.revokedAt, null, 'approving the app again replaced its key')
  const csrf = csrfOf(dash.body)
  const outsider = await createUser(app, 'bob@example.com')
  const bob = await sessionCookie(app, 'bob@example.com')
  const bobCsrf = csrfOf((await page(app, bob, '/dashboard')).body)
  t.equal(
    (await post(app, bob, `/dashboard/apps/${client.client_id}/disconnect`, { csrf: bobCsrf })).statusCode,
    404,
    "another user cannot disconnect alice's app",
  )
  void outsider
  const res = await post(app, cookie, `/dashboard/apps/${client.client_id}/disconnect`, { csrf })
  t.equal(res.statusCode, 303)
  t.equal(await app.store.consents.get(alice.user.id, client.client_id), undefined)
  const keys = await app.store.keys.list({ userId: alice.user.id })
  t.equal(keys.length, 2)
  t.ok(
    keys.every((k) => k.revokedAt !== null),
    'every key of the app is revoked',
  )
  const events = await app.store.audit.list(alice.account.id, { limit: 10 })
  t.equal(events[0]!.event, 'app_disconnected')
  t.same(events[0]!.detail, { revoked_keys: 1 })
  t.equal(events[1]!.event, 'consent_revoked')
  t.same(events[1]!.detail, { scopes: ['read', 'write'] })
  t.equal(
    (await post(app, cookie, `/dashboard/apps/${client.client_id}/disconnect`, { csrf })).statusCode,
    404,
    'twice: nothing left',
  )
})

t.test('audit log: owners and admins only, paginated', async (t) => {
  const { app, acme } = await team(t)
  for (let i = 0; i < 120; i++)
    await app.store.audit.record({
      createdAt: app.now(),
      event: 'key_created',
      accountId: acme.id,
      actorUserId: null,
      subject: String(i),
      ip: '10.0.0.1',
      detail: {},
    })
  const owner = await sessionCookie(app, 'owner@example.com')
  const first = await page(app, owner, `/dashboard/audit?account=${acme.id}`)
  t.equal(first.statusCode, 200)
  t.equal([...first.body.matchAll(/data-event="key_created">Someone created the key “\d+”<\/td>/g)].length, 50)
  const older = /href="(\/dashboard\/audit\?account=\d+&amp;before=\d+)"/.exec(first.body)![1]!.replace('&amp;', '&')
  const second = await page(app, owner, older)
  t.equal([...second.body.matchAll(/data-event="key_created">Someone created the key “\d+”<\/td>/g)].length, 50)
  const third = await page(
    app,
    owner,
    /href="(\/dashboard\/audit\?account=\d+&amp;before=\d+)"/.exec(second.body)![1]!.replace('&amp;', '&'),
  )
  t.equal(
    [...third.body.matchAll(/data-event="key_created">Someone created the key “\d+”<\/td>/g)].length,
    20,
    '120 events, 50 a page',
  )
  t.notMatch(third.body, /Older events/)
  const member = await sessionCookie(app, 'member1@example.com')
  t.equal((await page(app, member, `/dashboard/audit?account=${acme.id}`)).statusCode, 403)
  const outsider = await sessionCookie(app, 'outsider@example.com')
  t.equal((await page(app, outsider, `/dashboard/audit?account=${acme.id}`)).statusCode, 404)
})

t.test('markup in a client name and logo URL shows as text on the consent page and the dashboard', async (t) => {
  const { app } = await build(t)
  await createUser(app, 'alice@example.com')
  const evil = '<script>alert(1)</script><img src=x onerror=alert(2)>'
  const client = await registerClient(app, {
    client_name: evil,
    logo_uri: 'https://evil.example/"><script>alert(3)</script>',
  })
  const cookie = await sessionCookie(app, 'alice@example.com')
  const { challenge } = pkce()
  const consent = await page(app, cookie, `/authorize?${authorizeQuery(client.client_id, challenge)}`)
  t.equal(consent.statusCode, 200)
  t.notMatch(consent.body, /<script>alert/)
  t.notMatch(consent.body, /<img src=x/)
  t.match(consent.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&lt;img src=x onerror=alert\(2\)&gt;/)
  await approve(app, cookie, authorizeQuery(client.client_id, challenge))
  const dash = await page(app, cookie, '/dashboard')
  t.notMatch(dash.body, /<script>alert/)
  t.match(dash.body, /<td class="client-name" data-label="App"><bdi>&lt;script&gt;alert\(1\)/)
  t.match(consent.headers['content-security-policy'], /script-src 'self'/)
})

t.test('security headers on every HTML page', async (t) => {
  const { app, acme } = await team(t)
  const cookie = await sessionCookie(app, 'owner@example.com')
  for (const url of [
    '/login',
    '/dashboard',
    `/dashboard?account=${acme.id}`,
    `/dashboard/audit?account=${acme.id}`,
    '/logout',
    '/dashboard?account=99999',
  ]) {
    const res = await page(app, url === '/login' ? '' : cookie, url)
    const csp = String(res.headers['content-security-policy'])
    t.match(csp, /frame-ancestors 'none'/, `${url}: frame-ancestors`)
    t.match(csp, /script-src 'self'/, `${url}: no inline script`)
    t.notMatch(csp, /unsafe-inline/, `${url}: no unsafe-inline`)
    t.equal(res.headers['x-frame-options'], 'DENY', `${url}: X-Frame-Options`)
    t.equal(res.headers['referrer-policy'], 'no-referrer', `${url}: no-referrer`)
    t.equal(res.headers['cache-control'], 'no-store', `${url}: no-store`)
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.notMatch(res.body, /<script>(?!<\/script>)/, `${url}: no inline script element`)
  }
  const css = await app.inject({ url: '/static/style.css' })
  t.notMatch(css.body, /https?:\/\//, 'no external assets in the stylesheet')
})

t.test('an app whose client id is a long metadata-document URL can be disconnected', async (t) => {
  const { app } = await build(t)
  const alice = await createUser(app, 'alice@example.com')
  const clientId = `https://apps.example/${'p'.repeat(300)}/client.json`
  await app.store.clients.upsert(
    {
      clientId,
      clientName: 'Long',
      redirectUris: [REDIRECT_URI],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      metadata: {},
      source: 'cimd',
    },
    app.now(),
  )
  await app.store.consents.upsert(
    { userId: alice.user.id, clientId, accountId: alice.account.id, scopes: ['read'] },
    app.now(),
  )
  const cookie = await sessionCookie(app, 'alice@example.com')
  const csrf = csrfOf((await page(app, cookie, '/dashboard')).body)
  const res = await post(app, cookie, `/dashboard/apps/${encodeURIComponent(clientId)}/disconnect`, { csrf })
  t.equal(res.statusCode, 303, 'a path parameter as long as the client id is routed')
  t.equal(await app.store.consents.get(alice.user.id, clientId), undefined)
})
