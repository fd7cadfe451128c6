// Client ID metadata documents (MCP 2025-11-25 authorization; draft-ietf-oauth-client-id-
// metadata-document): a client_id that is an https URL with a path names a JSON document
// describing the client. keygate fetches it with undici under an SSRF guard — no private,
// loopback or link-local address after DNS resolution (checked at connect time, so DNS
// rebinding cannot slip past), 5 KB at most, a short time-out, no redirects — validates it,
// caches it per its Cache-Control within bounds, and keeps a row in oauth_clients so that
// consents and keys can reference it.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { BlockList, isIP } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { Agent, request } from 'undici'
import { PageError } from '../errors.js'
import type { Client } from '../store/types.js'
import { checkRedirectUriForRegistration } from './redirect-uri.js'

const MAX_BYTES = 5 * 1024
const MIN_CACHE_SECONDS = 60
const MAX_CACHE_SECONDS = 86400
const DEFAULT_CACHE_SECONDS = 300

const PRIVATE = new BlockList()
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) PRIVATE.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) PRIVATE.addSubnet(net, prefix, 'ipv6')

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4')
  return PRIVATE.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
}

class CimdError extends Error {}

/** A dns.lookup that refuses private addresses; net.connect calls it for every connection. */
function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean }, callback: (err: Error | null, address?: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err)
      if (!allowPrivate && addresses.some((a) => isPrivateAddress(a.address))) {
        return callback(new CimdError(`${hostname} resolves to a private, loopback or link-local address`))
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

function validate(url: string, doc: unknown): { name: string; redirectUris: string[]; metadata: Record<string, unknown> } {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CimdError('it is not a JSON object')
  const d = doc as Record<string, unknown>
  if (d.client_id !== url) throw new CimdError('its client_id does not equal its URL')
  if (typeof d.client_name !== 'string' || d.client_name.trim() === '' || d.client_name.length > 200) throw new CimdError('it has no client_name (1-200 characters)')
  const uris = d.redirect_uris
  if (!Array.isArray(uris) || uris.length === 0 || uris.length > 10 || uris.some((u) => typeof u !== 'string')) throw new CimdError('it has no redirect_uris (1-10 strings)')
  for (const uri of uris as string[]) {
    try {
      checkRedirectUriForRegistration(uri)
    } catch (err) {
      throw new CimdError((err as Error).message)
    }
  }
  const method = d.token_endpoint_auth_method ?? 'none'
  if (method !== 'none') throw new CimdError(`token_endpoint_auth_method ${String(method)} is not supported (only "none")`)
  return {
    name: d.client_name,
    redirectUris: uris as string[],
    metadata: { client_id: url, client_name: d.client_name, redirect_uris: uris, token_endpoint_auth_method: 'none', grant_types: Array.isArray(d.grant_types) ? d.grant_types : ['authorization_code'], response_types: ['code'] },
  }
}

export type MetadataDocuments = { resolve(clientId: string): Promise<Client> }

export function metadataDocuments(app: FastifyInstance): MetadataDocuments {
  const { cimdAllowPrivate, cimdTimeoutMs } = app.config
  const agent = new Agent({ connect: { lookup: guardedLookup(cimdAllowPrivate) as never, timeout: cimdTimeoutMs }, headersTimeout: cimdTimeoutMs, bodyTimeout: cimdTimeoutMs })
  const cache = new Map<string, { client: Client; until: number }>()
  app.addHook('onClose', async () => agent.close())

  async function fetchDocument(url: string): Promise<{ doc: unknown; seconds: number }> {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
    if (!cimdAllowPrivate && isIP(host) && isPrivateAddress(host)) throw new CimdError('its address is private, loopback or link-local')
    let res
    try {
      res = await request(url, { dispatcher: agent, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(cimdTimeoutMs) })
    } catch (err) {
      if (err instanceof CimdError) throw err
      const cause = (err as { cause?: unknown }).cause
      if (cause instanceof CimdError) throw cause
      const name = (err as Error).name
      if (name === 'TimeoutError' || name === 'AbortError' || /Timeout/.test((err as { code?: string }).code ?? '')) throw new CimdError(`it did not answer within ${cimdTimeoutMs} ms`)
      throw new CimdError(`it could not be fetched (${(err as { code?: string }).code ?? name})`)
    }
    if (res.statusCode >= 300 && res.statusCode < 400) {
      await res.body.dump()
      throw new CimdError('it answered with a redirect, and redirects are not followed')
    }
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw new CimdError(`it answered HTTP ${res.statusCode}`)
    }
    if (Number(res.headers['content-length']) > MAX_BYTES) {
      res.body.destroy()
      throw new CimdError('it is larger than 5 KB')
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length
      if (size > MAX_BYTES) {
        res.body.destroy()
        throw new CimdError('it is larger than 5 KB')
      }
      chunks.push(chunk as Buffer)
    }
    try {
      return { doc: JSON.parse(Buffer.concat(chunks).toString('utf8')), seconds: cacheSeconds(res.headers['cache-control']) }
    } catch {
      throw new CimdError('it is not valid JSON')
    }
  }

  return {
    async resolve(url) {
      const now = app.now()
      const cached = cache.get(url)
      if (cached && cached.until > now) return cached.client
      try {
        const { doc, seconds } = await fetchDocument(url)
        const valid = validate(url, doc)
        const client = await app.store.clients.upsert({
          clientId: url, clientName: valid.name, redirectUris: valid.redirectUris, tokenEndpointAuthMethod: 'none',
          clientSecretHash: null, metadata: valid.metadata, source: 'cimd',
        }, now)
        if (cache.size > 10_000) cache.clear()
        cache.set(url, { client, until: now + seconds })
        return client
      } catch (err) {
        if (!(err instanceof CimdError)) throw err
        throw new PageError(400, 'Invalid application', `The application's client metadata document at ${url} was refused: ${err.message}.`)
      }
    },
  }
}
