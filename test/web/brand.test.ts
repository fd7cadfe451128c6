// The product's face: its name, logo, colour and links on every page, in the metadata, in
// "Sign in to Acme to connect <app>"; an operator's own templates; bad settings refused.
import { createServer } from 'node:http'
import t from 'tap'
import { loadConfig } from '../../src/config/index.js'
import { contrast, imageType, palette } from '../../src/pages/brand.js'
import { buildApp } from '../../src/server/app.js'
import { repoPath } from '../../src/shared/paths.js'
import { NOTICES } from '../../src/web/dashboard.js'
import {
  authorizeQuery,
  build,
  codeFor,
  createUser,
  pkce,
  registerClient,
  sessionCookie,
  tempDir,
  testConfig,
} from '../helper.js'

const fixture = (name: string) => repoPath('test', 'fixtures', 'brand', name)
const ACME = {
  KEYGATE_PRODUCT_NAME: 'Acme Notes',
  KEYGATE_PRODUCT_LOGO: fixture('acme.svg'),
  KEYGATE_PRODUCT_COLOR: '#c2410c',
  KEYGATE_PRODUCT_URL: 'https://acme.example',
  KEYGATE_SUPPORT_URL: 'mailto:help@acme.example',
  KEYGATE_PRIVACY_URL: 'https://acme.example/privacy',
}

async function rejectsBuild(t: any, env: Record<string, string>, message: string | RegExp) {
  await t.rejects(
    (async () => {
      const app = await buildApp(testConfig(tempDir(t), env))
      await app.close()
    })(),
    { message },
  )
}

