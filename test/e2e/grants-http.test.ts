// The grant lifecycle over real HTTP, as clients and people meet it: approving again
// replaces the key; a client shared by two devices keeps both; an app that revokes its last
// key leaves "Connected apps"; a client that registered no grant_types still refreshes; a
// disabled client's key is refused at /mcp; open registration keeps to its allowed hosts.
import t from 'tap'
import { main } from '../../src/cli/index.js'
import { createUser, pkce, testEnv } from '../helper.js'
import { Browser, listen } from '../support/http.js'
import { callTool } from '../support/mcp.js'

const json = async (res: Response) => (await res.json()) as Record<string, any>

async function register(base: string, body: Record<string, unknown>) {
  return fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** The browser approves; the client exchanges the code. */
async function connect(base: string, browser: Browser, clientId: string, redirect: string) {
  const { verifier, challenge } = pkce()
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirect,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 's',
    resource: `${base}/mcp`,
  })
  const back = await browser.approve(`${base}/authorize?${query}`)
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: redirect,
    }).toString(),
  })
  return json(res)
}

t.test('approving again, two devices, disconnect by /revoke, refresh without asking', async (t) => {
  const { app, base, dir } = await listen(t, { KEYGATE_ACCESS_TTL: '3600' })
  await createUser(app, 'alice@example.com')
  const browser = new Browser(base)
  await browser.signIn('alice@example.com')

  // ChatGPT's registration shape: no grant_types.
  const chatgpt = await json(
    await register(base, { client_name: 'ChatGPT', redirect_uris: ['https://chat.example/cb'] }),
  )
  t.same(chatgpt.grant_types, ['authorization_code', 'refresh_token'])
  const first = await connect(base, browser, chatgpt.client_id, 'https://chat.example/cb')
  t.type(first.refresh_token, 'string', 'a refresh token without asking for one')
  const second = await connect(base, browser, chatgpt.client_id, 'https://chat.example/cb')
  t.equal((await callTool(base, first.access_token, 'list_notes')).status, 401, 'approving again replaced the key')
  t.equal((await callTool(base, second.access_token, 'list_notes')).status, 200)

  // A client two devices share (pre-registered): both stay signed in.
  await app.store.clients.upsert(
    {
      clientId: 'shared',
      clientName: 'Shared',
      redirectUris: ['https://shared.example/laptop', 'https://shared.example/phone'],
      tokenEndpointAuthMethod: 'none',
      clientSecretHash: null,
      metadata: {},
      source: 'config',
    },
    app.now(),
  )
  const laptop = await connect(base, browser, 'shared', 'https://shared.example/laptop')
  const phone = await connect(base, browser, 'shared', 'https://shared.example/phone')
  t.equal((await callTool(base, laptop.access_token, 'list_notes')).status, 200)
  t.equal((await callTool(base, phone.access_token, 'list_notes')).status, 200)

  // ChatGPT revokes its key: it leaves Connected apps.
  const revoke = await fetch(`${base}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: second.access_token, client_id: chatgpt.client_id }).toString(),
  })
  t.equal(revoke.status, 200)
  const dashboard = await (await browser.request('/dashboard')).text()
  t.notMatch(dashboard, `data-client-id="${chatgpt.client_id}"`, 'gone from Connected apps')
  t.match(dashboard, 'data-client-id="shared"')

  // The operator disables the shared client: both devices' keys stop at the next call.
  const disabled = await main(['client', 'disable', 'shared'], {
    out: () => undefined,
    err: () => undefined,
    env: testEnv(dir),
  })
  t.equal(disabled, 0)
  t.equal((await callTool(base, laptop.access_token, 'list_notes')).status, 401)
  t.equal((await callTool(base, phone.access_token, 'list_notes')).status, 401)
})

t.test('open registration keeps to its allowed redirect hosts', async (t) => {
  const { base } = await listen(t, { KEYGATE_REGISTRATION_REDIRECT_HOSTS: 'claude.ai' })
  t.equal((await register(base, { redirect_uris: ['https://claude.ai/api/mcp/auth_callback'] })).status, 201)
  t.equal((await register(base, { redirect_uris: ['http://127.0.0.1:33418/callback'] })).status, 201, 'loopback')
  const refused = await register(base, { client_name: 'Claude', redirect_uris: ['https://claude.ai.evil.example/cb'] })
  t.equal(refused.status, 400)
  t.equal((await json(refused)).error, 'invalid_redirect_uri')
})
