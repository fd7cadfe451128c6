// POST /mcp: stateless Streamable HTTP. Every request is a list of checks, in the order the
// SDK's own transport runs them (MCP transports, "Sending Messages to the Server"):
// checkHost, the Bearer key, checkAccept, checkContentType, parseMessages (with checkBatch),
// checkProtocolVersion, then checkToolScope for each tools/call; only then is it handed to
// the process's one official MCP SDK Server through ExchangeTransport. Each check throws a
// JsonRpcError that the error handler renders. GET and DELETE answer 405: there are no
// sessions and no server-initiated streams. test/mcp/transport-rules.test.ts runs the same
// bad requests through the SDK's transport and fails when its rules change.

import type { ServerResponse } from 'node:http'
import { JSONRPCMessageSchema } from '@modelcontextprotocol/core'
import {
  type AuthInfo,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { authenticate } from '../keys/bearer.js'
import { limit } from '../plugins/rate-limit.js'
import { JsonRpcError, type RequestId } from '../shared/errors.js'
import { ArgumentCheck } from './arguments.js'
import { answerDirect, directCall } from './direct.js'
import { Stop, Upstream } from './forward.js'
import { isJsonContentType } from './media-type.js'
import { modernEra } from './modern.js'
import type { ToolDef } from './openapi.js'
import { type OriginPolicy, originPolicy } from './origin.js'
import { checkToolScope } from './scope.js'
import { buildServer, invalidParams, serverInfo, toolCallHandler } from './server.js'
import { CLIENT_GONE, DEADLINE_PASSED, ExchangeTransport } from './transport.js'

/** At most this many messages in one batch (the SDK's transport allows as many). */
export const MAX_BATCH_SIZE = 100

/**
 * The id of a single JSON-RPC request in a body not yet checked, so that an error about the
 * request answers with it (JSON-RPC 2.0 §5: null only when the id cannot be known).
 */
function idOf(body: unknown): RequestId {
  if (typeof body !== 'string' || body.length === 0) return null
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null
    const id = (parsed as { id?: unknown }).id
    return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null
  } catch {
    return null
  }
}

/** DNS-rebinding protection: our Host, and an allowed Origin when one is sent. */
function checkHost(policy: OriginPolicy, req: FastifyRequest): void {
  const refused = policy.check(req)
  if (refused) throw new JsonRpcError(403, -32000, `Forbidden: ${refused}`, idOf(req.body))
}

/** The client must accept both JSON and an event stream, whichever the server answers with. */
function checkAccept(req: FastifyRequest): void {
  const accept = req.headers.accept ?? ''
  // A list of media ranges: a substring check is the rule, as in the SDK's transport.
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    const message = 'Not Acceptable: Client must accept both application/json and text/event-stream'
    throw new JsonRpcError(406, -32000, message, idOf(req.body))
  }
}

function checkContentType(req: FastifyRequest): void {
  if (!isJsonContentType(req.headers['content-type'])) {
    const message = 'Unsupported Media Type: Content-Type must be application/json'
    throw new JsonRpcError(415, -32000, message, idOf(req.body))
  }
}

