// POST /mcp: stateless Streamable HTTP. Every request is a list of checks, in the order the
// SDK's own transport runs them (MCP transports, "Sending Messages to the Server"):
// checkHost, the Bearer key, checkAccept, checkContentType, parseMessages (with checkBatch),
// checkProtocolVersion, then checkToolScope for each tools/call; only then is it handed to
// the process's one official MCP SDK Server through ExchangeTransport. Each check throws a
// JsonRpcError that the error handler renders. GET and DELETE answer 405: there are no
// sessions and no server-initiated streams. test/mcp/transport-rules.test.ts runs the same
// bad requests through the SDK's transport and fails when its rules change.

import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import {
  CallToolRequestSchema,
  InitializeRequestSchema,
  JSONRPCMessageSchema,
  ListToolsRequestSchema,
  PingRequestSchema,
} from '@modelcontextprotocol/core'
import {
  type AuthInfo,
  type CallToolResult,
  createMcpHandler,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  SUPPORTED_PROTOCOL_VERSIONS,
  type Tool,
} from '@modelcontextprotocol/server'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { JsonRpcError, OAuthError, type RequestId } from '../errors.js'
import { limit } from '../plugins/rate-limit.js'
import type { ApiKey } from '../store/types.js'
import { VERSION } from '../version.js'
import { ArgumentCheck } from './arguments.js'
import { authenticate, challenge } from './bearer.js'
import { catalog } from './catalog.js'
import { answerDirect, directCall, type ToolCallHandler } from './direct.js'
import { type Cancellation, Stop, Upstream } from './forward.js'
import { isJsonContentType } from './media-type.js'
import { isModern, MODERN_VERSION, modernAnswer, modernToolCall, webRequest } from './modern.js'
import type { ToolDef } from './openapi.js'
import { type OriginPolicy, originPolicy } from './origin.js'
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

/** A tool the scopes allow: one of its scope sets is held whole. */
const callable = (tool: ToolDef, scopes: string[]) => tool.scopeSets.some((set) => set.every((s) => scopes.includes(s)))

/** The scopes a tools/call needs that the key lacks, or null when it may proceed. */
function missingScopes(tool: ToolDef | undefined, key: ApiKey): string[] | null {
  if (!tool || callable(tool, key.scopes)) return null
  return tool.scopeSets[0]!
}

/**
 * The 403 step-up challenge. Its scope: in the 2026-07-28 era what the call needs, as RFC 6750
 * §3.1 says (SEP-2350: the client keeps what it was granted and adds the challenge's); in the
 * 2025 era what the call needs together with what the key holds, as the 2025-11-25
 * specification recommends, so that a client that asks for exactly the challenge's scopes
 * keeps the others.
 */
