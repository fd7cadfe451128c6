// keygate's whole configuration in front of Acme: sign-in through Acme's session (handoff),
// keys in Acme's developer_tokens (the mapping in keygate-keys.json), tool calls to Acme's
// API, Acme's permission names as scopes. keygate's own tables go in their own schema.
import { repoPath } from '../../src/shared/paths.js'

export function keygateEnv(o: {
  databaseUrl: string
  keygateUrl: string
  productUrl: string
  handoffSecret: string
}): Record<string, string> {
  return {
    KEYGATE_ISSUER: o.keygateUrl,
    KEYGATE_DATABASE_URL: o.databaseUrl,
    KEYGATE_DATABASE_SCHEMA: 'keygate',
    KEYGATE_LOGIN: 'handoff',
    KEYGATE_HANDOFF_URL: `${o.productUrl}/keygate-handoff`,
    KEYGATE_HANDOFF_ISSUER: o.productUrl,
    KEYGATE_HANDOFF_SECRET: o.handoffSecret,
    KEYGATE_KEYS_TABLE: repoPath('examples/product/keygate-keys.json'),
    KEYGATE_KEY_FORMAT: 'any',
    KEYGATE_UPSTREAM: `${o.productUrl}/api/v1`,
    KEYGATE_SCOPES: 'projects:read projects:write',
    KEYGATE_ALWAYS_SCOPES: 'projects:read',
  }
}
