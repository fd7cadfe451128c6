// Client ID metadata documents (MCP 2025-11-25 authorization; draft-ietf-oauth-client-id-
// metadata-document): a client_id that is an https URL with a path names a JSON document
// describing the client. keygate fetches it with undici under an SSRF guard — only public
// unicast addresses after DNS resolution (checked at connect time, so DNS
// rebinding cannot slip past), 5 KB at most, a short time-out, no redirects — validates it,
// caches it per its Cache-Control within bounds, and keeps a row in oauth_clients so that
// consents and keys can reference it.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP } from 'node:net'
import type { FastifyInstance } from 'fastify'
import ipaddr from 'ipaddr.js'
import { Agent, type Dispatcher, request } from 'undici'
import { PageError } from '../errors.js'
import type { Client } from '../store/types.js'
import { clientName, MAX_NAME, MAX_REDIRECT_URIS, redirectUris } from './client-metadata.js'

const MAX_BYTES = 5 * 1024
/** The longest client_id a database stores (docs/storage.md): MySQL indexes at most 512 characters. */
export const MAX_CLIENT_ID_LENGTH = 512
const MIN_CACHE_SECONDS = 60
const MAX_CACHE_SECONDS = 86400
const DEFAULT_CACHE_SECONDS = 300

// An allow-list, not a deny-list: only public unicast addresses may be fetched. ipaddr.js
// names the special-purpose ranges of the IANA registries (RFC 6890 and successors):
// private, loopback, link-local, shared, documentation, benchmarking, reserved, 6to4,
// Teredo, NAT64 and the rest all fall outside "unicast". IPv6 must also be global unicast
// (2000::/3, RFC 4291 §2.4); an IPv4-mapped address is judged as the IPv4 address it maps.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3')

export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false
  let ip = ipaddr.parse(address)
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address()
  if (ip.range() !== 'unicast') return false
  return ip.kind() === 'ipv4' || ip.match(GLOBAL_UNICAST_V6)
}

class CimdError extends Error {}

/** A dns.lookup that refuses private addresses; net.connect calls it for every connection. */
function guardedLookup(allowPrivate: boolean) {
  return (
    hostname: string,
    options: { all?: boolean },
    callback: (err: Error | null, address?: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err)
      if (!allowPrivate && !addresses.every((a) => isPublicAddress(a.address))) {
        return callback(new CimdError(`${hostname} resolves to an address that is not public unicast`))
      }
      if (options.all) return callback(null, addresses)
      return callback(null, addresses[0]!.address, addresses[0]!.family)
    })
  }
}

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

function cacheSeconds(header: string | string[] | undefined): number {
  const value = String(header ?? '')
  if (/\bno-store\b|\bno-cache\b/i.test(value)) return MIN_CACHE_SECONDS
  const maxAge = /\bmax-age=(\d+)/i.exec(value)
  const seconds = maxAge ? Number(maxAge[1]) : DEFAULT_CACHE_SECONDS
  return Math.min(MAX_CACHE_SECONDS, Math.max(MIN_CACHE_SECONDS, seconds))
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
      // Omitted: the default grants (README, "Refresh tokens").
      ...(grantTypes.length ? { grant_types: grantTypes } : {}),
      response_types: ['code'],
    },
  }
}

export type MetadataDocuments = { resolve(clientId: string): Promise<Client> }

export function metadataDocuments(app: FastifyInstance): MetadataDocuments {
  const { cimdAllowPrivate, cimdTimeoutMs } = app.config
  const agent = new Agent({
    connect: { lookup: guardedLookup(cimdAllowPrivate) as never, timeout: cimdTimeoutMs },
    headersTimeout: cimdTimeoutMs,
    bodyTimeout: cimdTimeoutMs,
  })
  const cache = new Map<string, { client: Client; until: number }>()
  app.addHook('onClose', async () => agent.close())

  /** Throws away an unread body; its stream errors are expected and must not escape. */
  function discard(body: Dispatcher.ResponseData['body']): void {
    body.on('error', () => undefined)
    body.destroy()
  }

  /** Maps a failure while fetching or reading to the reason shown on the refusal page. */
  function refusal(err: unknown): CimdError {
    if (err instanceof CimdError) return err
    const cause = (err as { cause?: unknown }).cause
    if (cause instanceof CimdError) return cause
    const name = (err as Error).name
    const code = (err as { code?: string }).code ?? ''
    if (name === 'TimeoutError' || name === 'AbortError' || /Timeout|ABORTED/.test(code))
      return new CimdError(`it did not answer within ${cimdTimeoutMs} ms`)
    return new CimdError(`it could not be fetched (${code || name})`)
  }

  async function readBody(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of body) {
      size += (chunk as Buffer).length
      if (size > MAX_BYTES) {
        discard(body)
        throw new CimdError('it is larger than 5 KB')
      }
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks)
  }

  async function fetchDocument(url: string): Promise<{ doc: unknown; seconds: number }> {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
    if (!cimdAllowPrivate && isIP(host) && !isPublicAddress(host))
      throw new CimdError('its address is not a public unicast address')
    // One deadline for the whole exchange, body included: a body that trickles in under
    // the idle time-out is still cut off.
    const signal = AbortSignal.timeout(cimdTimeoutMs)
    let res: Dispatcher.ResponseData
    try {
      res = await request(url, { dispatcher: agent, headers: { accept: 'application/json' }, signal })
    } catch (err) {
      throw refusal(err)
    }
    try {
      if (res.statusCode >= 300 && res.statusCode < 400)
        throw new CimdError('it answered with a redirect, and redirects are not followed')
      if (res.statusCode !== 200) throw new CimdError(`it answered HTTP ${res.statusCode}`)
      if (Number(res.headers['content-length']) > MAX_BYTES) throw new CimdError('it is larger than 5 KB')
      const raw = await readBody(res.body)
      try {
        return { doc: JSON.parse(raw.toString('utf8')), seconds: cacheSeconds(res.headers['cache-control']) }
      } catch {
        throw new CimdError('it is not valid JSON')
      }
    } catch (err) {
      discard(res.body)
      throw refusal(err)
    }
  }

  return {
    async resolve(url) {
      const now = app.now()
      const cached = cache.get(url)
      if (cached && cached.until > now) return cached.client
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
        if (cache.size > 10_000) cache.clear()
        cache.set(url, { client, until: now + seconds })
        return client
      } catch (err) {
        if (!(err instanceof CimdError)) throw err
        throw new PageError(
          400,
          'Invalid application',
          `The application's client metadata document at ${url} was refused: ${err.message}.`,
        )
      }
    },
  }
}
