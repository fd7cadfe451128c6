// buildApp(config) registers every plugin and route group, in order. The server entry
// (server.ts) adds the logger, timeouts, graceful close and listen; tests build the same app.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import formbody from '@fastify/formbody'
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RouteOptions,
} from 'fastify'
import helmet from 'helmet'
import type { Config } from '../config/index.js'
import demoApi from '../demo/api.js'
import { catalog } from '../mcp/catalog.js'
import mcpRoutes from '../mcp/route.js'
import authorizeRoutes from '../oauth/authorize.js'
import deviceAuthorizationRoutes from '../oauth/device.js'
import { registerFirstPartyClients } from '../oauth/first-party.js'
import introspectRoutes from '../oauth/introspect.js'
import logoRoutes, { logos } from '../oauth/logo.js'
import metadataRoutes from '../oauth/metadata.js'
import oidcProviderRoutes from '../oauth/openid.js'
import { loadPreregisteredClients } from '../oauth/preregistered.js'
import registerRoutes from '../oauth/register.js'
import revokeRoutes from '../oauth/revoke.js'
import { signingKeys } from '../oauth/signing-keys.js'
import tokenRoutes from '../oauth/token.js'
import { currentUser } from '../pages/current-user.js'
import pages, { renderPage, staticRoutes } from '../pages/render.js'
import { scheduleCleanup } from '../plugins/cleanup.js'
import context, { type Clock, clockFor } from '../plugins/context.js'
import healthRoutes from '../plugins/health.js'
import metrics from '../plugins/metrics.js'
import { registerRateLimit } from '../plugins/rate-limit.js'
import handoffRoutes from '../product/handoff.js'
import oidcRoutes from '../product/oidc.js'
import provisioningRoutes from '../product/provisioning.js'
import { ApiError, JsonRpcError, KeygateError, OAuthError, PageError, type RouteKind } from '../shared/errors.js'
import { issuerPathHooks, routeOf } from '../shared/issuer-path.js'
import { createStore } from '../store/index.js'
import type { Store } from '../store/types.js'
import dashboardRoutes from '../web/dashboard.js'
import deviceRoutes from '../web/device.js'
import loginRoutes from '../web/login.js'
import memberRoutes from '../web/members.js'
import { censor, logSerializers, REDACT_PATHS } from './log.js'

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
  /** /mcp's dispatch of tools/call; 'sdk' only as the direct path's reference in tests (src/mcp/direct.ts). */
  mcpDispatch?: 'direct' | 'sdk'
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the route answers, errors included (errors.ts). Every route of keygate declares it. */
    kind?: RouteKind
  }
}

/**
 * Throws for a route that declares no kind. The preflight and HEAD routes that plugins and
 * Fastify add are exempt: they answer no errors of their own.
 */
export function checkRouteKind(route: Pick<RouteOptions, 'method' | 'url' | 'config'>): void {
  const methods = [route.method].flat()
  if (route.config?.kind || methods.every((m) => m === 'OPTIONS' || m === 'HEAD')) return
  throw new Error(`route ${methods.join(',')} ${route.url} declares no kind (config.kind)`)
}

/** The route's declared kind; with no route (404) or none declared, what the client asked for. */
function kindOf(req: FastifyRequest): RouteKind {
  const declared = req.routeOptions.config?.kind
  if (declared) return declared
  return /\btext\/html\b/.test(req.headers.accept ?? '') ? 'page' : 'oauth'
}

/** An error that is not keygate's own (a Fastify 4xx, an unexpected failure), in the route's shape. */
function asKeygateError(err: FastifyError, req: FastifyRequest): KeygateError {
  const kind = kindOf(req)
  const code = err.statusCode
  const status = code !== undefined && code >= 400 && code < 600 ? code : 500
  const message = status >= 500 ? 'internal server error' : status === 413 ? 'request body is too large' : err.message
  if (kind === 'page') return new PageError(status, status >= 500 ? 'Something went wrong' : 'Bad request', message)
  if (kind === 'mcp') {
    // The SDK transport's words for the same refusal.
    const limit = req.routeOptions.bodyLimit
    if (status === 413)
      return new JsonRpcError(413, -32000, `Payload Too Large: Request body must not exceed ${limit} bytes`)
    // Fastify refuses a Content-Type it cannot parse before the route's own check runs.
    if (status === 415)
      return new JsonRpcError(415, -32000, 'Unsupported Media Type: Content-Type must be application/json')
    return new JsonRpcError(status, status >= 500 ? -32603 : -32600, message)
  }
  if (kind === 'api') return new ApiError(status, message)
  return new OAuthError(status >= 500 ? 'server_error' : 'invalid_request', message, status)
}

/** The one error renderer: logs every 5xx, never shows its message, answers in the error's shape. */
async function sendError(
  app: FastifyInstance,
  raw: FastifyError | KeygateError,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  const err = raw instanceof KeygateError ? raw : asKeygateError(raw, req)
  if (err.status >= 500) req.log.error({ err: raw }, 'request failed')
  reply.code(err.status).headers(err.headers).header('cache-control', 'no-store')
  if (err instanceof PageError) {
    const message = err.expose ? err.message : 'The server could not complete this request. Try again in a moment.'
    const title = err.expose ? err.title : 'Something went wrong'
    return renderPage(app, req, reply, 'error', { title, message }, await currentUser(app, req).catch(() => null))
  }
  if (err instanceof ApiError) return reply.type('application/problem+json').send(JSON.stringify(err.toJSON()))
  if (err instanceof JsonRpcError) {
    return reply.send(
      err.expose ? err.toJSON() : new JsonRpcError(err.status, -32603, 'Internal error', err.id).toJSON(),
    )
  }
  if (err instanceof OAuthError && err.expose) return reply.send(err.toJSON())
  // Any other 5xx, whatever its class: RFC 6749's server_error, nothing internal.
  return reply.send({ error: 'server_error', error_description: 'internal server error' })
}

