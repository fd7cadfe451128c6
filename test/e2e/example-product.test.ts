// examples/product end to end: Acme (its own PostgreSQL tables, sign-in, API, settings
// page and token check) with keygate in front, configured as docs/product-keys.md's walkthrough
// says (examples/product/keygate-env.ts). The official SDK client goes from a bare 401
// through sign-in at Acme, consent with Acme's organisations, token, and tools/call that
// reaches Acme's API, which accepts the key with its own code; Acme's settings page then
// revokes the key with its own UPDATE, and the next call is 401. Then a token Acme issued
// the way it always has, pasted into keygate's stdio bridge.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import pg from 'pg'
import t from 'tap'
import { keygateEnv } from '../../examples/product/keygate-env.js'
import { digest, seed, startProduct } from '../../examples/product/product.js'
import { buildApp } from '../../src/server/app.js'
import { TEST_DATABASE_URL, TEST_DIALECT, tempDir, testConfig } from '../helper.js'
import { Browser, freePort } from '../support/http.js'
import { callTool } from '../support/mcp.js'
import { TestOAuthProvider } from '../support/oauth-provider.js'

// Acme runs on PostgreSQL whatever database the rest of the suite uses.
const SERVER = TEST_DIALECT === 'postgres' ? TEST_DATABASE_URL! : 'postgres://postgres@127.0.0.1:5432/postgres'

async function onServer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/** A database of Acme's own, seeded; keygate and Acme on real ports in front of it. */
async function acmeWithKeygate(t: Parameters<typeof tempDir>[0]) {
  const name = `acme_e2e_${randomBytes(6).toString('hex')}`
  await onServer(`CREATE DATABASE ${name}`)
  const url = new URL(SERVER)
  url.pathname = `/${name}`
  const databaseUrl = url.href
  const setup = new pg.Pool({ connectionString: databaseUrl })
  await seed(setup)
  await setup.end()

  const keygatePort = await freePort()
  const keygateUrl = `http://localhost:${keygatePort}`
  const handoffSecret = randomBytes(32).toString('base64url')
  const product = await startProduct({
    databaseUrl,
    port: await freePort(),
    keygate: { url: keygateUrl, secret: handoffSecret },
  })
  const dir = tempDir(t)
  const app = await buildApp(
    testConfig(dir, {
      PORT: String(keygatePort),
      ...keygateEnv({ databaseUrl, keygateUrl, productUrl: product.url, handoffSecret }),
    }),
  )
  await app.listen({ port: keygatePort, host: '127.0.0.1' })
  const closing: Array<() => Promise<unknown>> = []
  t.teardown(async () => {
    for (const close of closing.reverse()) await close()
    await app.close()
    await product.app.close()
    await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  })
  return { app, keygateUrl, product, closing }
}

t.test(
  'Acme behind keygate: the SDK client signs in at Acme, calls its API, and Acme revokes the key its own way',
  async (t) => {
    const { keygateUrl, product, closing } = await acmeWithKeygate(t)
    const browser = new Browser(keygateUrl)
    const signin = await browser.request(`${product.url}/signin`, {
      form: { email: 'alice@acme.example', password: 'acme-password', next: '/settings/tokens' },
    })
    t.equal(signin.status, 302, 'signed in to Acme with its own page')

    // Consent: Acme's organisations are the choices; alice picks Acme Rockets and ticks write.
    const picked: Record<string, string> = { scope_choice: 'projects:write' }
    const provider = new TestOAuthProvider(browser, picked)
    let consent = ''
    const original = browser.approve.bind(browser)
    browser.approve = async (url, form) => {
      consent = await (await browser.open(String(url))).text()
      const rockets = /value="(\d+)"[^>]*> Acme Rockets/.exec(consent)
      return original(url, { ...form, ...(rockets ? { account_id: rockets[1]! } : {}) })
    }
    const mcpUrl = new URL(`${keygateUrl}/mcp`)
    const first = new Client({ name: 'e2e', version: '1.0.0' })
    await t.rejects(
      first.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider })),
      { message: 'Unauthorized' },
      'a bare 401 starts OAuth',
    )
    const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider })
    await transport.finishAuth(await provider.code(keygateUrl))
    t.match(consent, 'Acme Rockets', "the consent page lists Acme's organisations")
    t.match(consent, 'Acme Labs')

    const client = new Client({ name: 'e2e', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))
    closing.push(() => client.close())
    const { tools } = await client.listTools()
    t.same(tools.map((x) => x.name).sort(), ['create_project', 'get_project', 'list_projects'], "Acme's API as tools")
    const listed = await client.callTool({ name: 'list_projects', arguments: {} })
    t.notOk(listed.isError, JSON.stringify(listed.content))
    t.same(
      (listed.structuredContent as { projects: Array<{ name: string }> }).projects.map((p) => p.name),
      ['Moon lander', 'Orbital crane'],
      "Acme's API accepted the key with its own check and answered for Acme Rockets",
    )

    // The key is a row in Acme's own table, written as Acme writes its tokens.
    const key = provider.tokens()!.access_token
    const { rows } = await product.acme.db.query(
      `SELECT t.label, t.permissions, t.revoked, t.last_used_at, o.name AS org, p.email
     FROM developer_tokens t JOIN organisations o ON o.id = t.org_id JOIN people p ON p.id = t.created_by
     WHERE t.token_digest = $1`,
      [digest(key)],
    )
    t.equal(rows.length, 1)
    t.match(rows[0], {
      label: 'MCP — SDK Test Client',
      permissions: ['projects:read', 'projects:write'],
      revoked: false,
      org: 'Acme Rockets',
      email: 'alice@acme.example',
    })
    t.ok(rows[0].last_used_at, "Acme's own check recorded the use")

    // Acme's settings page lists the key; its Revoke button is Acme's own UPDATE.
    const settings = await (await browser.request(`${product.url}/settings/tokens`)).text()
    const form = /MCP — SDK Test Client[\s\S]*?action="(\/settings\/tokens\/[0-9a-f-]+\/revoke)"/.exec(settings)
    t.ok(form, 'listed on Acme settings page with a Revoke button')
    t.equal((await browser.request(`${product.url}${form![1]}`, { form: {} })).status, 302)
    t.equal((await callTool(keygateUrl, key, 'list_projects')).status, 401, 'the next /mcp call is 401')
  },
)

