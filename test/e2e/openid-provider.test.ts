// keygate as an OpenID Provider, as a strict relying party sees it: openid-client in its
// default OpenID Connect mode does discovery, the authorization code with PKCE, state and
// nonce, the token request, the ID token's checks, and userinfo; the signature and at_hash
// are checked again here with jose against the published JWKS, with only the advertised
// algorithms. With a root issuer and with an issuer under a path. Then the bad inputs.
import { createHash } from 'node:crypto'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose'
import * as client from 'openid-client'
import t, { type Test as Tap } from 'tap'
import { buildApp } from '../../src/server/app.js'
import { createKey, createUser, tempDir, testConfig } from '../helper.js'
import { Browser, csrfIn, listenOnFreePort, unescapeHtml } from '../support/http.js'
import { callTool } from '../support/mcp.js'

const REDIRECT = 'https://rp.example/callback'

/** keygate on a real port, at the root or under a path. */
async function provider(t: Parameters<typeof tempDir>[0], path = '', env: Record<string, string> = {}) {
  const dir = tempDir(t)
  const { app, port } = await listenOnFreePort(t, (port) =>
    buildApp(testConfig(dir, { KEYGATE_ISSUER: `http://localhost:${port}${path}`, PORT: String(port), ...env })),
  )
  const origin = `http://localhost:${port}`
  const issuer = `${origin}${path}`
  const alice = await createUser(app, 'alice@example.com')
  const browser = new Browser(origin)
  const login = await browser.request(`${issuer}/login`)
  const signedIn = await browser.request(`${issuer}/login`, {
    form: {
      csrf: csrfIn(await login.text()),
      email: 'alice@example.com',
      password: alice.password,
      return_to: '/dashboard',
    },
  })
  if (signedIn.status !== 303) throw new Error(`sign-in: ${signedIn.status}`)
  return { app, issuer, origin, browser, alice }
}

/** Opens the authorization URL and approves the consent, as the person would; the redirect back. */
async function approve(browser: Browser, url: URL, extra: Record<string, string> = {}): Promise<URL> {
  const page = await browser.open(url.href)
  const html = await page.text()
  if (page.status !== 200) throw new Error(`consent page: ${page.status} ${html.slice(0, 300)}`)
  const action = /<form method="post" action="([^"]*\/authorize)"/.exec(html)![1]!
  const fields: Record<string, string | string[]> = {
    decision: 'approve',
    scope_choice: ['write', 'openid', 'profile', 'email'],
  }
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields[m[1]!] = unescapeHtml(m[2]!)
  const res = await browser.request(new URL(action, url).href, { form: { ...fields, ...extra } })
  if (res.status !== 302) throw new Error(`consent POST: ${res.status} ${(await res.text()).slice(0, 300)}`)
  return new URL(res.headers.get('location')!)
}

async function register(issuer: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Strict RP', redirect_uris: [REDIRECT], ...extra }),
  })
  return (await res.json()) as { client_id: string }
}

