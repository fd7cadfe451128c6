// KEYGATE_LOGIN=oidc against a real OpenID Provider (oidc-provider) on a local port: its
// login and consent pages in Chromium, then the official MCP SDK client through the whole
// flow with a sign-in at the provider, and the refusals keygate owes the provider's
// answers.

import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import t, { type Test as Tap } from 'tap'
import { createKey, createUser } from '../helper.js'
import { launchChromium, screenshot } from '../support/browser.js'
import { Browser, listen } from '../support/http.js'
import { callTool } from '../support/mcp.js'
import { TestOAuthProvider } from '../support/oauth-provider.js'
import { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, providerPort, startOpenIdProvider } from '../support/openid-provider.js'
import { rawRows } from '../support/raw.js'

async function setUp(t: Tap, env: Record<string, string> = {}) {
  // keygate discovers the provider on first use: it can start first, knowing the address.
  const port = await providerPort()
  const listening = await listen(t, {
    KEYGATE_LOGIN: 'oidc',
    KEYGATE_OIDC_ISSUER: `http://127.0.0.1:${port}`,
    KEYGATE_OIDC_CLIENT_ID: OIDC_CLIENT_ID,
    KEYGATE_OIDC_CLIENT_SECRET: OIDC_CLIENT_SECRET,
    KEYGATE_OIDC_SCOPES: 'openid email profile accounts',
    KEYGATE_OIDC_ACCOUNTS_CLAIM: 'accounts',
    ...env,
  })
  const op = await startOpenIdProvider(t, port, listening.base)
  return { ...listening, op }
}

const formAction = (html: string) => /<form[^>]*action="([^"]+)"/.exec(html)![1]!.replaceAll('&#x2F;', '/')

/** At the provider's pages, as a person: log in as `sub`, then continue on the consent page. */
async function atProvider(browser: Browser, res: Response, sub: string): Promise<Response> {
  let page = res
  for (
    let step = 0;
    step < 4 && page.status === 200 && new URL(page.url).pathname.startsWith('/interaction/');
    step++
  ) {
    const html = await page.text()
    const action = new URL(formAction(html), page.url).href
    const form: Record<string, string> = html.includes('name="login"')
      ? { prompt: 'login', login: sub, password: 'any' }
      : { prompt: 'consent' }
    page = await browser.request(action, { form })
    for (let hop = 0; hop < 8 && page.status >= 301 && page.status <= 303; hop++)
      page = await browser.request(new URL(page.headers.get('location')!, page.url).href)
  }
  return page
}