function insufficientScope(app: FastifyInstance, key: ApiKey, needed: string[], era: Era): OAuthError {
  const all = app.config.scopes.filter((s) => (era === 'legacy' && key.scopes.includes(s)) || needed.includes(s))
  for (const s of needed) if (!all.includes(s)) all.push(s)
  const description = `this tool needs the ${needed.join(' ')} scope`
  return new OAuthError('insufficient_scope', description, 403, {
    'www-authenticate': challenge(app, { error: 'insufficient_scope', description, scope: all }),
  })
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

/** The protocol's two eras: 2025 (initialize first) and 2026-07-28 (the _meta envelope). */
type Era = 'legacy' | 'modern'

/** The requests keygate's server answers, by the SDK's own schemas for them. */
const REQUEST_SCHEMAS: Record<string, typeof PingRequestSchema | typeof CallToolRequestSchema> = {
  initialize: InitializeRequestSchema as never,
  ping: PingRequestSchema,
  'tools/list': ListToolsRequestSchema as never,
  'tools/call': CallToolRequestSchema,
}

/**
 * The answer to a request whose params its method's schema refuses: -32602 naming the first
 * field that is wrong, in one line (the SDK answers some of these -32603, or with the whole
 * schema error as its message). Undefined when the params fit, or the method is not one of
 * keygate's (the SDK answers -32601).
 */
export function invalidParams(request: JSONRPCRequest, era: Era): JSONRPCMessage | undefined {
  // initialize and ping are not methods of the 2026-07-28 era: the SDK answers them 404 -32601.
  if (era === 'modern' && !request.method.startsWith('tools/')) return undefined
  const schema = REQUEST_SCHEMAS[request.method]
  if (!schema) return undefined
  const parsed = schema.safeParse(request)
  if (parsed.success) return undefined
  const issue = parsed.error.issues[0]!
  const field = issue.path.map(String).join('.') || 'params'
  return {
    jsonrpc: '2.0',
    id: request.id,
    error: {
      code: ProtocolErrorCode.InvalidParams,
      message: `Invalid params: ${field}: ${issue.message}`.slice(0, 300),
    },
  }
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

/** Every tools/call names a tool whose scopes the key holds (403 insufficient_scope, RFC 6750 §3.1). */
function checkToolScope(
  app: FastifyInstance,
  key: ApiKey,
  requests: JSONRPCRequest[],
  tools: ToolDef[],
  era: Era,
): void {
  for (const request of requests) {
    if (request.method !== 'tools/call') continue
    const needed = missingScopes(
      tools.find((t) => t.name === request.params?.name),
      key,
    )
    if (needed) throw insufficientScope(app, key, needed, era)
  }
}

type Call = (
  tool: ToolDef,
  args: Record<string, unknown>,
  token: string,
  signal: Cancellation,
) => Promise<Record<string, unknown>>

/** tools/call: the one handler, for the SDK Server and the direct path (direct.ts) alike. */
function toolCallHandler(tools: () => Promise<ToolDef[]>, call: Call, args: ArgumentCheck): ToolCallHandler {
  return async (request, extra) => {
    const tool = (await tools()).find((t) => t.name === request.params.name)
    // An unknown tool is a protocol error, not a tool result (MCP spec, server/tools, "Error Handling").
    if (!tool)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${request.params.name.slice(0, 200)}`)
    const given = request.params.arguments ?? {}
    const problem = args.problem(tool, given)
    if (problem)
      return { content: [{ type: 'text', text: `Invalid arguments for ${tool.name}: ${problem}` }], isError: true }
    return call(tool, given, extra.authInfo!.token, extra.signal)
  }
}

/**
 * An SDK Server answering keygate's tools: the process's one for the 2025 era (the key
 * arrives with each request), and one per request for the 2026-07-28 era (the SDK binds a
 * server to the revision of the request it serves).
 */
function buildServer(tools: () => Promise<ToolDef[]>, onCall: ToolCallHandler, args: ArgumentCheck): Server {
  const server = new Server(
    { name: 'keygate', version: VERSION },
    { capabilities: { tools: { listChanged: false } }, jsonSchemaValidator: args.validator },
  )
  // Only the tools the key may call are listed (a call to another is refused: 403 insufficient_scope).
  server.setRequestHandler('tools/list', async (_request, ctx) => ({
    tools: listedTools(await tools(), ctx.http?.authInfo?.scopes ?? []) as Tool[],
  }))
  server.setRequestHandler(
    'tools/call',
    (request, ctx) =>
      // The SDK checks the result against CallToolResultSchema, as direct.ts does.
      onCall(request, {
        signal: ctx.mcpReq.signal,
        ...(ctx.http?.authInfo ? { authInfo: ctx.http.authInfo } : {}),
      }) as Promise<CallToolResult>,
  )
  return server
}

const listings = new WeakMap<ToolDef[], Map<string, object[]>>()

/** tools/list's answer for a key's scopes, computed once per tool catalogue and set of scopes. */
function listedTools(tools: ToolDef[], scopes: string[]): object[] {
  let byScopes = listings.get(tools)
  if (!byScopes) {
    byScopes = new Map()
    listings.set(tools, byScopes)
  }
  const held = [...new Set(scopes)].sort().join(' ')
  let listed = byScopes.get(held)
  if (!listed) {
    listed = tools
      .filter((tool) => callable(tool, scopes))
      .map(({ name, description, inputSchema, annotations }) => ({ name, description, inputSchema, annotations }))
    // Keys hold few distinct sets of scopes; the bound keeps a stream of odd ones from growing it.
    if (byScopes.size > 1000) byScopes.clear()
    byScopes.set(held, listed)
  }
  return listed
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
  const tools = catalog(app)
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
  const server = buildServer(() => tools.tools(), onCall, checks)
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

  // The 2026-07-28 era: the SDK's own handler answers it (server/discover, the _meta envelope
  // on every request, the revision's headers and errors), with a Server per request as it
  // requires; keygate's checks (host, key, rate limit, tool scopes) come first, as for 2025.
  const modern = createMcpHandler(() => buildServer(() => tools.tools(), onCall, checks), {
    legacy: 'reject',
    responseMode: sse ? 'sse' : 'auto',
    maxRequestBodySize: app.config.mcpMaxBodyBytes,
    onerror: (err) => app.log.debug({ err }, 'a 2026-07-28 request was refused'),
  })
  app.addHook('onClose', async () => modern.close())
  /**
   * The plain 2026-07-28 tools/call (modern.ts), answered here with its scope checked: true
   * when answered; false when the request is for the SDK's handler.
   */
  async function plainModernCall(
    req: FastifyRequest<{ Body: string }>,
    reply: FastifyReply,
    key: ApiKey,
    authInfo: AuthInfo,
  ): Promise<boolean> {
    if (req.headers['mcp-protocol-version'] !== MODERN_VERSION || typeof req.body !== 'string') return false
    const toolDefs = await tools.tools().catch(() => undefined)
    if (!toolDefs) return false
    const plain = modernToolCall(req, (name) => toolDefs.some((t) => t.name === name))
    if (!plain) return false
    checkToolScope(app, key, [{ jsonrpc: '2.0', ...plain.call, id: plain.id }], toolDefs, 'modern')
    const stop = new Stop()
    const timer = setTimeout(() => stop.abort(DEADLINE_PASSED), deadlineMs)
    const gone = () => {
      if (!reply.raw.writableEnded) stop.abort(CLIENT_GONE)
    }
    reply.raw.once('close', gone)
    try {
      const answer = modernAnswer(await answerDirect(plain.id, plain.call, onCall, stop, authInfo))
      reply.code(200).header('content-type', 'application/json')
      reply.send(JSON.stringify(answer))
      return true
    } finally {
      clearTimeout(timer)
      reply.raw.off('close', gone)
    }
  }

  /** A 2026-07-28 request: the tool scopes checked, then the SDK's answer streamed back. */
  async function answerModern(
    req: FastifyRequest<{ Body: string }>,
    reply: FastifyReply,
    key: ApiKey,
    authInfo: AuthInfo,
  ) {
    let body: unknown
    try {
      body = JSON.parse(req.body)
    } catch {
      body = undefined
    }
    const calls = (Array.isArray(body) ? body : [body]).filter(
      (m): m is JSONRPCRequest =>
        typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'tools/call' && 'id' in m,
    )
    if (calls.length > 0) checkToolScope(app, key, calls, await tools.tools(), 'modern')
    // Params that do not fit: the same one-line -32602 as in the 2025 era (the SDK's message
    // would hold the schema's whole error). A request with an id and a known method only.
    const single = !Array.isArray(body) && typeof body === 'object' && body !== null && 'id' in body
    const refused =
      single && typeof (body as { method?: unknown }).method === 'string'
        ? invalidParams(body as JSONRPCRequest, 'modern')
        : undefined
    if (refused) {
      reply.code(200).header('content-type', 'application/json').header('cache-control', 'no-store')
      return reply.send(JSON.stringify(refused))
    }
    const gone = new AbortController()
    const onClose = () => {
      if (!reply.raw.writableEnded) gone.abort()
    }
    reply.raw.once('close', onClose)
    const answer = await modern.fetch(webRequest(app.config.issuer, req, gone.signal), { authInfo, parsedBody: body })
    reply.code(answer.status)
    answer.headers.forEach((value, name) => {
      // The length and framing are Node's to set for the body it sends.
      if (name !== 'content-length' && name !== 'transfer-encoding') reply.header(name, value)
    })
    // An event stream (progress before the result) is passed on as it comes; a JSON answer
    // whole, as keygate's own answers are sent.
    if (!answer.body || !answer.headers.get('content-type')?.startsWith('text/event-stream')) {
      const text = answer.body ? await answer.text() : undefined
      reply.raw.off('close', onClose)
      return reply.send(text)
    }
    const stream = Readable.fromWeb(answer.body as WebReadableStream)
    stream.once('close', () => reply.raw.off('close', onClose))
    return reply.send(stream)
  }

  // The body is text: the content-type parser above keeps it unparsed.
  app.post<{ Body: string }>(
    '/mcp',
    { bodyLimit: app.config.mcpMaxBodyBytes, config: routeConfig },
    async (req, reply) => {
      checkHost(policy, req)
      const { key, token } = await authenticate(app, req)
      const authInfo = { token, clientId: key.clientId ?? '', scopes: key.scopes }
      // A plain 2026-07-28 tools/call is answered here, as the SDK would (modern.ts).
      const plain = direct && !sse ? await plainModernCall(req, reply, key, authInfo) : false
      if (plain) return reply
      if (await isModern(app.config.issuer, req)) return answerModern(req, reply, key, authInfo)
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
