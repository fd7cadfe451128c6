// Not a peer: two floors for code exchange at /token, over the same HTTP as keygate's and
// oidc-provider's. POST /token is the least this design's exchange does: the form body,
// keygate's own code verification (src/oauth/code.ts: HS256 under the HKDF-derived key,
// issuer, expiry, claims), the PKCE check, a new key (32 random bytes, SHA-256) written as
// one row with its UNIQUE grant id (the code's single use) to a SQLite file in WAL mode, as
// keygate opens its own, and the token response. No client, consent, account or role
// checks, no key replacement, no audit. POST /token/http answers the token response after
// the form body alone: what HTTP and Fastify cost before any OAuth work.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import formbody from '@fastify/formbody'
import Database from 'better-sqlite3'
import Fastify from 'fastify'
import { keyring } from '../../src/crypto/secrets.js'
import { verifyCode } from '../../src/oauth/code.js'

const [port, secret, issuer] = [Number(process.argv[2]), process.argv[3]!, process.argv[4]!]
const keys = keyring('authorization-code', secret, [])
const db = new Database(join(mkdtempSync(join(tmpdir(), 'keygate-floor-')), 'f.db'))
db.pragma('journal_mode = WAL')
db.pragma('synchronous = NORMAL')
db.exec(`CREATE TABLE api_keys (id INTEGER PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, grant_id TEXT UNIQUE,
  user_id INTEGER NOT NULL, account_id INTEGER NOT NULL, client_id TEXT NOT NULL, scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER)`)
const insert = db.prepare(
  'INSERT INTO api_keys (key_hash, grant_id, user_id, account_id, client_id, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
)
type Form = Record<string, string | undefined>
const app = Fastify()
await app.register(formbody)
app.post('/token', async (req, reply) => {
  const form = req.body as Form
  const now = Math.floor(Date.now() / 1000)
  const code = await verifyCode(keys, issuer, form.code ?? '', now).catch(() => undefined)
  const challenge = createHash('sha256')
    .update(form.code_verifier ?? '')
    .digest('base64url')
  if (
    !code ||
    code.clientId !== form.client_id ||
    code.redirectUri !== form.redirect_uri ||
    code.codeChallenge !== challenge
  )
    return reply.code(400).send({ error: 'invalid_grant' })
  const token = `kg_${randomBytes(32).toString('base64url')}`
  const hash = createHash('sha256').update(token).digest('hex')
  try {
    insert.run(hash, code.jti, code.userId, code.accountId, code.clientId, code.scopes.join(' '), now, now + 3600)
  } catch {
    return reply.code(400).send({ error: 'invalid_grant' })
  }
  reply.header('cache-control', 'no-store')
  return { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: code.scopes.join(' ') }
})
app.post('/token/http', async (req, reply) => {
  if (!(req.body as Form).code) return reply.code(400).send({ error: 'invalid_request' })
  reply.header('cache-control', 'no-store')
  return { access_token: `kg_${'x'.repeat(43)}`, token_type: 'Bearer', expires_in: 3600, scope: 'read' }
})
await app.listen({ port, host: '127.0.0.1' })
process.stdout.write('ready\n')
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