t.test("the provider's login and consent pages in Chromium, then keygate's dashboard", async (t) => {
  const { base, op, app } = await setUp(t)
  op.people.set('alice', {
    email: 'alice@idp.example',
    email_verified: true,
    name: 'Alice',
    accounts: [{ id: 'org-1', name: 'Acme', role: 'admin' }],
  })
  const chromium = await launchChromium(t)
  const page = await chromium.newPage()
  await page.goto(`${base}/dashboard`)
  t.match(page.url(), /^http:\/\/127\.0\.0\.1:\d+\/interaction\//, "at the provider's login page")
  await screenshot(page, 'oidc-provider-login')
  await page.fill('input[name="login"]', 'alice')
  await page.fill('input[name="password"]', 'anything')
  await page.click('button[type="submit"]')
  await page.waitForURL(/\/interaction\//)
  await screenshot(page, 'oidc-provider-consent')
  await page.click('button[type="submit"]')
  await page.waitForURL(`${base}/dashboard`)
  t.match(await page.textContent('body'), 'Acme', "keygate's dashboard, with the provider's accounts")
  await screenshot(page, 'oidc-dashboard')
  const user = (await app.store.users.byEmail('alice@idp.example'))!
  t.equal(user.name, 'Alice')
  t.same(
    (await app.store.accounts.membershipsOf(user.id)).map((m) => [m.account.name, m.role]),
    [['Acme', 'admin']],
  )
})

t.test('SDK client: 401, discovery, registration, sign-in at the provider, consent, token, tools/call', async (t) => {
  const { base, op } = await setUp(t)
  op.people.set('bob', {
    email: 'bob@idp.example',
    email_verified: true,
    name: 'Bob',
    accounts: [
      { id: 'org-1', name: 'Acme', role: 'member' },
      { id: 'org-2', name: 'Beta', role: 'owner' },
    ],
  })
  const browser = new Browser(base)
  const provider = new TestOAuthProvider(browser)
  const original = browser.approve.bind(browser)
  let picker = ''
  browser.approve = async (url, form) => {
    // Sent to the provider to sign in first, then back to the consent page.
    picker = await (await atProvider(browser, await browser.open(String(url)), 'bob')).text()
    const beta = /name="account_id" value="(\d+)"[^>]*> Beta/.exec(picker)
    return original(url, { ...form, ...(beta ? { account_id: beta[1]! } : {}) })
  }
  const client = new Client({ name: 'e2e', version: '1.0.0' })
  await t.rejects(
    client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })),
    { message: 'Unauthorized' },
    'a bare 401 starts OAuth',
  )
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })
  await transport.finishAuth(await provider.code(base))
  t.match(picker, /name="account_id"[^>]*> Acme/, "the consent picker lists the provider's accounts")
  t.match(picker, /name="account_id"[^>]*> Beta/)
  const connected = new Client({ name: 'e2e', version: '1.0.0' })
  await connected.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }))
  t.teardown(() => connected.close())
  const listed = await connected.callTool({ name: 'list_notes', arguments: {} })
  t.notOk(listed.isError, 'tools/call reaches the API')
  t.equal((await callTool(base, provider.tokens()!.access_token, 'list_notes')).status, 200)
})

t.test(
  "refusals: the provider's error, a state of another sign-in, a replayed callback, an unverified email",
  async (t) => {
    const { base, op, app } = await setUp(t)
    op.people.set('carol', { email: 'carol@idp.example', email_verified: false })
    op.people.set('dave', {
      email: 'dave@idp.example',
      email_verified: true,
      accounts: [{ id: 'o', name: 'O', role: 'boss' }],
    })

    const unverified = new Browser(base)
    const refused = await atProvider(unverified, await unverified.open('/dashboard'), 'carol')
    t.equal(refused.status, 400)
    t.match(await refused.text(), 'says this email address is not verified')

    const malformed = new Browser(base)
    const bad = await atProvider(malformed, await malformed.open('/dashboard'), 'dave')
    t.equal(bad.status, 400)
    t.match(await bad.text(), 'The identity provider&#39;s accounts.0.role claim')

    // A callback with the provider's error.
    const denied = new Browser(base)
    const start = await denied.request('/login')
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!
    const error = await denied.request(`/login/oidc/callback?error=access_denied&error_description=no&state=${state}`)
    t.equal(error.status, 400)
    t.match(await error.text(), 'The identity provider answered access_denied: no.')

    // A code the provider never issued, with this browser's own state: the exchange is refused.
    const forger = new Browser(base)
    const begun = await forger.request('/login')
    const forgedState = new URL(begun.headers.get('location')!).searchParams.get('state')!
    const forged = await forger.request(
      `/login/oidc/callback?code=forged&state=${forgedState}&iss=${encodeURIComponent(op.issuer)}`,
    )
    t.equal(forged.status, 400)
    t.match(await forged.text(), 'The identity provider&#39;s answer was refused')

    // Another browser's state, and a callback replayed after it served once.
    const eve = new Browser(base)
    await eve.request('/login')
    const foreign = await eve.request(`/login/oidc/callback?code=x&state=${state}`)
    t.equal(foreign.status, 400)
    t.match(await foreign.text(), 'is not this sign-in')

    const erin = new Browser(base)
    op.people.set('erin', { email: 'erin@idp.example', email_verified: true })
    let res = await erin.request('/login')
    const flowCookie = res.headers
      .getSetCookie()
      .find((c) => c.startsWith('keygate_oidc='))!
      .split(';')[0]!
    res = await erin.request(res.headers.get('location')!)
    while (res.status >= 301 && res.status <= 303)
      res = await erin.request(new URL(res.headers.get('location')!, res.url).href)
    // Stop at keygate's callback: take its URL, let it serve once, then send it again.
    let page = res
    let callback = ''
    for (let step = 0; step < 4 && !callback; step++) {
      const html = await page.text()
      const form: Record<string, string> = html.includes('name="login"')
        ? { prompt: 'login', login: 'erin', password: 'any' }
        : { prompt: 'consent' }
      page = await erin.request(new URL(formAction(html), page.url).href, { form })
      while (page.status >= 301 && page.status <= 303) {
        const next = new URL(page.headers.get('location')!, page.url).href
        if (next.startsWith(`${base}/login/oidc/callback`)) {
          callback = next
          break
        }
        page = await erin.request(next)
      }
    }
    t.ok(callback, 'the provider sends the browser back to the callback')
    const first = await erin.request(callback)
    t.equal(first.status, 303, 'served once')
    const replay = await fetch(callback, { headers: { cookie: flowCookie }, redirect: 'manual' })
    t.equal(replay.status, 400, 'the same callback with the same flow cookie again')
    t.match(await replay.text(), 'This sign-in was completed already')
    const audited = await rawRows(app.config, "SELECT detail FROM audit_events WHERE event = 'signin_failed'")
    t.same(
      audited.map((r) => JSON.parse(String(r.detail)).reason).sort(),
      ['bad_claim', 'code_exchange_failed', 'email_unverified', 'provider_error', 'state_mismatch', 'state_replayed'],
      'each refusal is audited with its reason',
    )
  },
)