async function signInWithKeygate(t: Tap, path: string, alg?: 'RS256') {
  const { app, issuer, browser } = await provider(t, path)
  const rp = await register(issuer, alg ? { id_token_signed_response_alg: alg } : {})
  const config = await client.discovery(new URL(issuer), rp.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  })
  const meta = config.serverMetadata()
  t.equal(meta.issuer, issuer, 'discovery: the issuer, path and all')
  t.same(meta.id_token_signing_alg_values_supported, ['ES256', 'RS256'])
  t.same(meta.subject_types_supported, ['public'])
  t.ok(meta.scopes_supported?.includes('openid'))
  const rfc8414 = await (await fetch(new URL(`/.well-known/oauth-authorization-server${path}`, issuer))).json()
  for (const field of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'scopes_supported'])
    t.same(rfc8414[field], (meta as Record<string, unknown>)[field], `RFC 8414 and OIDC discovery agree on ${field}`)

  const verifier = client.randomPKCECodeVerifier()
  const nonce = client.randomNonce()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid profile email read write',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  })
  const back = await approve(browser, url)
  const tokens = await client.authorizationCodeGrant(
    config,
    back,
    { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true },
    { resource: `${issuer}/mcp` },
  )
  const claims = tokens.claims()!
  t.equal(claims.iss, issuer)
  t.equal(claims.aud, rp.client_id)
  t.equal(claims.nonce, nonce, 'the nonce round-trips')
  t.equal(claims.email, 'alice@example.com')
  t.equal(claims.name, 'alice')
  t.type(claims.auth_time, 'number')

  // The signature through the JWKS, with only the advertised algorithms; at_hash.
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!))
  const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, {
    issuer,
    audience: rp.client_id,
    algorithms: meta.id_token_signing_alg_values_supported,
  })
  t.equal(protectedHeader.alg, alg ?? 'ES256')
  const hash = createHash('sha256').update(tokens.access_token).digest().subarray(0, 16).toString('base64url')
  t.equal(payload.at_hash, hash, 'at_hash binds the access token')

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  // alice is keygate's own user: keygate sends no mail, so her address is not known to be verified.
  t.same(info, { sub: claims.sub, email: 'alice@example.com', email_verified: false, name: 'alice' })
  t.equal(claims.email_verified, false, 'the ID token says the same')
  t.equal((await callTool(issuer, tokens.access_token, 'list_notes')).status, 200, 'the access token is still the key')
  return { app, issuer, browser, config, rp, tokens, jwks, meta }
}

t.test('a strict relying party signs in with keygate at the root', async (t) => {
  await signInWithKeygate(t, '')
})

t.test('and with keygate under a path (https://example.com/oauth/2.1), RS256 for this client', async (t) => {
  const { issuer, app } = await signInWithKeygate(t, '/oauth/2.1', 'RS256')
  const origin = new URL(issuer).origin
  // The well-known documents where RFC 8414 §3.1 and RFC 9728 §3.1 put them, and under the issuer for OIDC.
  for (const path of [
    '/.well-known/oauth-authorization-server/oauth/2.1',
    '/.well-known/oauth-protected-resource/oauth/2.1/mcp',
    // OpenID Connect discovery, inserted (as the MCP specification lists it) and appended.
    '/.well-known/openid-configuration/oauth/2.1',
    '/oauth/2.1/.well-known/openid-configuration',
  ])
    t.equal((await fetch(`${origin}${path}`)).status, 200, path)
  const bare = await fetch(`${issuer}/mcp`, { method: 'POST' })
  t.match(
    bare.headers.get('www-authenticate'),
    `resource_metadata="${origin}/.well-known/oauth-protected-resource/oauth/2.1/mcp"`,
  )
  t.equal((await fetch(`${origin}/authorize`)).status, 404, 'nothing of keygate outside its path')
  t.equal((await fetch(`${origin}/.well-known/oauth-authorization-server`)).status, 404)
  const dashboard = await fetch(`${issuer}/dashboard`, { redirect: 'manual' })
  t.equal(dashboard.headers.get('location'), `/oauth/2.1/login?return_to=%2Fdashboard`, 'redirects keep the path')
  const login = await (await fetch(`${issuer}/login`)).text()
  t.match(login, 'href="/oauth/2.1/static/style.css"', 'pages link under the path')
  t.match(login, 'action="/oauth/2.1/login"')
  // The built-in demo API is under the path too: a tool call reaches it through keygate.
  const person = (await app.store.users.byEmail('alice@example.com'))!
  const [own] = await app.store.accounts.membershipsOf(person.id)
  const { token } = await createKey(app, { userId: person.id, accountId: own!.account.id })
  const called = await callTool(issuer, token, 'list_notes')
  t.equal(called.status, 200, 'a tool call under the path reaches the demo API')
  t.notOk(called.body.result.isError, JSON.stringify(called.body.result))
  // Outside the path: 404 naming the address the client sent, not a route of keygate's own.
  const outside = await fetch(`${origin}/elsewhere?x=1`)
  t.equal(outside.status, 404)
  t.equal((await outside.json()).error_description, 'no route for GET /elsewhere')
})