t.test("a token Acme issued before keygate, pasted into keygate's stdio bridge", async (t) => {
  const { keygateUrl, product, closing } = await acmeWithKeygate(t)
  const browser = new Browser(product.url)
  await browser.request('/signin', { form: { email: 'alice@acme.example', password: 'acme-password', next: '/' } })
  const settings = await (await browser.request('/settings/tokens')).text()
  const labs = /<option value="([0-9a-f-]+)">Acme Labs/.exec(settings)![1]!
  const created = await browser.request('/settings/tokens', {
    form: { label: 'laptop', org_id: labs, permissions: ['projects:read'] },
  })
  const token = new URL(created.headers.get('location')!, product.url).searchParams.get('created')!
  t.match(token, /^acme_/, "Acme's own token format, not keygate's")

  const client = new Client({ name: 'desktop', version: '1' })
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['bin/keygate.js', 'stdio', '--url', `${keygateUrl}/mcp`],
      env: { PATH: process.env.PATH ?? '', KEYGATE_API_KEY: token },
      stderr: 'pipe',
    }),
  )
  closing.push(() => client.close())
  const listed = await client.callTool({ name: 'list_projects', arguments: {} })
  t.same(
    (listed.structuredContent as { projects: Array<{ name: string }> }).projects.map((p) => p.name),
    ['Lab notebook'],
  )
  await t.rejects(
    client.callTool({ name: 'create_project', arguments: { body: { name: 'x' } } }),
    { message: /HTTP 403.*needs the projects:write scope/ },
    'a read-only token cannot write: keygate refuses before the call reaches Acme',
  )
})

t.test(
  'npm run example, as the walkthrough starts it: both servers up, and a token Acme issued works through keygate',
  async (t) => {
    const name = `acme_run_${randomBytes(6).toString('hex')}`
    const [productPort, keygatePort] = [await freePort(), await freePort()]
    const child = spawn(process.execPath, ['dist/examples/product/run.js'], {
      env: {
        PATH: process.env.PATH ?? '',
        EXAMPLE_DATABASE_URL: SERVER,
        EXAMPLE_DATABASE: name,
        EXAMPLE_PRODUCT_PORT: String(productPort),
        EXAMPLE_KEYGATE_PORT: String(keygatePort),
        KEYGATE_DB: `${tempDir(t)}/keygate.db`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    t.teardown(async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
      await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    })
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
    })
    while (!out.includes('Ctrl-C')) await new Promise((r) => setTimeout(r, 100))
    t.match(out, `MCP URL: http://localhost:${keygatePort}/mcp`)
    const token = /A token Acme issued\s+(acme_\S+)/.exec(out)?.[1]
    t.ok(token, 'the printed token')
    // keygate answers once it has started (its start-up prints nothing on stdout).
    let status = 0
    // However long that takes on a loaded machine: the test's time-out is the bound.
    while (status !== 200) {
      status = (await callTool(`http://localhost:${keygatePort}`, token!, 'list_projects').catch(() => ({ status: 0 })))
        .status
      if (status !== 200) await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(status, 200, 'list_projects through keygate with the token Acme issued')
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    t.equal(code, 0, 'Ctrl-C (SIGTERM) stops both')
  },
)