t.test('an identity with no email_verified does not take over the person who has that email', async (t) => {
  const { base, op, app } = await setUp(t)
  // A person from before the switch to the identity provider, with a live key.
  const { user: local, account } = await createUser(app, 'local@corp.example')
  const key = await createKey(app, { userId: local.id, accountId: account.id })
  t.equal((await callTool(base, key.token, 'list_notes')).status, 200)

  // At the provider, someone claims the address; the provider says nothing of verifying it.
  op.people.set('claimer', { email: 'local@corp.example' })
  const attacker = new Browser(base)
  const refused = await atProvider(attacker, await attacker.open('/dashboard'), 'claimer')
  t.equal(refused.status, 400)
  t.match(await refused.text(), 'the sign-in did not say the address is verified, so it cannot be linked')
  t.equal((await attacker.request('/dashboard')).status, 303, 'not signed in')
  const [row] = await rawRows(app.config, `SELECT external_id FROM users WHERE id = ${local.id}`)
  t.equal(row!.external_id, null, 'the person is not linked to the claimer')
  t.equal((await callTool(base, key.token, 'list_notes')).status, 200, 'their key still works, for them alone')

  // The provider verified the address: this is the same person, linked, keeping their key.
  op.people.set('claimer', { email: 'local@corp.example', email_verified: true })
  const owner = new Browser(base)
  const signedIn = await atProvider(owner, await owner.open('/dashboard'), 'claimer')
  t.equal(signedIn.status, 200, 'on the dashboard')
  const linked = (await app.store.users.byEmail('local@corp.example'))!
  t.equal(linked.id, local.id)
  t.equal(linked.emailVerified, true)
})

t.test(
  'KEYGATE_OIDC_TRUST_EMAIL: the operator trusts the provider’s emails (one that sends no email_verified)',
  async (t) => {
    const { base, op, app } = await setUp(t, { KEYGATE_OIDC_TRUST_EMAIL: 'true' })
    const { user: local } = await createUser(app, 'staff@corp.example')
    op.people.set('entra-oid-1', { email: 'staff@corp.example' })
    const browser = new Browser(base)
    const page = await atProvider(browser, await browser.open('/dashboard'), 'entra-oid-1')
    t.equal(page.status, 200)
    const linked = (await app.store.users.byEmail('staff@corp.example'))!
    t.equal(linked.id, local.id, 'linked to the person with that email')
    t.equal(linked.emailVerified, true)
  },
)
