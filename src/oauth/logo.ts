// Client logos on the consent page, served from keygate's own origin (never hot-linked: the
// client learns nothing of who looks at its consent page, and the page's CSP stays
// img-src 'self'). The registered logo_uri is fetched under the same SSRF guard as metadata
// documents, 64 KB at most, and kept only when it is a PNG, JPEG, GIF or WebP image by its
// Content-Type and by its first bytes (no SVG: it can carry script). Kept per its
// Cache-Control between an hour and a day; a refusal is remembered for five minutes. Requests
// for a logo being fetched share that fetch; /logo is rate-limited as /authorize is.
import type { FastifyInstance } from 'fastify'
import { limit } from '../plugins/rate-limit.js'
import { PageError } from '../shared/errors.js'
import { fieldsOf } from '../shared/request-fields.js'
import type { Client } from '../store/types.js'
import { cacheSeconds, FetchRefused, guardedFetcher, singleFlight, userAgent } from './guarded-fetch.js'

export const MAX_LOGO_BYTES = 64 * 1024
const REFUSED_SECONDS = 300

const SIGNATURES: Array<{ type: string; matches: (b: Buffer) => boolean }> = [
  { type: 'image/png', matches: (b) => b.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10])) },
  { type: 'image/jpeg', matches: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { type: 'image/gif', matches: (b) => /^GIF8[79]a/.test(b.subarray(0, 6).toString('latin1')) },
  {
    type: 'image/webp',
    matches: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
]

type Cached = { image: Buffer; type: string; until: number } | { refused: string; until: number }

export type Logos = {
  /** The client's logo, fetched (or from the cache); why not, when there is none to show. */
  get(client: Client): Promise<{ image: Buffer; type: string } | { refused: string }>
}

/** The https logo_uri a client registered, if any. */
export function logoUri(client: Client, allowHttp: boolean): string | undefined {
  const uri = client.metadata.logo_uri
  if (typeof uri !== 'string' || uri.length > 2048) return undefined
  return uri.startsWith('https://') || (allowHttp && uri.startsWith('http://')) ? uri : undefined
}

export function logos(app: FastifyInstance): Logos {
  const { cimdAllowPrivate, cimdTimeoutMs } = app.config
  const fetcher = guardedFetcher({
    allowPrivate: cimdAllowPrivate,
    timeoutMs: cimdTimeoutMs,
    userAgent: userAgent(app.config.issuer),
  })
  app.addHook('onClose', async () => fetcher.close())
  const cache = new Map<string, Cached>()
  const once = singleFlight<Cached>()

  async function fetchLogo(uri: string): Promise<Cached> {
    const now = app.now()
    try {
      const { headers, body } = await fetcher.fetch(uri, {
        accept: 'image/png, image/jpeg, image/gif, image/webp',
        maxBytes: MAX_LOGO_BYTES,
        describeSize: '64 KB',
      })
      const declared = String(headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase()
      const signature = SIGNATURES.find((s) => s.matches(body))
      if (!signature) throw new FetchRefused('it is not a PNG, JPEG, GIF or WebP image')
      if (declared !== signature.type)
        throw new FetchRefused(`its Content-Type ${declared || '(none)'} is not its format`)
      return {
        image: body,
        type: signature.type,
        until: now + cacheSeconds(headers['cache-control'], 3600, 86400, 86400),
      }
    } catch (err) {
      if (!(err instanceof FetchRefused)) throw err
      return { refused: err.message, until: now + REFUSED_SECONDS }
    }
  }

  return {
    async get(client) {
      const uri = logoUri(client, cimdAllowPrivate)
      if (!uri) return { refused: 'no logo registered' }
      let entry = cache.get(uri)
      if (!entry || entry.until <= app.now()) {
        entry = await once(uri, async () => {
          const fetched = await fetchLogo(uri)
          if (cache.size > 1000) cache.clear()
          cache.set(uri, fetched)
          return fetched
        })
      }
      return 'image' in entry ? { image: entry.image, type: entry.type } : { refused: entry.refused }
    },
  }
}

/** GET /logo?client_id=…: the client's logo from keygate's origin, or 404. */
export default async function logoRoutes(app: FastifyInstance): Promise<void> {
  const store = app.logos
  // Limited as /authorize is (each consent page shows one logo): a logo not cached costs a fetch.
  app.get('/logo', { config: { kind: 'page', ...limit(app, 'authorize') } }, async (req, reply) => {
    const clientId = fieldsOf(req.query)?.client_id
    const client =
      typeof clientId === 'string' && clientId.length <= 512 ? await app.store.clients.byId(clientId) : undefined
    const logo = client && client.disabledAt === null ? await store.get(client) : undefined
    if (!logo || !('image' in logo)) throw new PageError(404, 'No logo', 'This application has no logo to show.')
    return reply
      .type(logo.type)
      .header('cache-control', 'private, max-age=3600')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .send(logo.image)
  })
}

declare module 'fastify' {
  interface FastifyInstance {
    logos: Logos
  }
}
