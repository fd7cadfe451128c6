// Client ID metadata documents (MCP 2025-11-25 authorization; draft-ietf-oauth-client-id-
// metadata-document): a client_id that is an https URL with a path names a JSON document
// describing the client. keygate fetches it with undici under an SSRF guard — only public
// unicast addresses after DNS resolution (checked at connect time, so DNS
// rebinding cannot slip past), 5 KB at most, a short time-out, no redirects — validates it,
// caches it per its Cache-Control within bounds, and keeps a row in oauth_clients so that
// consents and keys can reference it.
import type { FastifyInstance } from 'fastify'
import { PageError } from '../shared/errors.js'
import type { Client } from '../store/types.js'
import { clientName, MAX_NAME, MAX_REDIRECT_URIS, redirectUris } from './client-metadata.js'
import { cacheSeconds, FetchRefused, guardedFetcher, singleFlight, userAgent } from './guarded-fetch.js'

const MAX_BYTES = 5 * 1024
/** The longest client_id a database stores (docs/storage.md): MySQL indexes at most 512 characters. */
export const MAX_CLIENT_ID_LENGTH = 512
const MIN_CACHE_SECONDS = 60
const MAX_CACHE_SECONDS = 86400
const DEFAULT_CACHE_SECONDS = 300

/** How long a refused document is not fetched again. */
const REFUSED_SECONDS = 60

class CimdError extends Error {}

const refusedPage = (url: string, why: string) =>
  new PageError(400, 'Invalid application', `The application's client metadata document at ${url} was refused: ${why}.`)

export function isMetadataDocumentUrl(clientId: string, allowPrivate: boolean): boolean {
  if (!/^https?:\/\//.test(clientId)) return false
  try {
    const url = new URL(clientId)
    const scheme = url.protocol === 'https:' || (allowPrivate && url.protocol === 'http:')
    return scheme && url.pathname !== '/' && !url.hash && !url.username && !url.password
  } catch {
    return false
  }
}

function validate(
  url: string,
  doc: unknown,
): { name: string; redirectUris: string[]; metadata: Record<string, unknown> } {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CimdError('it is not a JSON object')
  const d = doc as Record<string, unknown>
  if (d.client_id !== url) throw new CimdError('its client_id does not equal its URL')
  const name = clientName.safeParse(d.client_name)
  if (!name.success || name.data === undefined) throw new CimdError(`it has no client_name (1-${MAX_NAME} characters)`)
  const uris = d.redirect_uris
  if (
    !Array.isArray(uris) ||
    uris.length === 0 ||
    uris.length > MAX_REDIRECT_URIS ||
    uris.some((u) => typeof u !== 'string')
  ) {
    throw new CimdError(`it has no redirect_uris (1-${MAX_REDIRECT_URIS} strings)`)
  }
  const checked = redirectUris.safeParse(uris)
  if (!checked.success) throw new CimdError(checked.error.issues[0]!.message)
  const method = d.token_endpoint_auth_method ?? 'none'
  if (method !== 'none')
    throw new CimdError(`token_endpoint_auth_method ${String(method).slice(0, 40)} is not supported (only "none")`)
  const grantTypes = Array.isArray(d.grant_types)
    ? d.grant_types.filter((g) => g === 'authorization_code' || g === 'refresh_token')
    : []
  return {
    name: name.data,
    redirectUris: checked.data,
    metadata: {
      client_id: url,
      client_name: name.data,
      redirect_uris: checked.data,
      token_endpoint_auth_method: 'none',
      // Omitted: the default grants (docs/oauth.md, "Token lifecycle").
      ...(grantTypes.length ? { grant_types: grantTypes } : {}),
      response_types: ['code'],
      ...(typeof d.logo_uri === 'string' && d.logo_uri.startsWith('https://') && d.logo_uri.length <= 2048
        ? { logo_uri: d.logo_uri }
        : {}),
    },
  }
}

export type MetadataDocuments = { resolve(clientId: string): Promise<Client> }

export function metadataDocuments(app: FastifyInstance): MetadataDocuments {
  const { cimdAllowPrivate, cimdTimeoutMs } = app.config
  const fetcher = guardedFetcher({
    allowPrivate: cimdAllowPrivate,
    timeoutMs: cimdTimeoutMs,
    userAgent: userAgent(app.config.issuer),
  })
  const cache = new Map<string, { client: Client; until: number } | { refused: string; until: number }>()
  const once = singleFlight<Client>()
  app.addHook('onClose', async () => fetcher.close())

  async function fetchDocument(url: string): Promise<{ doc: unknown; seconds: number }> {
    const { headers, body } = await fetcher.fetch(url, {
      accept: 'application/json',
      maxBytes: MAX_BYTES,
      describeSize: '5 KB',
    })
    try {
      return {
        doc: JSON.parse(body.toString('utf8')),
        seconds: cacheSeconds(headers['cache-control'], MIN_CACHE_SECONDS, MAX_CACHE_SECONDS, DEFAULT_CACHE_SECONDS),
      }
    } catch {
      throw new CimdError('it is not valid JSON')
    }
  }

  const remember = (url: string, entry: { client: Client; until: number } | { refused: string; until: number }) => {
    if (cache.size > 10_000) cache.clear()
    cache.set(url, entry)
  }

  return {
    async resolve(url) {
      const now = app.now()
      // Closed registration closes this way in too: a client known before keeps its record.
      if (!app.config.registrationOpen) {
        const known = await app.store.clients.byId(url)
        if (known?.source === 'cimd') return known
        throw refusedPage(url, 'this server accepts no new applications (its registration is closed)')
      }
      const cached = cache.get(url)
      if (cached && cached.until > now) {
        if ('client' in cached) return cached.client
        throw refusedPage(url, cached.refused)
      }
      // Requests for one document while it is being fetched share that fetch.
      return once(url, async () => {
        try {
          if (url.length > MAX_CLIENT_ID_LENGTH)
            throw new CimdError(`its URL is longer than ${MAX_CLIENT_ID_LENGTH} characters`)
          const { doc, seconds } = await fetchDocument(url)
          const valid = validate(url, doc)
          const client = await app.store.clients.upsert(
            {
              clientId: url,
              clientName: valid.name,
              redirectUris: valid.redirectUris,
              tokenEndpointAuthMethod: 'none',
              clientSecretHash: null,
              metadata: valid.metadata,
              source: 'cimd',
            },
            now,
          )
          remember(url, { client, until: now + seconds })
          return client
        } catch (err) {
          if (!(err instanceof CimdError) && !(err instanceof FetchRefused)) throw err
          // A refusal is remembered too: asking again at once would fetch again for nothing.
          remember(url, { refused: err.message, until: now + REFUSED_SECONDS })
          throw refusedPage(url, err.message)
        }
      })
    },
  }
}
