// Where the tools and the upstream come from: KEYGATE_OPENAPI (file or URL) and
// KEYGATE_UPSTREAM, or by default the built-in demo API served by this same process.
import type { FastifyInstance } from 'fastify'
import { DEMO_OPENAPI } from '../demo/openapi.js'
import { readDocument, type ToolDef, toolsFromOpenApi } from './openapi.js'

export type Catalog = {
  tools(): Promise<ToolDef[]>
  /** Base URL the tool paths are appended to. */
  upstreamBase(): string
}

function localBase(app: FastifyInstance): string {
  const address = app.server.address()
  if (!address || typeof address === 'string') return `${app.config.issuer}/api/v1`
  const host =
    address.family === 'IPv6'
      ? address.address === '::'
        ? '[::1]'
        : `[${address.address}]`
      : address.address === '0.0.0.0'
        ? '127.0.0.1'
        : address.address
  // Under an issuer path the demo API is served under it too (src/shared/issuer-path.ts).
  return `http://${host}:${address.port}${app.config.issuerPath}/api/v1`
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The tools and where they are called: /mcp serves them, /readyz checks they load. */
    catalog: Catalog
  }
}

export function catalog(app: FastifyInstance): Catalog {
  const { openapi, upstream } = app.config
  const source = openapi ?? (upstream ? `${upstream}/openapi.json` : undefined)
  let loaded: Promise<ToolDef[]> | undefined
  let local: string | undefined
  return {
    tools() {
      // A remote document that fails to load is tried again on the next request.
      loaded ??= (source ? readDocument(source) : Promise.resolve(DEMO_OPENAPI as unknown as Record<string, unknown>))
        .then(toolsFromOpenApi)
        .catch((err) => {
          loaded = undefined
          throw err
        })
      return loaded
    },
    // The local address is known once the server listens (and kept); until then the issuer stands in.
    upstreamBase() {
      if (upstream) return upstream
      if (local) return local
      const base = localBase(app)
      if (app.server.listening) local = base
      return base
    },
  }
}
