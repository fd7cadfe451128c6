// Pre-registered clients from KEYGATE_CLIENTS_FILE (a JSON array), for products that
// prefer an allow-list to open registration. Loaded at start-up and upserted by client_id;
// a bad file stops start-up with a message naming the variable. Secrets are given as
// SHA-256 hex (`client_secret_sha256`), never in clear.
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { ConfigError } from '../config/index.js'
import type { Store } from '../store/types.js'
import { clientName, redirectUris } from './client-metadata.js'
import { FIRST_PARTY_IDS } from './first-party.js'

const clientSchema = z
  .object({
    client_id: z.string().regex(/^[\w.~-]{1,100}$/, 'must be 1-100 characters of letters, digits, "_", "-", ".", "~"'),
    client_name: clientName.refine((n) => n !== undefined, 'must have a visible character'),
    redirect_uris: redirectUris,
    client_secret_sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits')
      .optional(),
    token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post']).optional(),
    grant_types: z.array(z.enum(['authorization_code', 'refresh_token'])).optional(),
    introspect: z.boolean().optional(),
  })
  .strict()

const fileSchema = z.array(clientSchema).max(1000)

function fail(problem: string): never {
  throw new ConfigError(`KEYGATE_CLIENTS_FILE: ${problem}`)
}

export async function loadPreregisteredClients(store: Store, path: string, now: number): Promise<number> {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    fail(`cannot read ${path} as JSON (${(err as Error).message.split('\n')[0]})`)
  }
  const parsed = fileSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    // A redirect URI's own message names it; other fields are named by their path.
    const where = issue.path.at(-1) === 'redirect_uris' ? String(issue.path[0]) : issue.path.join('.') || 'file'
    fail(`${where}: ${issue.message}`)
  }
  for (const [i, c] of parsed.data.entries()) {
    if (FIRST_PARTY_IDS.includes(c.client_id)) fail(`${i}: ${c.client_id} is keygate's own client id`)
    const method = c.token_endpoint_auth_method ?? (c.client_secret_sha256 ? 'client_secret_basic' : 'none')
    if (method !== 'none' && !c.client_secret_sha256) fail(`${i}: ${method} needs client_secret_sha256`)
    if (method === 'none' && c.client_secret_sha256) fail(`${i}: a public client ("none") has no secret`)
    if (c.introspect && method === 'none') fail(`${i}: only a confidential client may introspect`)
    const grantTypes = c.grant_types ?? ['authorization_code', 'refresh_token']
    const name = c.client_name!
    await store.clients.upsert(
      {
        clientId: c.client_id,
        clientName: name,
        redirectUris: c.redirect_uris,
        tokenEndpointAuthMethod: method,
        clientSecretHash: c.client_secret_sha256 ?? null,
        source: 'config',
        metadata: {
          client_name: name,
          redirect_uris: c.redirect_uris,
          token_endpoint_auth_method: method,
          grant_types: grantTypes,
          response_types: ['code'],
          ...(c.introspect ? { introspect: true } : {}),
        },
      },
      now,
    )
  }
  return parsed.data.length
}
