import t from 'tap'
import { build } from '../helper.js'

t.test('authorization server and protected resource metadata', async (t) => {
  const { app } = await build(t, { KEYGATE_ISSUER: 'https://mcp.example.com/' })
  const as = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  t.equal(as.statusCode, 200)
  const meta = as.json()
  t.equal(meta.issuer, 'https://mcp.example.com', 'no trailing slash')
  t.same(meta.response_types_supported, ['code'])
  t.same(meta.code_challenge_methods_supported, ['S256'])
  t.same(meta.grant_types_supported, ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'])
  t.equal(meta.device_authorization_endpoint, 'https://mcp.example.com/device_authorization')
  t.same(meta.token_endpoint_auth_methods_supported, ['none', 'client_secret_basic', 'client_secret_post'])
  t.same(meta.scopes_supported, ['read', 'write', 'openid', 'profile', 'email'])
  t.equal(meta.jwks_uri, 'https://mcp.example.com/jwks')
  t.equal(meta.authorization_response_iss_parameter_supported, true)
  t.equal(meta.authorization_endpoint, 'https://mcp.example.com/authorize')
  t.equal(meta.token_endpoint, 'https://mcp.example.com/token')
  t.equal(meta.registration_endpoint, 'https://mcp.example.com/register')
  t.equal(as.headers['access-control-allow-origin'], '*')

  for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
    const pr = await app.inject({ method: 'GET', url: path })
    t.equal(pr.statusCode, 200, path)
    const body = pr.json()
    // Each document's resource is the URL it is found for (RFC 9728 §3.3): the root one names
    // the issuer, which keygate takes as a name of its /mcp.
    const expected = path.endsWith('/mcp') ? 'https://mcp.example.com/mcp' : 'https://mcp.example.com'
    t.equal(body.resource, expected, `${path}: resource is ${expected} exactly`)
    t.same(body.authorization_servers, ['https://mcp.example.com'])
    t.equal(body.authorization_servers[0], meta.issuer, 'byte-identical to the AS issuer')
    t.same(body.bearer_methods_supported, ['header'])
  }
})

t.test('unknown well-known documents: JSON 404, never HTML, a redirect or a 5xx', async (t) => {
  const { app } = await build(t)
  for (const path of [
    '/.well-known/openid-configuration/x',
    '/.well-known/oauth-authorization-server/mcp',
    '/.well-known/anything',
    '/.well-known/oauth-protected-resource/other',
  ]) {
    const res = await app.inject({ method: 'GET', url: path })
    t.equal(res.statusCode, 404, path)
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(res.json().error, 'not_found')
  }
  const slash = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server/' })
  t.equal(slash.statusCode, 404, 'a trailing slash is not redirected')
})

t.test('CORS preflight on discovery, registration and token endpoints', async (t) => {
  const { app } = await build(t)
  for (const url of [
    '/.well-known/oauth-authorization-server',
    '/register',
    '/token',
    '/.well-known/oauth-protected-resource/mcp',
  ]) {
    const res = await app.inject({
      method: 'OPTIONS',
      url,
      headers: {
        origin: 'http://localhost:6274',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization, mcp-protocol-version',
      },
    })
    t.equal(res.statusCode, 204, url)
    t.equal(res.headers['access-control-allow-origin'], '*')
    t.match(res.headers['access-control-allow-headers'], /Authorization/)
    t.match(res.headers['access-control-allow-headers'], /MCP-Protocol-Version/)
  }
  const dash = await app.inject({ method: 'GET', url: '/login', headers: { origin: 'https://evil.example' } })
  t.equal(dash.headers['access-control-allow-origin'], undefined, 'no CORS on pages')
})
