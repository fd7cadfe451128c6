// An issuer with a path (KEYGATE_ISSUER=https://example.com/oauth/2.1): keygate is served
// under that path, so it can live beside a product on the product's origin. Requests are
// routed with the path taken off (everything else on the origin is not keygate's: 404), the
// metadata documents are also found where RFC 8414 §3.1 and RFC 9728 §3.1 put them (the
// well-known name inserted before the path), and what keygate sends back that names one of
// its own paths (a redirect's Location, a page's links and forms) gets the path put back.
import type { FastifyInstance } from 'fastify'

const DOCUMENTS = ['oauth-authorization-server', 'oauth-protected-resource', 'openid-configuration']
/** No route has this path: a request outside the issuer's path answers 404. */
const OUTSIDE = '/.outside-keygate'

const under = (url: string, prefix: string) =>
  url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`)

/** The route path of a request URL (path and query) under the issuer path `base`. */
export function routeOf(base: string, url: string): string {
  if (base === '') return url
  if (under(url, base)) return url.slice(base.length) || '/'
  for (const doc of DOCUMENTS) {
    const inserted = `/.well-known/${doc}${base}`
    if (under(url, inserted)) return `/.well-known/${doc}${url.slice(inserted.length)}`
  }
  return OUTSIDE
}

/** Puts the issuer path back on the paths keygate sends: Location headers and its pages' links. */
export function issuerPathHooks(app: FastifyInstance, base: string): void {
  if (base === '') return
  app.addHook('onSend', async (_req, reply, payload) => {
    const location = reply.getHeader('location')
    if (typeof location === 'string' && location.startsWith('/') && !location.startsWith('//'))
      reply.header('location', base + location)
    const type = String(reply.getHeader('content-type') ?? '')
    if (typeof payload === 'string' && type.startsWith('text/html'))
      // keygate's own templates: attribute values a person typed are escaped and cannot match.
      return payload.replace(/\b(href|action|src)="\/(?!\/)/g, `$1="${base}/`)
    return payload
  })
}

/** Where a document about `url` (an issuer or a resource) is, per RFC 8414 §3.1 / RFC 9728 §3.1. */
export function wellKnownFor(url: string, name: string): string {
  const u = new URL(url)
  return `${u.origin}/.well-known/${name}${u.pathname === '/' ? '' : u.pathname}`
}
