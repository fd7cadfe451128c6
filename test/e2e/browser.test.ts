// The dashboard and consent pages in real Chromium: sign in, approve a consent with the
// account picker and write unticked (a write tool then gets 403), create a key and read it from the page, use it on
// /mcp, revoke it in the page and see the next call get 401, disconnect an app, read the
// audit log. Screenshots of each page go to test-output/screenshots/.

import { statSync } from 'node:fs'
import { createServer } from 'node:http'
import t from 'tap'
import { authorizeQuery, createUser, pkce } from '../helper.js'
import { launchChromium, screenshot } from '../support/browser.js'
import { freePort, listen } from '../support/http.js'
import { callTool } from '../support/mcp.js'

async function callbackServer(t: Test) {
  const port = await freePort()
  const received: URL[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url!, `http://127.0.0.1:${port}`)
    if (url.pathname === '/callback') received.push(url) // not the browser's /favicon.ico
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>Callback</title><p>The app received the code.</p>')
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { uri: `http://127.0.0.1:${port}/callback`, received }
}

type Test = { teardown(fn: () => unknown): void }

/** How many upstream requests tool calls have made, from keygate's own metric. */
async function upstreamCalls(app: {
  metrics: { upstreamLatency: { get(): Promise<{ values: Array<{ metricName?: string; value: number }> }> } }
}): Promise<number> {
  const { values } = await app.metrics.upstreamLatency.get()
  return values.filter((v) => v.metricName?.endsWith('_count')).reduce((sum, v) => sum + v.value, 0)
}