t.test('bad inputs: nonce missing or replayed, openid not registered, userinfo refused, alg downgrades', async (t) => {
  const { issuer, browser, config, rp, tokens, jwks, meta, app } = await signInWithKeygate(t, '')
  const authorize = async (params: Record<string, string>, clientId = rp.client_id) => {
    const verifier = client.randomPKCECodeVerifier()
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's',
      ...params,
    })
    return { back: await approve(browser, new URL(`${issuer}/authorize?${query}`)), verifier }
  }

  // No nonce sent: the ID token carries none, and a relying party that expects one refuses it.
  const { back, verifier } = await authorize({ scope: 'openid read' })
  const failed = await client
    .authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedNonce: 'n-1', expectedState: 's' })
    .then(
      () => undefined,
      (err: Error & { cause?: { message?: string; claim?: string } }) => err,
    )
  t.ok(failed, 'a missing nonce fails the check')
  t.match(`${failed?.cause?.message} ${failed?.cause?.claim}`, /nonce/)
  // The same nonce again: refused.
  await authorize({ scope: 'openid', nonce: 'once-only' })
  const replay = await authorize({ scope: 'openid', nonce: 'once-only' })
  t.equal(replay.back.searchParams.get('error'), 'invalid_request')
  t.equal(replay.back.searchParams.get('error_description'), 'this nonce was used before; start again')

  // A client that registered its scopes without openid.
  const narrow = await register(issuer, { scope: 'read write' })
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: narrow.client_id,
    redirect_uri: REDIRECT,
    code_challenge: 'A'.repeat(43),
    code_challenge_method: 'S256',
    scope: 'openid read',
  })
  const res = await browser.request(`${issuer}/authorize?${query}`)
  const location = new URL(res.headers.get('location')!)
  t.equal(location.searchParams.get('error'), 'invalid_scope')

  // userinfo: a revoked key, a key without openid, no key.
  const key = (await app.store.keys.byHash(app.store.keys.hash(tokens.access_token)))!
  const plain = await createKey(app, { userId: key.userId!, accountId: key.accountId! })
  const scopeless = await fetch(`${issuer}/userinfo`, {
    method: 'POST',
    headers: { authorization: `Bearer ${plain.token}` },
  })
  t.equal(scopeless.status, 403, 'a key without openid')
  t.match(scopeless.headers.get('www-authenticate'), 'error="insufficient_scope"')
  const manual = await app.inject({ method: 'GET', url: '/userinfo' })
  t.equal(manual.statusCode, 401)
  t.match(manual.headers['www-authenticate'], /^Bearer /)
  await app.store.keys.revoke(key.id, app.now())
  const revoked = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(revoked.status, 401)
  t.match(revoked.headers.get('www-authenticate'), 'error="invalid_token"')

  // Alg downgrades: "none", and HS256 keyed with a public key, are not verified by a consumer
  // that takes only the advertised algorithms from the JWKS.
  const payload = { iss: issuer, aud: rp.client_id, sub: '1', exp: Math.floor(Date.now() / 1000) + 60 }
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`
  await t.rejects(jwtVerify(none, jwks, { algorithms: meta.id_token_signing_alg_values_supported }))
  const published = (await (await fetch(meta.jwks_uri!)).json()) as { keys: Array<Record<string, string>> }
  const hs = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', kid: published.keys[0]!.kid! })
    .sign(new TextEncoder().encode(JSON.stringify(published.keys[0])))
  await t.rejects(jwtVerify(hs, jwks, { algorithms: meta.id_token_signing_alg_values_supported }))
  t.ok(
    published.keys.every((k) => k.alg === 'ES256' || k.alg === 'RS256'),
    'every published key names its algorithm',
  )
  t.ok(
    published.keys.every((k) => !('d' in k)),
    'no private part is published',
  )
  t.equal(decodeProtectedHeader(tokens.id_token!).typ, 'JWT')
})
