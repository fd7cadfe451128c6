// /healthz: the process is up. /readyz: the database answers (load balancers route on it).
import type { FastifyInstance } from 'fastify'

const API = { config: { kind: 'api' as const } }

export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', API, async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }))
  app.get('/readyz', API, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    try {
      if (await app.store.ping()) return { status: 'ready' }
    } catch (err) {
      req.log.warn({ err }, 'readiness check: the database did not answer')
    }
    return reply.code(503).send({ status: 'unavailable', error: 'the database did not answer' })
  })
}