t.test('the product is named on every page, in titles, header and footer; keygate is not', async (t) => {
  const { app } = await build(t, ACME)
  await createUser(app, 'alice@example.com')
  const cookie = await sessionCookie(app, 'alice@example.com')
  for (const url of ['/login', '/dashboard', '/connect', '/device', '/logout']) {
    const page = await app.inject({ url, headers: url === '/login' ? {} : { cookie } })
    t.equal(page.statusCode, 200, url)
    t.match(page.body, /<title>[^<]+ · Acme Notes<\/title>/, `${url}: the title`)
    t.match(
      page.body,
      '<a class="brand" href="/dashboard"><img src="/brand/logo" alt="" height="28"><span>Acme Notes</span>',
    )
    t.match(page.body, '<a href="mailto:help@acme.example">Help</a>', `${url}: the support link`)
    t.match(page.body, '<a href="https://acme.example/privacy">Privacy</a>')
    t.match(page.body, '<link rel="icon" href="/brand/logo">')
    t.notMatch(
      page.body.replace(/keygate (login|stdio)|"keygate"|KEYGATE_\w+/g, ''),
      /keygate/i,
      `${url}: no "keygate"`,
    )
  }
  const logo = await app.inject({ url: '/brand/logo' })
  t.equal(logo.headers['content-type'], 'image/svg+xml')
  t.match(logo.headers['content-security-policy'], /sandbox/, 'an SVG opened on its own runs nothing')
  t.match(logo.body, /^<svg/)
  const css = await app.inject({ url: '/static/brand.css' })
  t.match(css.body, /--accent: #[0-9a-f]{6}; --on-accent: #(ffffff|111418); --ink: #[0-9a-f]{6}/)
  t.equal((await app.inject({ url: '/favicon.ico' })).headers['content-type'], 'image/svg+xml')
})

t.test('the metadata names the product and its documentation, which is a public page', async (t) => {
  const { app } = await build(t, ACME)
  const prm = (await app.inject({ url: '/.well-known/oauth-protected-resource/mcp' })).json()
  t.equal(prm.resource_name, 'Acme Notes')
  t.equal(prm.resource_documentation, 'http://localhost:3000/connect')
  t.equal(prm.resource_policy_uri, 'https://acme.example/privacy')
  const as = (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json()
  t.equal(as.service_documentation, 'http://localhost:3000/connect')
  t.equal(as.op_policy_uri, 'https://acme.example/privacy')
  const docs = await app.inject({ url: '/connect' })
  t.equal(docs.statusCode, 200, 'not a redirect to sign-in')
  t.match(docs.body, '<pre class="mcp-url" id="mcp-url">http://localhost:3000/mcp</pre>')
  t.match(docs.body, 'claude mcp add --transport http acme-notes http://localhost:3000/mcp')
  t.match(docs.body, "code --add-mcp '{&quot;name&quot;:&quot;acme-notes&quot;")
  const own = await build(t, { ...ACME, KEYGATE_DOCS_URL: 'https://acme.example/docs/mcp' })
  const metadata = (await own.app.inject({ url: '/.well-known/oauth-authorization-server' })).json()
  t.equal(metadata.service_documentation, 'https://acme.example/docs/mcp')
  const plain = await build(t)
  t.equal(
    (await plain.app.inject({ url: '/.well-known/oauth-protected-resource/mcp' })).json().resource_name,
    'keygate',
  )
})

t.test('sign-in from an authorization or a device code says which app it is for', async (t) => {
  const { app } = await build(t, ACME)
  const client = await registerClient(app, { client_name: 'Claude' })
  const { challenge } = pkce()
  const authorize = await app.inject({ url: `/authorize?${authorizeQuery(client.client_id, challenge)}` })
  t.equal(authorize.statusCode, 302)
  const login = await app.inject({ url: authorize.headers.location as string })
  t.match(login.body, /<h1>Sign in to Acme Notes to connect <bdi class="client-name">Claude<\/bdi><\/h1>/)
  const device = await app.inject({ url: '/login?return_to=%2Fdevice' })
  t.match(device.body, '<h1>Sign in to Acme Notes to connect a device</h1>')
  const plain = await app.inject({ url: '/login' })
  t.match(plain.body, '<h1>Sign in to Acme Notes</h1>')
  const unknown = await app.inject({ url: `/login?return_to=${encodeURIComponent('/authorize?client_id=nobody')}` })
  t.match(unknown.body, '<h1>Sign in to Acme Notes to connect an app</h1>', 'an unknown client is not named')
})

t.test("the operator's templates replace keygate's by name; a bad one stops start-up with one line", async (t) => {
  const { app } = await build(t, { ...ACME, KEYGATE_TEMPLATES_DIR: fixture('templates-ok') })
  const login = await app.inject({ url: '/login' })
  t.match(login.body, '<h1>Welcome to Acme Notes (our own page)</h1>')
  t.match(login.body, '<title>Sign in · Acme Notes</title>', "keygate's layout around it")
  t.match((await app.inject({ url: '/connect' })).body, 'Connect an app to Acme Notes', 'the others are keygate’s')
  await rejectsBuild(
    t,
    { KEYGATE_TEMPLATES_DIR: fixture('templates-broken') },
    /^KEYGATE_TEMPLATES_DIR: consent\.eta does not compile: /,
  )
  await rejectsBuild(
    t,
    { KEYGATE_TEMPLATES_DIR: fixture('templates-unknown') },
    /^KEYGATE_TEMPLATES_DIR: consnet\.eta is not one of keygate's templates \(audit\.eta, /,
  )
  await rejectsBuild(
    t,
    { KEYGATE_TEMPLATES_DIR: fixture('nowhere') },
    /^KEYGATE_TEMPLATES_DIR: .* could not be read \(ENOENT\)$/,
  )
})

t.test('the logo: a file or a URL read once at start-up; anything else stops start-up with one line', async (t) => {
  let fetched = 0
  const server = createServer((req, res) => {
    fetched++
    if (req.url === '/logo.png') {
      res.writeHead(200, { 'content-type': 'image/png' })
      res.end(Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'))
    } else if (req.url === '/page') res.end('<html>not an image</html>')
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const { app } = await build(t, { KEYGATE_PRODUCT_LOGO: `${base}/logo.png` })
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/brand/logo' })).headers['content-type'], 'image/png')
  t.equal(fetched, 1, 'fetched once, served from keygate')
  await rejectsBuild(t, { KEYGATE_PRODUCT_LOGO: `${base}/page` }, /is not a PNG, JPEG, GIF, WebP or SVG image$/)
  await rejectsBuild(t, { KEYGATE_PRODUCT_LOGO: `${base}/missing.png` }, /answered HTTP 404$/)
  await rejectsBuild(t, { KEYGATE_PRODUCT_LOGO: '/nowhere/logo.png' }, /could not be read \(ENOENT\)$/)
  t.equal((await build(t)).app.brandLogo, undefined)
  t.equal((await (await build(t)).app.inject({ url: '/brand/logo' })).statusCode, 404, 'no logo: nothing there')
})

t.test('bad brand settings stop start-up with one line naming the variable', async (t) => {
  const SECRET = 'x'.repeat(32)
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ KEYGATE_PRODUCT_COLOR: 'red' }, /^KEYGATE_PRODUCT_COLOR: must be a colour like #2755d6$/],
    [{ KEYGATE_PRODUCT_NAME: ' ' }, /^KEYGATE_PRODUCT_NAME: must be 1 to 60 characters$/],
    [{ KEYGATE_PRODUCT_NAME: 'x'.repeat(61) }, /^KEYGATE_PRODUCT_NAME: must be 1 to 60 characters$/],
    [{ KEYGATE_PRODUCT_NAME: 'Acme\u202eseton' }, /^KEYGATE_PRODUCT_NAME: must not hold control, invisible/],
    [{ KEYGATE_PRODUCT_NAME: '<b>Acme</b>' }, /^KEYGATE_PRODUCT_NAME: must not hold control, invisible or < >/],
    [{ KEYGATE_SUPPORT_URL: 'javascript:alert(1)' }, /^KEYGATE_SUPPORT_URL: must be https or mailto:/],
    [{ KEYGATE_PRIVACY_URL: 'not a url' }, /^KEYGATE_PRIVACY_URL: not an absolute URL/],
    [
      { KEYGATE_PRODUCT_LOGO: 'data:image/png;base64,AAAA' },
      /^KEYGATE_PRODUCT_LOGO: must be a file path or an https URL$/,
    ],
    [
      { NODE_ENV: 'production', KEYGATE_ISSUER: 'https://mcp.example.com', KEYGATE_DOCS_URL: 'http://docs.example' },
      /^KEYGATE_DOCS_URL: must be https$/,
    ],
  ]
  for (const [env, message] of cases)
    t.throws(
      () => loadConfig({ KEYGATE_SECRET: SECRET, ...env }, { warn: () => undefined }),
      { message },
      message.source,
    )
})

t.test('any accent colour keeps WCAG AA contrast for text, buttons and the focus ring', async (t) => {
  for (const color of ['#2755d6', '#ffdd00', '#c2410c', '#00ff00', '#000000', '#ffffff', '#7f7f7f', '#0e7490']) {
    const p = palette(color)
    t.ok(contrast(p.accent, p.onAccent) >= 4.5, `${color}: button text ${contrast(p.accent, p.onAccent).toFixed(2)}`)
    t.ok(contrast(p.ink, '#ffffff') >= 4.5, `${color}: links on white`)
    t.ok(contrast(p.ink, '#f5f6f8') >= 4.5, `${color}: links on the page`)
    t.ok(contrast(p.focus, '#ffffff') >= 3, `${color}: the focus ring`)
  }
  t.equal(imageType(Buffer.from('GIF89a....')), 'image/gif')
  t.equal(imageType(Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>')), 'image/svg+xml')
  t.equal(imageType(Buffer.from('<html><svg></svg></html>')), undefined)
})

t.test("keygate's own CLI is a verified client: named so on the consent page, refused in a clients file", async (t) => {
  const { app } = await build(t, ACME)
  const cli = await app.store.clients.byId('keygate-cli')
  t.match(cli, { clientName: 'keygate CLI', source: 'config', redirectUris: [] })
  const { writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const dir = tempDir(t)
  const file = join(dir, 'clients.json')
  writeFileSync(
    file,
    JSON.stringify([{ client_id: 'keygate-cli', client_name: 'Evil', redirect_uris: ['https://e.example/cb'] }]),
  )
  await rejectsBuild(
    t,
    { KEYGATE_CLIENTS_FILE: file },
    "KEYGATE_CLIENTS_FILE: 0: keygate-cli is keygate's own client id",
  )
})

t.test('the audit log reads as sentences with app names; each dashboard action ends with a notice', async (t) => {
  const { app } = await build(t, ACME)
  const client = await registerClient(app, { client_name: 'Claude' })
  const { cookie } = await codeFor(app, { client })
  const account = (await app.store.accounts.membershipsOf((await app.store.users.byEmail('alice@example.com'))!.id))[0]!
  const audit = await app.inject({ url: `/dashboard/audit?account=${account.account.id}`, headers: { cookie } })
  t.match(audit.body, /data-event="consent_granted">alice@example\.com connected “Claude” \(read write\)<\/td>/)
  t.notMatch(audit.body, client.client_id, 'no raw client id')
  t.notMatch(audit.body, /\{&quot;/, 'no raw JSON')
  const dash = await app.inject({
    url: `/dashboard?account=${account.account.id}&done=key_revoked`,
    headers: { cookie },
  })
  t.match(dash.body, `<p class="notice" role="status">${NOTICES.key_revoked}</p>`)
  const forged = await app.inject({ url: '/dashboard?done=%3Cscript%3E', headers: { cookie } })
  t.notMatch(forged.body, 'class="notice"', 'an unknown notice shows nothing')
  const proto = await app.inject({ url: '/dashboard?done=constructor', headers: { cookie } })
  t.notMatch(proto.body, 'class="notice"')
})

t.test("MCP clients see the product: serverInfo is the product's name in both eras", async (t) => {
  const { INJECT_HEADERS, rpc } = await import('../support/mcp.js')
  const { createKey } = await import('../helper.js')
  const { app } = await build(t, ACME)
  const { user, account } = await createUser(app, 'alice@example.com')
  const { token } = await createKey(app, { userId: user.id, accountId: account.id })
  const headers = { ...INJECT_HEADERS, authorization: `Bearer ${token}` }
  const init = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers,
    payload: rpc('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'test', version: '1' },
    }),
  })
  t.match(init.json().result.serverInfo, { name: 'acme-notes', title: 'Acme Notes' })
  const modern = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { ...headers, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' },
    payload: rpc('server/discover', {
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    }),
  })
  t.match(modern.json().result._meta['io.modelcontextprotocol/serverInfo'], { name: 'acme-notes', title: 'Acme Notes' })
})
