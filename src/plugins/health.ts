// /healthz: the process is up. /readyz: keygate can serve: the database answers and the
// upstream's tools load (load balancers route on it); when not, the reason is in the body.
import type { FastifyInstance } from 'fastify'

const API = { config: { kind: 'api' as const } }

export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', API, async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }))
  app.get('/readyz', API, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    const unavailable = (error: string) => reply.code(503).send({ status: 'unavailable', error })
    try {
      if (!(await app.store.ping())) return unavailable('the database did not answer')
    } catch (err) {
      req.log.warn({ err }, 'readiness check: the database did not answer')
      return unavailable('the database did not answer')
    }
    try {
      const tools = await app.catalog.tools()
      return { status: 'ready', tools: tools.length }
    } catch (err) {
      req.log.warn({ err }, "readiness check: the upstream's tools could not be loaded")
      // The body is public: the reason's kind, not the document's address or contents.
      const code =
        (err as { code?: unknown; cause?: { code?: unknown } }).code ??
        (err as Error & { cause?: { code?: unknown } }).cause?.code
      const kind = typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? ` (${code})` : ''
      return unavailable(`the upstream's tools could not be loaded${kind}; the log has the details`)
    }
  })
}