/**
 * The headers a helmet middleware sets, read once by running it against a response that
 * only records them (its options are static: no directive depends on the request).
 */
export function headersOf(middleware: ReturnType<typeof helmet>): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader: (name: string, value: string | number) => {
      headers[name.toLowerCase()] = String(value)
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()]
    },
  }
  let ran = false
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err
    ran = true
  })
  if (!ran) throw new Error('helmet did not finish synchronously')
  return headers
}

export function helmetOptions(config: Config) {
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
            redact: { paths: REDACT_PATHS, censor },
            serializers: logSerializers,
            ...(options.logger === true ? {} : options.logger),
          },
    trustProxy: config.trustProxy,
    bodyLimit: 256 * 1024,
    // "__proto__" and "constructor.prototype" keys in a JSON body are dropped, like any other
    // unknown field, rather than failing the request as "not valid JSON".
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    // Slow clients are cut off (docs/security.md): the whole request within
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
    // Path parameters as long as the ids they carry: a client id (a URL, up to 512
    // characters, percent-encoded) or a product's user id (up to 255).
    routerOptions: { maxParamLength: 2048 },
    // An issuer with a path: routes are matched with the path taken off (src/issuer-path.ts).
    rewriteUrl: (req) => routeOf(config.issuerPath, req.url ?? '/'),
  })
  issuerPathHooks(app, config.issuerPath)
  // Every route keygate registers declares its kind (the error handler renders by it).
  let building = true
  app.addHook('onRoute', (route) => {
    if (building) checkRouteKind(route)
  })
  const store = options.store ?? (await createStore(config))
  try {
    await assemble(app, config, store, options)
  } catch (err) {
    // Nothing will close the app: its own store (a pool, on a database server) closes here.
    if (!options.store) await store.close().catch(() => undefined)
    throw err
  }
  building = false
  return app
}

async function assemble(app: FastifyInstance, config: Config, store: Store, options: AppOptions): Promise<void> {
  await app.register(context, {
    config,
    store,
    clock: options.clock ?? clockFor(config.testClockFile),
    closeStore: !options.store,
  })
  app.decorate('logos', logos(app))
  app.decorate('catalog', catalog(app))
  app.decorate('signingKeys', signingKeys(store.signingKeys, app.keyrings.keyEncryption, app.now, config.idTokenTtl))
  // The ES256 key exists from the first start: /jwks is never empty.
  app.addHook('onReady', async () => {
    await app.signingKeys.signer('ES256')
  })
  await app.register(formbody, { bodyLimit: 64 * 1024 })
  await app.register(metrics)
  await app.register(healthRoutes)
  await registerRateLimit(app)
  if (config.clientsFile) await loadPreregisteredClients(store, config.clientsFile, app.now())
  await registerFirstPartyClients(store, app.now())
  scheduleCleanup(app)
  app.setErrorHandler((err: FastifyError, req, reply) => sendError(app, err, req, reply))
  app.setNotFoundHandler(async (req) => {
    // As the client sent it (under an issuer path, req.url is the route keygate looked for).
    const path = (req.originalUrl ?? req.url).split('?')[0]!.slice(0, 200)
    if (kindOf(req) === 'page') throw new PageError(404, 'Not found', 'There is no page at this address.')
    throw new OAuthError('not_found', `no route for ${req.method} ${path}`, 404)
  })

  // Security headers on every answer: pages (a page can be rendered anywhere, a 404 for a
  // browser included) and the JSON APIs alike (OWASP's REST headers: nosniff, no framing).
  // helmet's headers depend on its options only: they are computed once and set, with the
  // request id, by one hook (the middleware's dozen steps per request cost more).
  const securityHeaders = headersOf(helmet(helmetOptions(config)))
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(securityHeaders).header('x-request-id', req.id)
    done()
  })
  // Templates and cookies for every route: the error handler renders a page wherever a page
  // is what the request gets (a page route, or a browser at an unknown address).
  await app.register(cookie)
  await app.register(pages)

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
    await api.register(deviceAuthorizationRoutes)
    await api.register(oidcProviderRoutes)
    await api.register(revokeRoutes)
    await api.register(introspectRoutes)
    await api.register(mcpRoutes, options.mcpDispatch ? { dispatch: options.mcpDispatch } : {})
  })

  // The pages: sign-in, consent. No CORS.
  await app.register(async (web) => {
    await web.register(staticRoutes)
    await web.register(loginRoutes)
    if (config.login.mode === 'handoff') await web.register(handoffRoutes)
    if (config.login.mode === 'oidc') await web.register(oidcRoutes)
    if (config.provisioningTokenHash) await web.register(provisioningRoutes)
    await web.register(authorizeRoutes)
    await web.register(deviceRoutes)
    await web.register(logoRoutes)
    await web.register(dashboardRoutes)
    await web.register(memberRoutes)
  })

  if (!config.upstream) await app.register(demoApi)
}
