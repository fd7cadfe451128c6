// The official MCP SDK client's OAuth code against keygate on a real port: discovery,
// dynamic registration, authorization (signed-in user, consent approved), token.

import { auth } from '@modelcontextprotocol/sdk/client/auth.js'
import t from 'tap'
import { hashToken } from '../../src/keys/format.js'
import { createUser } from '../helper.js'
import { Browser, listen } from '../support/http.js'
import { TestOAuthProvider } from '../support/oauth-provider.js'

t.test('SDK auth(): discovery → registration → consent → token', async (t) => {
  const { app, base } = await listen(t)
  await createUser(app, 'alice@example.com')
  const browser = new Browser(base)
  await browser.signIn('alice@example.com')
  const provider = new TestOAuthProvider(browser, { scope_choice: [] })

  const first = await auth(provider, { serverUrl: `${base}/mcp` })
  t.equal(first, 'REDIRECT')
  t.ok(provider.client?.client_id, 'registered dynamically')
  const authUrl = provider.redirects[0]!
  t.equal(authUrl.origin + authUrl.pathname, `${base}/authorize`)
  t.equal(authUrl.searchParams.get('code_challenge_method'), 'S256')
  t.equal(authUrl.searchParams.get('resource'), `${base}/mcp`)

  const code = await provider.code(base)
  const second = await auth(provider, { serverUrl: `${base}/mcp`, authorizationCode: code })
  t.equal(second, 'AUTHORIZED')
  const tokens = provider.tokens()!
  t.equal(tokens.token_type, 'Bearer')
  t.equal(tokens.scope, 'read', 'write was unticked on the consent page')
  t.equal(tokens.expires_in, undefined, 'no expires_in for a non-expiring key')
  const key = await app.store.keys.byHash(hashToken(tokens.access_token))
  t.ok(key, 'the access token is a key row')
  t.equal(key!.clientId, provider.client!.client_id)
  t.same(key!.scopes, ['read'])

  // The same code again is refused, and the SDK sees an OAuth error it understands.
  await t.rejects(auth(provider, { serverUrl: `${base}/mcp`, authorizationCode: code }))
  t.ok((await app.store.keys.byHash(hashToken(tokens.access_token)))!.revokedAt, 'replay revoked the key')
})
