// Fetching what a client names (its metadata document, its logo) without letting it reach
// inside the network: undici under an SSRF guard that admits only public unicast addresses
// after DNS resolution (checked at connect time, so DNS rebinding cannot slip past), one
// deadline for the whole exchange (a body that trickles in is cut off), a size cap, and no
// redirects followed.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import { Agent, type Dispatcher, request } from 'undici'
import { VERSION } from '../shared/version.js'

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

/** Why a fetch was refused, in words for the page that says so. */
export class FetchRefused extends Error {}

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
        return callback(new FetchRefused(`${hostname} resolves to an address that is not public unicast`))
      }
      if (options.all) return callback(null, addresses)
      return callback(null, addresses[0]!.address, addresses[0]!.family)
    })
  }
}

export type GuardedFetcher = {
  fetch(
    url: string,
    options: { accept: string; maxBytes: number; describeSize: string },
  ): Promise<{ headers: Dispatcher.ResponseData['headers']; body: Buffer }>
  close(): Promise<void>
}

/** What keygate calls itself when it fetches: its version and where it answers. */
export const userAgent = (issuer: string) => `keygate/${VERSION} (+${issuer})`

export function guardedFetcher(options: {
  allowPrivate: boolean
  timeoutMs: number
  userAgent: string
}): GuardedFetcher {
  const { allowPrivate, timeoutMs } = options
  const agent = new Agent({
    connect: { lookup: guardedLookup(allowPrivate) as never, timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  })

  /** Throws away an unread body; its stream errors are expected and must not escape. */
  function discard(body: Dispatcher.ResponseData['body']): void {
    body.on('error', () => undefined)
    body.destroy()
  }

  /** Maps a failure while fetching or reading to the reason shown. */
  function refusal(err: unknown): FetchRefused {
    if (err instanceof FetchRefused) return err
    const cause = (err as { cause?: unknown }).cause
    if (cause instanceof FetchRefused) return cause
    const name = (err as Error).name
    const code = (err as { code?: string }).code ?? ''
    if (name === 'TimeoutError' || name === 'AbortError' || /Timeout|ABORTED/.test(code))
      return new FetchRefused(`it did not answer within ${timeoutMs} ms`)
    return new FetchRefused(`it could not be fetched (${code || name})`)
  }

  async function readBody(body: Dispatcher.ResponseData['body'], maxBytes: number, describeSize: string) {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of body) {
      size += (chunk as Buffer).length
      if (size > maxBytes) {
        discard(body)
        throw new FetchRefused(`it is larger than ${describeSize}`)
      }
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks)
  }

  return {
    async fetch(url, { accept, maxBytes, describeSize }) {
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
      if (!allowPrivate && isIP(host) && !isPublicAddress(host))
        throw new FetchRefused('its address is not a public unicast address')
      const signal = AbortSignal.timeout(timeoutMs)
      let res: Dispatcher.ResponseData
      try {
        res = await request(url, { dispatcher: agent, headers: { accept, 'user-agent': options.userAgent }, signal })
      } catch (err) {
        throw refusal(err)
      }
      try {
        if (res.statusCode >= 300 && res.statusCode < 400)
          throw new FetchRefused('it answered with a redirect, and redirects are not followed')
        if (res.statusCode !== 200) throw new FetchRefused(`it answered HTTP ${res.statusCode}`)
        if (Number(res.headers['content-length']) > maxBytes)
          throw new FetchRefused(`it is larger than ${describeSize}`)
        return { headers: res.headers, body: await readBody(res.body, maxBytes, describeSize) }
      } catch (err) {
        discard(res.body)
        throw refusal(err)
      }
    },
    close: () => agent.close(),
  }
}

/** Seconds to keep what was fetched, from its Cache-Control, within [min, max]. */
export function cacheSeconds(
  header: string | string[] | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  const value = String(header ?? '')
  if (/\bno-store\b|\bno-cache\b/i.test(value)) return min
  const maxAge = /\bmax-age=(\d+)/i.exec(value)
  const seconds = maxAge ? Number(maxAge[1]) : fallback
  return Math.min(max, Math.max(min, seconds))
}

/**
 * One fetch per key at a time: callers that ask for a key while its fetch is under way share
 * that fetch's answer (20 consent pages opened at once for one logo make one fetch, not 20).
 */
export function singleFlight<T>(): (key: string, run: () => Promise<T>) => Promise<T> {
  const running = new Map<string, Promise<T>>()
  return (key, run) => {
    const known = running.get(key)
    if (known) return known
    const started = run().finally(() => running.delete(key))
    running.set(key, started)
    return started
  }
}
