// Peer for code exchange: panva's oidc-provider (OpenID Certified), configured as its
// documentation shows for an OAuth 2.0 resource server without OpenID Connect (a public
// client, PKCE required, no openid scope, `features.resourceIndicators` for the access
// token's audience, its in-memory adapter). Codes are made ahead of each round (as its own
// tests make them: a Grant, then an AuthorizationCode) when the bench writes "mint N" on
// stdin, and printed as one JSON line, so that the round times the token endpoint only.
import { createHash, randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import Provider from 'oidc-provider'

const port = Number(process.argv[2])
const issuer = `http://127.0.0.1:${port}`
const resource = `${issuer}/mcp`
const redirect = 'https://client.example/cb'
/**
 * An in-memory adapter with the interface oidc-provider documents (lib/adapters/memory_adapter
 * and the Adapter type): its own quick-start adapter keeps 1,000 entries (an LRU), fewer than a
 * bench round's codes and grants, and would evict codes before they are redeemed.
 */
class MemoryAdapter {
  static store = new Map<string, { payload: Record<string, unknown>; expires: number }>()
  readonly name: string
  constructor(name: string) {
    this.name = name
  }
  key(id: string) {
    return `${this.name}:${id}`
  }
  async upsert(id: string, payload: Record<string, unknown>, expiresIn: number) {
    MemoryAdapter.store.set(this.key(id), { payload, expires: Date.now() + expiresIn * 1000 })
  }
  async find(id: string) {
    const entry = MemoryAdapter.store.get(this.key(id))
    if (!entry || entry.expires < Date.now()) return undefined
    return entry.payload
  }
  async findByUid(uid: string) {
    for (const entry of MemoryAdapter.store.values()) if (entry.payload.uid === uid) return entry.payload
    return undefined
  }
  async findByUserCode(userCode: string) {
    for (const entry of MemoryAdapter.store.values()) if (entry.payload.userCode === userCode) return entry.payload
    return undefined
  }
  async consume(id: string) {
    const entry = MemoryAdapter.store.get(this.key(id))
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000)
  }
  async destroy(id: string) {
    MemoryAdapter.store.delete(this.key(id))
  }
  async revokeByGrantId(grantId: string) {
    for (const [k, entry] of MemoryAdapter.store) if (entry.payload.grantId === grantId) MemoryAdapter.store.delete(k)
  }
}

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [
    {
      client_id: 'bench',
      token_endpoint_auth_method: 'none',
      redirect_uris: [redirect],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  pkce: { required: () => true },
  scopes: ['read'],
  // Codes live ten minutes here (60 s by default), so a bench round never meets an expired one.
  ttl: { AuthorizationCode: 600, AccessToken: 3600, Grant: 86400 },
  features: {
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      getResourceServerInfo: () => ({ scope: 'read', audience: resource, accessTokenFormat: 'opaque' }),
      useGrantedResource: () => true,
    },
  },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
})
provider.listen(port, '127.0.0.1')
const client = await provider.Client.find('bench')
const verifier = randomBytes(32).toString('base64url')
const challenge = createHash('sha256').update(verifier).digest('base64url')

async function mint(count: number): Promise<string[]> {
  const codes: string[] = []
  for (let i = 0; i < count; i++) {
    const grant = new provider.Grant({ accountId: 'alice', clientId: 'bench' })
    grant.addResourceScope(resource, 'read')
    const grantId = await grant.save()
    const code = new provider.AuthorizationCode({
      accountId: 'alice',
      grantId,
      client: client!,
      redirectUri: redirect,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      scope: 'read',
      resource,
      gty: 'authorization_code',
    })
    codes.push(await code.save())
  }
  return codes
}

process.stdout.write(`${JSON.stringify({ verifier, redirect })}\n`)
for await (const line of createInterface({ input: process.stdin })) {
  const m = /^mint (\d+)$/.exec(line)
  if (m) process.stdout.write(`${JSON.stringify(await mint(Number(m[1])))}\n`)
}