/** One message or a batch of 1 to MAX_BATCH_SIZE (an empty batch is keygate's own refusal). */
function checkBatch(raw: unknown[]): void {
  if (raw.length > MAX_BATCH_SIZE)
    throw new JsonRpcError(400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`)
  if (raw.length === 0) throw new JsonRpcError(400, -32600, 'Invalid Request: an empty batch holds no message')
}

type Parsed = { batch: boolean; messages: JSONRPCMessage[]; requests: JSONRPCRequest[] }

/** The id an error about the whole body answers with: the request's, when it is the only one. */
const singleId = ({ batch, requests }: Parsed): RequestId => (!batch && requests.length === 1 ? requests[0]!.id : null)

/** The body as JSON-RPC messages, each checked by the SDK's JSON-RPC schema. */
function parseMessages(body: string): Parsed {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new JsonRpcError(400, -32700, 'Parse error: Invalid JSON')
  }
  const batch = Array.isArray(parsed)
  const raw: unknown[] = Array.isArray(parsed) ? parsed : [parsed]
  checkBatch(raw)
  const messages: JSONRPCMessage[] = []
  for (const m of raw) {
    const checked = JSONRPCMessageSchema.safeParse(m)
    if (!checked.success) throw new JsonRpcError(400, -32700, 'Parse error: Invalid JSON-RPC message')
    messages.push(checked.data)
  }
  // Each message passed the schema: a request has a method and an id.
  const requests = messages.filter((m): m is JSONRPCRequest => 'method' in m && 'id' in m)
  return { batch, messages, requests }
}

/** initialize comes alone; anything else names a supported protocol version, if any. */
function checkProtocolVersion(req: FastifyRequest, parsed: Parsed): void {
  const single = singleId(parsed)
  if (parsed.requests.some((m) => m.method === 'initialize')) {
    if (parsed.messages.length > 1)
      throw new JsonRpcError(400, -32600, 'Invalid Request: Only one initialization request is allowed', single)
    return
  }
  const version = req.headers['mcp-protocol-version']
  if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(String(version))) {
    const message = `Bad Request: Unsupported protocol version: ${String(version).slice(0, 40)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`
    throw new JsonRpcError(400, -32000, message, single)
  }
}

export type McpRouteOptions = {
  /**
   * 'sdk' hands every request to the SDK Server, the direct path's reference in
   * test/mcp/direct.test.ts; keygate itself always runs with the direct path.
   */
  dispatch?: 'direct' | 'sdk'
}

export default async function mcpRoutes(app: FastifyInstance, options: McpRouteOptions = {}): Promise<void> {
  const policy = originPolicy(app.config)
  const tools = app.catalog
  const upstream = new Upstream({
    timeoutMs: app.config.upstreamTimeoutMs,
    maxBytes: app.config.upstreamMaxBytes,
    observe: (seconds, outcome) => app.metrics.upstreamLatency.observe({ outcome }, seconds),
  })
  app.addHook('onClose', async () => upstream.close())

  // The body arrives as a string; the POST handler parses it and answers -32700, 415 and 406 itself.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: app.config.mcpMaxBodyBytes }, (_req, body, done) =>
    done(null, body),
  )

  const notAllowed = async (req: FastifyRequest) => {
    checkHost(policy, req)
    await authenticate(app, req)
    const message = 'Method not allowed: this server is stateless and opens no streams'
    throw new JsonRpcError(405, -32000, message, idOf(req.body), { headers: { allow: 'POST' } })
  }
  const routeConfig = { kind: 'mcp' as const, ...limit(app, 'mcp') }
  app.get('/mcp', { config: routeConfig }, notAllowed)
  app.delete('/mcp', { config: routeConfig }, notAllowed)

  const transport = new ExchangeTransport()
  const checks = new ArgumentCheck({
    uncompilable: (tool, err) =>
      app.log.warn(
        { tool, reason: err.message },
        "this tool's inputSchema cannot be compiled: only its required parameters are checked",
      ),
    warn: (tool, message) =>
      app.log.warn({ tool, reason: message }, "this tool's inputSchema was compiled with a warning"),
  })
  const onCall = toolCallHandler(
    () => tools.tools(),
    (tool, args, token, signal) => upstream.call(tools.upstreamBase(), tool, args, token, signal),
    checks,
  )
  const server = buildServer(() => tools.tools(), onCall, checks, serverInfo(app.config.brand))
  await server.connect(transport)
  app.addHook('onClose', async () => server.close())
  const sse = app.config.mcpResponse === 'sse'
  const direct = options.dispatch !== 'sdk'

  /**
   * Each request's answer, in order: tools/call requests the direct path can answer there,
   * the rest by the SDK Server. A client that goes away cancels its requests, and with them
   * the upstream calls; whatever runs past the deadline is cancelled and answered so.
   */
  async function dispatch(
    requests: JSONRPCRequest[],
    toolDefs: ToolDef[],
    authInfo: AuthInfo,
    raw: ServerResponse,
  ): Promise<JSONRPCMessage[]> {
    const known = (name: string) => toolDefs.some((t) => t.name === name)
    const refused = requests.map((r) => invalidParams(r, 'legacy'))
    const calls = requests.map((r, i) => (direct && !refused[i] ? directCall(r, known) : undefined))
    const rest = requests.filter((_, i) => !calls[i] && !refused[i])
    const exchange = rest.length > 0 ? transport.exchange(rest, { authInfo }, deadlineMs) : undefined
    const abort = rest.length < requests.length ? new Stop() : undefined
    const timer = abort && setTimeout(() => abort.abort(DEADLINE_PASSED), deadlineMs)
    const gone = () => {
      if (raw.writableEnded) return
      exchange?.cancel()
      abort?.abort(CLIENT_GONE)
    }
    raw.once('close', gone)
    try {
      const viaSdk = exchange ? await exchange.answers : []
      let next = 0
      return await Promise.all(
        requests.map((r, i) => {
          const call = calls[i]
          if (refused[i]) return refused[i]
          return call ? answerDirect(r.id, call, onCall, abort!, authInfo) : viaSdk[next++]!
        }),
      )
    } finally {
      clearTimeout(timer)
      raw.off('close', gone)
    }
  }
  // Every handler ends well within the upstream time-out; this only guards against one that does not.
  const deadlineMs = app.config.upstreamTimeoutMs + 5000

  // The 2026-07-28 era (modern.ts): the SDK's handler, after keygate's checks, and the plain
  // tools/call answered directly.
  const modern = modernEra(app, { tools: () => tools.tools(), onCall, checks, deadlineMs, sse, direct })

  // The body is text: the content-type parser above keeps it unparsed.
  app.post<{ Body: string }>(
    '/mcp',
    { bodyLimit: app.config.mcpMaxBodyBytes, config: routeConfig },
    async (req, reply) => {
      checkHost(policy, req)
      const { key, token } = await authenticate(app, req)
      const authInfo = { token, clientId: key.clientId ?? '', scopes: key.scopes }
      if (await modern.plainCall(req, reply, key, authInfo)) return reply
      const era = await modern.classify(req)
      if (era) return modern.answer(req, reply, key, authInfo, era.body)
      checkAccept(req)
      checkContentType(req)
      const parsed = parseMessages(req.body)
      checkProtocolVersion(req, parsed)
      const { messages, requests, batch } = parsed
      const notifications = messages.filter((m): m is JSONRPCNotification => 'method' in m && !('id' in m))
      if (requests.length === 0) {
        // Notifications (and stray responses) only: accepted, nothing to answer.
        transport.notify(notifications, { authInfo })
        return reply.code(202).send()
      }
      let toolDefs: ToolDef[]
      try {
        toolDefs = await tools.tools()
      } catch (err) {
        req.log.error({ err }, 'the OpenAPI document could not be loaded')
        const message = "The upstream API's OpenAPI document could not be loaded; try again later."
        // Not an internal detail: the client should know to retry.
        throw new JsonRpcError(503, -32603, message, singleId(parsed), {
          expose: true,
        })
      }
      checkToolScope(app, key, requests, toolDefs, 'legacy')
      if (notifications.length > 0) transport.notify(notifications, { authInfo })
      const answers = await dispatch(requests, toolDefs, authInfo, reply.raw)
      if (sse) {
        reply.code(200).header('content-type', 'text/event-stream').header('cache-control', 'no-cache, no-transform')
        return reply.send(answers.map((a) => `event: message\ndata: ${JSON.stringify(a)}\n\n`).join(''))
      }
      reply.code(200).header('content-type', 'application/json').header('cache-control', 'no-store')
      return reply.send(JSON.stringify(batch ? answers : answers[0]))
    },
  )
}
