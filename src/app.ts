// buildApp(config) registers every plugin and route group, in order. The server entry
// (server.ts) adds the logger, timeouts, graceful close and listen; tests build the same app.
import { randomUUID } from 'node:crypto'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import formbody from '@fastify/formbody'
import helmet from '@fastify/helmet'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Config } from './config.js'
import demoApi from './demo/api.js'
import { OAuthError, PageError } from './errors.js'
import { logSerializers, REDACT_PATHS } from './log.js'
import mcpRoutes from './mcp/route.js'
import authorizeRoutes from './oauth/authorize.js'
import introspectRoutes from './oauth/introspect.js'
import metadataRoutes from './oauth/metadata.js'
import { loadPreregisteredClients } from './oauth/preregistered.js'
import registerRoutes from './oauth/register.js'
import revokeRoutes from './oauth/revoke.js'
import tokenRoutes from './oauth/token.js'
import { scheduleCleanup } from './plugins/cleanup.js'
import context, { type Clock } from './plugins/context.js'
import healthRoutes from './plugins/health.js'
import metrics from './plugins/metrics.js'
import { registerRateLimit } from './plugins/rate-limit.js'
import { createStore } from './store/index.js'
import type { Store } from './store/types.js'
import { currentUser } from './web/current-user.js'
import dashboardRoutes from './web/dashboard.js'
import loginRoutes from './web/login.js'
import pages, { renderPage } from './web/pages.js'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

function requestId(config: Config, header: string | string[] | undefined): string {
  if (config.trustProxy && typeof header === 'string' && REQUEST_ID.test(header)) return header
  return randomUUID()
}

export type AppOptions = {
  /** A store to use instead of opening config.dbPath (the caller closes it). */
  store?: Store
  /** Milliseconds since the epoch; tests pass a controlled clock. */
  clock?: Clock
  /** Pino options, or false for no logs (tests). */
  logger?: boolean | Record<string, unknown>
}

async function sendError(
  app: FastifyInstance,
  err: FastifyError | OAuthError | PageError,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  if (err instanceof PageError) {
    reply.code(err.status)
    return renderPage(
      app,
      req,
      reply,
      'error',
      { title: err.title, message: err.message },
      await currentUser(app, req).catch(() => null),
    )
  }
  if (err instanceof OAuthError && err.status < 500) {
    return reply.code(err.status).headers(err.headers).header('cache-control', 'no-store').send(err.toJSON())
  }
  const status = err instanceof OAuthError ? err.status : err.statusCode && err.statusCode >= 400 ? err.statusCode : 500
  if (status >= 500) {
    req.log.error({ err }, 'request failed')
    // A 5xx never shows its message.
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      .send({ error: 'server_error', error_description: 'internal server error' })
  }
  const description = status === 413 ? 'request body is too large' : err.message
  if (typeof reply.view === 'function') {
    reply.code(status)
    return renderPage(app, req, reply, 'error', { title: 'Bad request', message: description })
  }
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .send({ error: 'invalid_request', error_description: description })
}

function helmetOptions(config: Config) {
  const https = config.issuer.startsWith('https:')
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        scriptSrc: ["'self'"],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        // No form-action: the consent form's redirect goes to the client's redirect_uri,
        // and Chromium applies form-action to redirects after a form submission.
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    frameguard: { action: 'deny' as const },
    strictTransportSecurity: https,
    crossOriginResourcePolicy: { policy: 'cross-origin' as const },
  }
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger:
      options.logger === undefined || options.logger === false
        ? false
        : {
            level: config.logLevel,
            redact: { paths: REDACT_PATHS, censor: '[redacted]' },
            serializers: logSerializers,
            ...(options.logger === true ? {} : options.logger),
          },
    trustProxy: config.trustProxy,
    bodyLimit: 256 * 1024,
    // "__proto__" and "constructor.prototype" keys in a JSON body are dropped, like any other
    // unknown field, rather than failing the request as "not valid JSON".
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    // Slow clients are cut off (README, "Security"): the whole request within
    // requestTimeout, its headers within headersTimeout (Node answers 408 and closes), idle
    // keep-alive connections after keepAliveTimeout. Node checks every second.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: { headersTimeout: config.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    // A request id from the client is trusted only from a trusted proxy, and only when it is
    // short and plain; otherwise a fresh one, unique across instances.
    requestIdHeader: false,
    genReqId: (req) => requestId(config, req.headers['x-request-id']),
    return503OnClosing: true,
  })
  const store = options.store ?? (await createStore(config))
  await app.register(context, { config, store, clock: options.clock ?? Date.now, closeStore: !options.store })
  await app.register(formbody, { bodyLimit: 64 * 1024 })
  await app.register(metrics)
  await app.register(healthRoutes)
  await registerRateLimit(app)
  if (config.clientsFile) await loadPreregisteredClients(store, config.clientsFile, app.now())
  scheduleCleanup(app)
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id)
  })
  app.setErrorHandler((err: FastifyError, req, reply) => sendError(app, err, req, reply))
  app.setNotFoundHandler(async (req, reply) =>
    reply
      .code(404)
      .header('cache-control', 'no-store')
      .send({ error: 'not_found', error_description: `no route for ${req.method} ${req.url.split('?')[0]}` }),
  )

  // The JSON side: discovery, registration, token and /mcp. CORS for browser-based MCP
  // clients; no cookies. (@fastify/cors answers preflights for every path; only routes
  // in this context send CORS headers on the actual response.)
  await app.register(async (api) => {
    await api.register(cors, {
      origin: '*',
      methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      allowedHeaders: [
        'Authorization',
        'Content-Type',
        'MCP-Protocol-Version',
        'Mcp-Session-Id',
        'Last-Event-ID',
        'Accept',
      ],
      exposedHeaders: ['WWW-Authenticate', 'Mcp-Session-Id'],
      maxAge: 600,
    })
    await api.register(metadataRoutes)
    await api.register(registerRoutes)
    await api.register(tokenRoutes)
    await api.register(revokeRoutes)
    await api.register(introspectRoutes)
    await api.register(mcpRoutes)
  })

  // The pages: sign-in, consent. Cookies, security headers and templates; no CORS.
  await app.register(async (web) => {
    await web.register(cookie)
    await web.register(helmet, helmetOptions(config))
    await web.register(pages)
    await web.register(loginRoutes)
    await web.register(authorizeRoutes)
    await web.register(dashboardRoutes)
  })

  if (!config.upstream) await app.register(demoApi)
  return app
}
