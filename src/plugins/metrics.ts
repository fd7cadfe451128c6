// Prometheus metrics (prom-client), one registry per app. Counted always (cheap); exposed at
// /metrics only when KEYGATE_METRICS=true. Put /metrics behind your network's access rules:
// it tells request volumes, not secrets.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'

export type Metrics = {
  registry: Registry
  requests: Counter<'route' | 'method' | 'status'>
  tokenExchanges: Counter<'grant_type' | 'outcome'>
  replays: Counter<'kind'>
  bearerChecks: Counter<'outcome'>
  upstreamLatency: Histogram<'outcome'>
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

function createMetrics(): Metrics {
  const registry = new Registry()
  return {
    registry,
    requests: new Counter({
      name: 'keygate_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    tokenExchanges: new Counter({
      name: 'keygate_token_requests_total',
      help: 'Token endpoint requests by grant type and outcome (ok or the OAuth error)',
      labelNames: ['grant_type', 'outcome'],
      registers: [registry],
    }),
    replays: new Counter({
      name: 'keygate_replays_detected_total',
      help: 'Authorization code and refresh token replays detected',
      labelNames: ['kind'],
      registers: [registry],
    }),
    bearerChecks: new Counter({
      name: 'keygate_bearer_checks_total',
      help: 'Bearer checks on /mcp by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: 'keygate_upstream_request_duration_seconds',
      help: 'Upstream API requests made by tool calls',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const metrics = createMetrics()
    app.decorate('metrics', metrics)
    app.addHook('onResponse', (req, reply, done) => {
      metrics.requests.inc({
        route: req.routeOptions.url ?? 'unmatched',
        method: req.method,
        status: String(reply.statusCode),
      })
      done()
    })
    if (!app.config.metrics) return
    collectDefaultMetrics({ register: metrics.registry, prefix: 'keygate_' })
    app.get('/metrics', { config: { kind: 'api' } }, async (_req, reply) =>
      reply
        .type(metrics.registry.contentType)
        .header('cache-control', 'no-store')
        .send(await metrics.registry.metrics()),
    )
  },
  { name: 'keygate-metrics', dependencies: ['keygate-context'] },
)
