// keygate's one protected resource has two names: ISSUER/mcp, and the issuer itself, which the
// root protected-resource document names (RFC 9728 §3.3). A client that found keygate there
// gets a key for /mcp; any other resource is invalid_target, at /authorize, /token and the
// device endpoint alike.
import t from 'tap'
import { build, codeFor, exchangeCode, REDIRECT_URI, tokenRequest } from '../helper.js'
import { INJECT_HEADERS, rpc } from '../support/mcp.js'

t.test('the issuer names the /mcp resource; its keys work on /mcp', async (t) => {
  const { app } = await build(t, { KEYGATE_ACCESS_TTL: '600' })
  const root = (await app.inject({ url: '/.well-known/oauth-protected-resource' })).json()
  t.equal(root.resource, 'http://localhost:3000')
  const { code, verifier, client, location } = await codeFor(app, { query: { resource: root.resource } })
  t.equal(location.searchParams.get('error'), null)
  const token = await exchangeCode(app, code, verifier, client.client_id)
  t.equal(token.statusCode, 200, token.body)
  const { access_token, refresh_token } = token.json()
  const call = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...INJECT_HEADERS, authorization: `Bearer ${access_token}` },
    payload: rpc('tools/call', { name: 'list_notes', arguments: {} }),
  })
  t.equal(call.statusCode, 200, 'the key is for /mcp')
  const refreshed = await tokenRequest(app, {
    grant_type: 'refresh_token',
    refresh_token,
    client_id: client.client_id,
    resource: 'http://localhost:3000',
  })
  t.equal(refreshed.statusCode, 200, 'refreshed under the same name')
})

t.test('any other resource is invalid_target everywhere', async (t) => {
  const { app } = await build(t)
  const other = 'http://localhost:3000/elsewhere'
  const { location } = await codeFor(app, { query: { resource: 'http://localhost:3000/mcp' } })
  t.equal(location.searchParams.get('error'), null)
  const refused = await app.inject({
    url: `/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: (await codeFor(app)).client.client_id,
      redirect_uri: REDIRECT_URI,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      resource: other,
    })}`,
  })
  t.match(refused.headers.location ?? refused.body, 'invalid_target')
  const { code, verifier, client } = await codeFor(app)
  const token = await tokenRequest(app, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    resource: other,
  })
  t.same([token.statusCode, token.json().error], [400, 'invalid_target'])
  const device = await app.inject({
    method: 'POST',
    url: '/device_authorization',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ client_id: 'keygate-cli', resource: other }).toString(),
  })
  t.same([device.statusCode, device.json().error], [400, 'invalid_target'])
  const byIssuer = await app.inject({
    method: 'POST',
    url: '/device_authorization',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ client_id: 'keygate-cli', resource: 'http://localhost:3000' }).toString(),
  })
  t.equal(byIssuer.statusCode, 200, 'the device flow takes the issuer too')
})
