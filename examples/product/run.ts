// `npm run example`: Acme on PostgreSQL (database "acme" on the local server, made if
// missing; EXAMPLE_DATABASE_URL names the server, EXAMPLE_DATABASE the database) and keygate
// in front of it, each on its own port. Ctrl-C stops both.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { repoPath } from '../../src/shared/paths.js'
import { keygateEnv } from './keygate-env.js'
import { digest, newToken, seed, startProduct } from './product.js'

const server = process.env.EXAMPLE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const productPort = Number(process.env.EXAMPLE_PRODUCT_PORT ?? 4000)
const keygatePort = Number(process.env.EXAMPLE_KEYGATE_PORT ?? 3000)

async function ensureDatabase(name: string): Promise<string> {
  const client = new pg.Client({ connectionString: server })
  await client.connect()
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`EXAMPLE_DATABASE: ${name} is not a plain database name`)
  if (!rowCount) await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(server)
  url.pathname = `/${name}`
  return url.href
}

const databaseUrl = await ensureDatabase(process.env.EXAMPLE_DATABASE ?? 'acme')
const handoffSecret = randomBytes(32).toString('base64url')
const keygateUrl = `http://localhost:${keygatePort}`
const setup = new pg.Pool({ connectionString: databaseUrl })
await seed(setup)
// A token Acme issued the way it always has, to paste into a stdio client.
const token = newToken()
await setup.query(
  `INSERT INTO developer_tokens (org_id, created_by, label, token_digest, permissions)
   SELECT m.org_id, p.id, 'made on the settings page', $1, ARRAY['projects:read']
   FROM people p JOIN memberships m ON m.person_id = p.id JOIN organisations o ON o.id = m.org_id
   WHERE p.email = 'alice@acme.example' AND o.name = 'Acme Rockets'`,
  [digest(token)],
)
await setup.end()
const product = await startProduct({ databaseUrl, port: productPort, keygate: { url: keygateUrl, secret: handoffSecret } })

const keygate = spawn(process.execPath, [repoPath('bin/keygate.js'), 'serve'], {
  env: {
    ...process.env,
    PORT: String(keygatePort),
    ...keygateEnv({ databaseUrl, keygateUrl, productUrl: product.url, handoffSecret }),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
})
keygate.on('exit', (code) => {
  console.error(`keygate exited (${code})`)
  void product.app.close().then(() => process.exit(code ?? 1))
})
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    keygate.kill('SIGTERM')
  })

console.log(`Acme (the product)   ${product.url}   sign in as alice@acme.example, password acme-password
keygate in front      ${keygateUrl}   MCP URL: ${keygateUrl}/mcp
A token Acme issued   ${token}
                      (works on ${keygateUrl}/mcp too: KEYGATE_KEY_FORMAT=any)
Add ${keygateUrl}/mcp as a remote MCP server in your client, or try:
  npx @modelcontextprotocol/inspector   (URL ${keygateUrl}/mcp, transport Streamable HTTP)
Ctrl-C stops both.`)