t.test('consent, keys, revocation, apps and audit in Chromium', async (t) => {
  const { app, base } = await listen(t)
  const alice = await createUser(app, 'alice@example.com')
  const team = await app.store.accounts.create({
    name: 'Acme Team',
    kind: 'team',
    ownerId: alice.user.id,
    createdAt: app.now(),
  })
  const callback = await callbackServer(t)
  const client = await (
    await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Browser Test App', redirect_uris: [callback.uri] }),
    })
  ).json()
  const browser = await launchChromium(t)
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
  const shots: string[] = []

  // 1. The client sends the user to /authorize; keygate asks them to sign in first.
  const { verifier, challenge } = pkce()
  const query = authorizeQuery(client.client_id, challenge, {
    redirect_uri: callback.uri,
    state: 'browser-state',
    resource: `${base}/mcp`,
  })
  await page.goto(`${base}/authorize?${query}`)
  t.match(page.url(), `${base}/login?return_to=`)
  shots.push(await screenshot(page, '01-login'))
  await page.getByLabel('Email').fill('alice@example.com')
  await page.getByLabel('Password').fill('wrong password')
  await page.getByRole('button', { name: 'Sign in' }).click()
  t.ok(await page.getByText('Wrong email or password.').isVisible(), 'a failed sign-in says so')
  shots.push(await screenshot(page, '02-login-failed'))
  await page.getByLabel('Password').fill(alice.password)
  await page.getByRole('button', { name: 'Sign in' }).click()

  // 2. The consent page: client name, redirect host, account picker, write box.
  await page.waitForURL(`${base}/authorize?**`)
  t.ok(await page.getByText('Browser Test App').first().isVisible())
  t.equal(await page.locator('.host').textContent(), new URL(callback.uri).host)
  const picker = page.getByRole('radiogroup', { name: 'Account' })
  t.ok(await picker.isVisible(), 'two accounts: a picker')
  const write = page.getByLabel('write')
  t.ok(await write.isChecked(), 'write is ticked by default')
  shots.push(await screenshot(page, '03-consent'))
  await picker.getByLabel(/Acme Team/).check()
  await write.uncheck()
  await page.getByRole('button', { name: 'Approve' }).click()
  await page.waitForURL(`${callback.uri}?**`)
  const redirect = callback.received.at(-1)!
  t.equal(redirect.searchParams.get('state'), 'browser-state')
  t.equal(redirect.searchParams.get('iss'), base)
  const token = await (
    await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code')!,
        code_verifier: verifier,
        client_id: client.client_id,
        redirect_uri: callback.uri,
      }),
    })
  ).json()
  t.equal(token.scope, 'read', 'write was unticked')
  t.equal(
    (await app.store.consents.get(alice.user.id, client.client_id))!.accountId,
    team.id,
    'the team account was picked',
  )
  t.equal((await callTool(base, token.access_token, 'list_notes')).status, 200)
  const notesBefore = (await app.store.notes.list(team.id)).length
  const upstreamBefore = await upstreamCalls(app)
  t.ok(upstreamBefore >= 1, 'the list_notes call above was counted')
  const denied = await callTool(base, token.access_token, 'create_note', { body: { title: 'not allowed' } })
  t.equal(denied.status, 403, 'the read-only grant cannot call a write tool')
  t.equal(
    denied.headers.get('www-authenticate'),
    `Bearer error="insufficient_scope", error_description="this tool needs the write scope", scope="read write", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
  )
  t.equal(await upstreamCalls(app), upstreamBefore, 'no upstream request was made')
  t.equal((await app.store.notes.list(team.id)).length, notesBefore)

  // 3. Create a key in the dashboard and read it from the page.
  await page.goto(`${base}/dashboard?account=${team.id}`)
  shots.push(await screenshot(page, '04-dashboard'))
  await page.getByLabel('Name').fill('laptop')
  await page.getByRole('button', { name: 'Create key' }).click()
  const raw = (await page.locator('#new-key').textContent())!.trim()
  t.match(raw, /^kg_[0-9A-Za-z]{49}$/)
  t.ok(await page.getByText('This is the only time it is shown').isVisible())
  shots.push(await screenshot(page, '05-key-created'))
  const used = await callTool(base, raw, 'create_note', { body: { title: 'from the browser key' } })
  t.equal(used.status, 200, 'the new key works on /mcp')
  t.equal(used.body.result.structuredContent.title, 'from the browser key')

  // 4. Revoke it in the page; the next /mcp call is 401.
  await page.goto(`${base}/dashboard?account=${team.id}`)
  await page.getByRole('button', { name: 'Revoke key laptop' }).click()
  t.ok(await page.getByRole('heading', { name: 'Revoke key "laptop"?' }).isVisible(), 'asks for confirmation')
  shots.push(await screenshot(page, '06-confirm-revoke'))
  await page.getByRole('button', { name: 'Yes, revoke' }).click()
  await page.waitForURL(`${base}/dashboard?account=${team.id}&done=key_revoked`)
  t.match(await page.getByRole('status').textContent(), 'The key is revoked', 'a notice says it is done')
  t.equal(
    (await page.locator('tr', { hasText: 'laptop' }).locator('td.status-revoked').textContent())?.trim(),
    'revoked',
  )
  const after = await callTool(base, raw, 'list_notes')
  t.equal(after.status, 401, 'the next /mcp call with the revoked key is 401')

  // 5. Disconnect the app: its key stops working too.
  shots.push(await screenshot(page, '07-dashboard-revoked'))
  await page.getByRole('button', { name: 'Disconnect Browser Test App' }).click()
  await page.waitForURL(`${base}/dashboard?account=${team.id}&done=app_disconnected`)
  t.equal(await page.locator('tr[data-client-id]').count(), 0, 'the app is gone')
  t.equal((await callTool(base, token.access_token, 'list_notes')).status, 401, "the app's key is revoked")

  // 6. The audit log.
  await page.getByRole('link', { name: 'Audit log' }).click()
  const log = await page.locator('table').textContent()
  for (const sentence of [
    'alice@example.com created the key “laptop”',
    'alice@example.com revoked the key “laptop”',
    'alice@example.com connected “Browser Test App”',
    'alice@example.com disconnected “Browser Test App”',
  ])
    t.match(log, sentence, `the audit log says: ${sentence}`)
  shots.push(await screenshot(page, '08-audit'))
  await page.goto(`${base}/dashboard/audit?account=${alice.account.id}`)
  t.match(
    await page.locator('table').textContent(),
    'A sign-in as alice@example.com failed',
    'the failed sign-in is in the personal account log',
  )

  // 7. Readable on a phone.
  await page.setViewportSize({ width: 390, height: 844 })
  await page.goto(`${base}/dashboard?account=${team.id}`)
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  )
  t.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow}px)`)
  shots.push(await screenshot(page, '09-dashboard-phone'))
  for (const s of shots) t.ok(statSync(s).size > 1000, `screenshot ${s}`)
})
