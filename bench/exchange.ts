// Code-exchange throughput in-process (app.inject, 8 in flight): pre-signed codes, each
// exchanged once at /token, on each database. Measures the token endpoint's own
// work (checks, key minting, the single-use insert) without network noise.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/index.js'
import { signCode } from '../src/oauth/code.js'
import { buildApp } from '../src/server/app.js'
import { type DatabaseUnderTest, dropSchema } from './databases.js'

const SECRET = 'bench-secret-0123456789-abcdefghijklmnop'
const REDIRECT = 'https://client.example/cb'

export async function exchangeThroughput(database: DatabaseUnderTest, count = 3000): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-'))
  const schema = `kgbench_${randomBytes(6).toString('hex')}`
  const env: Record<string, string> = {
    KEYGATE_DB: join(dir, 'k.db'),
    KEYGATE_SECRET: SECRET,
    KEYGATE_RATE_LIMIT_TOKEN: '1000000',
  }
  if (database.url) Object.assign(env, { KEYGATE_DATABASE_URL: database.url, KEYGATE_DATABASE_SCHEMA: schema })
  const app = await buildApp(loadConfig(env, { generateSecret: false }))
  try {
    const user = await app.store.users.create({ email: 'b@example.com', name: 'b', passwordHash: 'x', createdAt: 0 })
    const account = await app.store.accounts.create({ name: 'b', kind: 'personal', ownerId: user.id, createdAt: 0 })
    const client = await app.store.clients.register(
      {
        clientId: 'bench',
        clientName: 'bench',
        redirectUris: [REDIRECT],
        tokenEndpointAuthMethod: 'none',
        clientSecretHash: null,
        metadata: {},
        source: 'cli',
        fingerprint: null,
      },
      0,
    )
    const consent = await app.store.consents.upsert(
      { userId: user.id, clientId: client.clientId, accountId: account.id, scopes: ['read'] },
      0,
    )
    const verifier = randomBytes(32).toString('base64url')
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    const codes = await Promise.all(
      Array.from({ length: count }, () =>
        signCode(
          app.keyrings.code,
          app.config.issuer,
          {
            clientId: client.clientId,
            redirectUri: REDIRECT,
            codeChallenge: challenge,
            userId: user.id,
            accountId: account.id,
            scopes: ['read'],
            resource: app.config.resource,
            consentCreatedAt: consent.createdAt,
          },
          app.now(),
        ),
      ),
    )
    let next = 0
    const worker = async () => {
      while (next < codes.length) {
        const code = codes[next++]!
        const res = await app.inject({
          method: 'POST',
          url: '/token',
          payload: {
            grant_type: 'authorization_code',
            code,
            code_verifier: verifier,
            client_id: 'bench',
            redirect_uri: REDIRECT,
          },
        })
        if (res.statusCode !== 200) throw new Error(`exchange failed: ${res.body}`)
      }
    }
    const start = performance.now()
    await Promise.all(Array.from({ length: 8 }, worker))
    return count / ((performance.now() - start) / 1000)
  } finally {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
    await dropSchema(database, schema)
  }
}
