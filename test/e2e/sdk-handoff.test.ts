// End to end with the official MCP SDK client in KEYGATE_LOGIN=handoff: a bare 401,
// discovery, registration, sign-in through the product (a stand-in product on a real port,
// whose signed-in user is alice: it signs the assertion and sends the browser back),
// consent with the product's accounts in the picker, token, tools/call. Then the product
// drops a membership: the next sign-in revokes the key, and the next call is 401.

import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { SignJWT } from 'jose'
import t, { type Test as Tap } from 'tap'
import { Browser, freePort, listen } from '../support/http.js'
import { callTool } from '../support/mcp.js'
import { TestOAuthProvider } from '../support/oauth-provider.js'

const SECRET = 'product-handoff-secret-0123456789-abcdef'

type Account = { id: string; name: string; role: 'owner' | 'admin' | 'member' }

/** The product: alice is signed in to it; its handoff page signs who she is and her accounts. */
async function product(t: Tap, issuerOf: () => string) {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const state = { accounts: [] as Account[], handoffs: 0 }
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, base)
    if (url.pathname !== '/keygate-handoff') return void res.writeHead(404).end()
    state.handoffs++
    const now = Math.floor(Date.now() / 1000)
    const assertion = await new SignJWT({
      email: 'alice@product.example',
      name: 'Alice',
      nonce: url.searchParams.get('state'),
      accounts: state.accounts,
    })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(base)
      .setAudience(issuerOf())
      .setSubject('user-42')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(new TextEncoder().encode(SECRET))
    const back = new URL(url.searchParams.get('return_to')!)
    back.searchParams.set('state', url.searchParams.get('state')!)
    back.searchParams.set('assertion', assertion)
    res.writeHead(302, { location: back.href }).end()
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { base, state }
}

t.test('SDK client through a sign-in with the product session, then the product drops the membership', async (t) => {
  let issuer = ''
  const shop = await product(t, () => issuer)
  shop.state.accounts = [
    { id: 'org-acme', name: 'Acme', role: 'admin' },
    { id: 'org-beta', name: 'Beta', role: 'member' },
  ]
  const { app, base } = await listen(t, {
    KEYGATE_LOGIN: 'handoff',
    KEYGATE_HANDOFF_URL: `${shop.base}/keygate-handoff`,
    KEYGATE_HANDOFF_ISSUER: shop.base,
    KEYGATE_HANDOFF_SECRET: SECRET,
  })
  issuer = base
  const browser = new Browser(base)
  // The person picks Beta on the consent page: the product's accounts are the choices.
  const picked: Record<string, string> = {}
  const provider = new TestOAuthProvider(browser, picked)
  const original = browser.approve.bind(browser)
  let picker = ''
  browser.approve = async (url, form) => {
    const page = await browser.open(String(url))
    picker = await page.text()
    const beta = /value="(\d+)"[^>]*> Beta/.exec(picker)
    return original(url, { ...form, ...(beta ? { account_id: beta[1]! } : {}) })
  }

  const client = new Client({ name: 'e2e', version: '1.0.0' })
  const connectOnce = () =>
    client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }))
  await t.rejects(connectOnce(), { message: 'Unauthorized' }, 'a bare 401 starts OAuth')
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })
  await transport.finishAuth(await provider.code(base))
  t.equal(shop.state.handoffs, 1, 'signed in through the product once')
  t.match(picker, 'Acme', "the picker lists the product's accounts")
  t.match(picker, 'Beta')
  const connected = new Client({ name: 'e2e', version: '1.0.0' })
  await connected.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }))
  t.teardown(() => connected.close())
  const listed = await connected.callTool({ name: 'list_notes', arguments: {} })
  t.notOk(listed.isError, 'tools/call reaches the API')
  const key = provider.tokens()!.access_token
  const user = (await app.store.users.byEmail('alice@product.example'))!
  const beta = (await app.store.accounts.membershipsOf(user.id)).find((m) => m.account.name === 'Beta')!
  t.equal(beta.role, 'member')

  // The product drops Beta; alice signs in again (the dashboard sends her through the product).
  shop.state.accounts = [{ id: 'org-acme', name: 'Acme', role: 'admin' }]
  const fresh = new Browser(base)
  const dashboard = await fresh.open('/dashboard')
  t.equal(dashboard.status, 200, 'signed in again through the product')
  t.equal(shop.state.handoffs, 2)
  t.equal((await callTool(base, key, 'list_notes')).status, 401, 'the key made in Beta is refused')
})
