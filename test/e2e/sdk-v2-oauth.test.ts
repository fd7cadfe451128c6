// The official SDK v2 client through keygate's OAuth in each of its modes (the 2025
// handshake, auto, pinned to 2026-07-28): a bare 401, discovery, registration, consent with
// write unticked, token, tools/list showing the read tools, a tools/call; then a write tool:
// 403 insufficient_scope, the client's step-up through the consent page, and the call
// again; then the key expires and the client refreshes on its own.
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client'
import t from 'tap'
import { createUser, TestClock, tempDir } from '../helper.js'
import { Browser, listen } from '../support/http.js'
import { TestOAuthProvider } from '../support/oauth-provider.js'

type Mode = 'legacy' | 'auto' | { pin: '2026-07-28' }

/** A provider whose consent form the test changes between trips (write unticked, then ticked). */
class SteppingProvider extends TestOAuthProvider {
  choice: string[] = []
  override redirectToAuthorization(url: URL) {
    this.redirects.push(url)
    this.pending = this.browser.approve(url, { scope_choice: this.choice })
  }
}

/** Runs `step` with a client of `mode`; an UnauthorizedError takes one trip through consent and a retry. */
async function withAuth<T>(base: string, provider: SteppingProvider, mode: Mode, step: (c: Client) => Promise<T>) {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider as never })
  const client = new Client({ name: 'v2-oauth', version: '1.0.0' }, { versionNegotiation: { mode } })
  try {
    await client.connect(transport)
    return { client, result: await step(client) }
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err
    await client.close().catch(() => undefined)
    // The callback's parameters: the SDK checks iss (RFC 9207) before it redeems the code.
    await provider.code(base)
    await transport.finishAuth((await provider.pending!).searchParams)
  }
  const again = new Client({ name: 'v2-oauth', version: '1.0.0' }, { versionNegotiation: { mode } })
  await again.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider as never }))
  return { client: again, result: await step(again) }
}

for (const mode of ['legacy', 'auto', { pin: '2026-07-28' }] as Mode[]) {
  t.test(`SDK v2 client (${JSON.stringify(mode)}): OAuth, read tools, step-up to write, refresh`, async (t) => {
    const clock = new TestClock()
    const { app, base } = await listen(t, { KEYGATE_ACCESS_TTL: '60' }, tempDir(t), clock.now)
    await createUser(app, 'alice@example.com')
    const browser = new Browser(base)
    await browser.signIn('alice@example.com')
    const provider = new SteppingProvider(browser)

    const first = await withAuth(base, provider, mode, async (c) => (await c.listTools()).tools.map((x) => x.name))
    t.equal(provider.redirects.length, 1, 'one trip through the consent page')
    t.equal(first.client.getProtocolEra(), mode === 'legacy' ? 'legacy' : 'modern')
    t.same(first.result.sort(), ['get_note', 'list_notes'], 'write unticked: the read tools only')
    t.same(provider.tokens()?.scope?.split(' ').sort(), ['read'])
    t.notOk((await first.client.callTool({ name: 'list_notes', arguments: {} })).isError)

    // A write tool: 403, the step-up through the consent page with write ticked, and the call again.
    provider.choice = ['write']
    const stepped = await withAuth(base, provider, mode, (c) =>
      c.callTool({ name: 'create_note', arguments: { body: { title: `v2 ${JSON.stringify(mode)}` } } }),
    )
    await first.client.close()
    t.equal(provider.redirects.length, 2, 'a second trip, for write')
    const asked = new URL(provider.redirects[1]!).searchParams.get('scope')!.split(' ')
    t.ok(asked.includes('write') && asked.includes('read'), `the step-up asks for write and keeps read: ${asked}`)
    t.notOk(stepped.result.isError, 'the write went through after the step-up')
    t.same(provider.tokens()?.scope?.split(' ').sort(), ['read', 'write'])

    // The key expires; the client refreshes on its own, with no trip through the consent page.
    const before = provider.tokens()!
    clock.advance(61)
    const listed = await stepped.client.callTool({ name: 'list_notes', arguments: {} })
    t.notOk(listed.isError, 'the call succeeded after a refresh')
    t.not(provider.tokens()!.access_token, before.access_token, 'a new key')
    t.not(provider.tokens()!.refresh_token, before.refresh_token, 'a rotated refresh token')
    t.equal(provider.redirects.length, 2, 'no new trip through the consent page')
    await stepped.client.close()
  })
}
