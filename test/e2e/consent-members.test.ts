// In Chromium: the consent page with the client's logo (served from keygate's origin), the
// words of each scope and an opt-in scope left unticked, the "unverified" label of an app
// registered by open registration; and an owner managing members on the dashboard.

import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { createUser, pkce, tempDir } from '../helper.js'
import { PNG } from '../oauth/logo.test.js'
import { launchChromium, screenshot } from '../support/browser.js'
import { listen } from '../support/http.js'

t.test('the consent page: logo, scope words, an opt-in scope, where the name comes from', async (t) => {
  const logos = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(PNG))
  await new Promise<void>((resolve) => logos.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => logos.close(() => resolve())))
  const dir = tempDir(t)
  const scopes = join(dir, 'scopes.json')
  writeFileSync(
    scopes,
    JSON.stringify([
      { name: 'read', description: 'See your notes', default: 'always' },
      { name: 'write', description: 'Create, change and delete notes', default: 'on' },
      { name: 'ai', description: 'Allow AI features', default: 'off' },
    ]),
  )
  const { app, base } = await listen(t, { KEYGATE_SCOPES_FILE: scopes, KEYGATE_CIMD_ALLOW_PRIVATE: 'true' }, dir)
  const alice = await createUser(app, 'alice@example.com')
  const callback = 'https://client.example/callback'
  await app.store.clients.upsert(
    {
      clientId: 'notes-desktop',
      clientName: 'Notes Desktop',
      redirectUris: [callback],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      metadata: { logo_uri: `http://127.0.0.1:${(logos.address() as { port: number }).port}/logo.png` },
      source: 'config',
    },
    app.now(),
  )
  const browser = await launchChromium(t)
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } })
  const query = (clientId: string) =>
    new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: callback,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      state: 's',
      scope: 'read write ai',
      resource: `${base}/mcp`,
    })
  await page.goto(`${base}/authorize?${query('notes-desktop')}`)
  await page.getByLabel('Email').fill('alice@example.com')
  await page.getByLabel('Password').fill(alice.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${base}/authorize?**`)
  const logo = page.locator('img.client-logo')
  t.equal(await logo.getAttribute('src'), '/logo?client_id=notes-desktop', 'from our own origin')
  t.ok(await logo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), 'the logo loaded')
  t.ok(await page.getByText('Registered by the operator of this server.').isVisible())
  t.ok(await page.getByText('Create, change and delete notes').isVisible(), 'each scope has its words')
  t.ok(await page.locator('input[name="scope_choice"][value="write"]').isChecked())
  t.notOk(await page.locator('input[name="scope_choice"][value="ai"]').isChecked(), 'the opt-in scope is unticked')
  await screenshot(page, 'consent-logo-scopes')
  await page.locator('input[name="scope_choice"][value="ai"]').check()
  await page.getByRole('button', { name: 'Approve' }).click()
  await page.waitForURL(`${callback}?**`).catch(() => undefined)
  const consent = await app.store.consents.get(alice.user.id, 'notes-desktop')
  t.same(consent?.scopes, ['read', 'write', 'ai'], 'ticked by the person: granted')

  const registered = await (
    await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Claude', redirect_uris: [callback] }),
    })
  ).json()
  await page.goto(`${base}/authorize?${query(registered.client_id)}`)
  t.ok(await page.getByText('Unverified app.').isVisible(), 'open registration: the name is unverified')
  await screenshot(page, 'consent-unverified')
})

t.test('an owner manages members on the dashboard', async (t) => {
  const { app, base } = await listen(t)
  const alice = await createUser(app, 'alice@example.com')
  await createUser(app, 'bob@example.com')
  const acme = await app.store.accounts.create({
    name: 'Acme',
    kind: 'team',
    ownerId: alice.user.id,
    createdAt: app.now(),
  })
  const browser = await launchChromium(t)
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } })
  await page.goto(`${base}/dashboard?account=${acme.id}`)
  await page.getByLabel('Email').fill('alice@example.com')
  await page.getByLabel('Password').fill(alice.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${base}/dashboard?**`)
  await page.getByLabel('Add a member by email').fill('bob@example.com')
  await page.getByRole('button', { name: 'Add member' }).click()
  await page.waitForURL(`${base}/dashboard?account=${acme.id}&done=member_added`)
  const bobRow = page.locator('tr', { hasText: 'bob@example.com' })
  t.ok(await bobRow.isVisible(), 'bob is listed')
  await bobRow.getByLabel('Role of bob@example.com').selectOption('admin')
  await bobRow.getByRole('button', { name: 'Change' }).click()
  await page.waitForURL(`${base}/dashboard?account=${acme.id}&done=role_changed`)
  t.equal(await page.locator('tr', { hasText: 'bob@example.com' }).locator('select').inputValue(), 'admin')
  await screenshot(page, 'members-dashboard')
  await page.getByRole('button', { name: 'Remove bob@example.com' }).click()
  t.ok(await page.getByRole('heading', { name: 'Remove bob@example.com from Acme?' }).isVisible())
  await screenshot(page, 'members-confirm-remove')
  await page.getByRole('button', { name: 'Yes, remove' }).click()
  await page.waitForURL(`${base}/dashboard?account=${acme.id}&done=member_removed`)
  t.notOk(await page.locator('tr', { hasText: 'bob@example.com' }).count(), 'bob is gone')
  const bob = (await app.store.users.byEmail('bob@example.com'))!
  t.equal(await app.store.accounts.roleOf(bob.id, acme.id), undefined)
})
