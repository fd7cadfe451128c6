// POST /mcp: stateless Streamable HTTP. Every request is checked on its own: Host/Origin,
// then the Bearer key, then the transport's rules (Accept, Content-Type, the SDK's JSON-RPC
// schema, batches, protocol version), then (for tools/call) the tool's scope, and only then
// handed to the process's one official MCP SDK Server through ExchangeTransport. GET and
// DELETE answer 405: there are no sessions and no server-initiated streams.

import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { MAX_BATCH_SIZE } from '@modelcontextprotocol/sdk/server/requestBody.js'
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js'
import {
  CallToolRequestSchema,
  ErrorCode,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  type JSONRPCNotification,
  type JSONRPCRequest,
  ListToolsRequestSchema,
  McpError,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError } from '../errors.js'
import { limit } from '../plugins/rate-limit.js'
import type { ApiKey } from '../store/types.js'
import { VERSION } from '../version.js'
import { ArgumentCheck } from './arguments.js'
import { authenticate, challenge } from './bearer.js'
import { catalog } from './catalog.js'
import { Upstream } from './forward.js'
import type { ToolDef } from './openapi.js'
import { originPolicy } from './origin.js'
import { ExchangeTransport } from './transport.js'

type RequestId = string | number | null

function jsonRpcError(reply: FastifyReply, status: number, code: number, message: string, id: RequestId = null) {
  return reply.code(status).header('cache-control', 'no-store').send({ jsonrpc: '2.0', error: { code, message }, id })
}

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

/** The scopes a tools/call needs that the key lacks, or null when it may proceed. */
function missingScopes(tool: ToolDef | undefined, key: ApiKey): string[] | null {
  if (!tool) return null
  if (tool.scopeSets.some((set) => set.every((s) => key.scopes.includes(s)))) return null
  return tool.scopeSets[0]!
}

function insufficientScope(app: FastifyInstance, key: ApiKey, needed: string[]): OAuthError {
  const all = app.config.scopes.filter((s) => key.scopes.includes(s) || needed.includes(s))
  for (const s of needed) if (!all.includes(s)) all.push(s)
  const description = `this tool needs the ${needed.join(' ')} scope`
  return new OAuthError('insufficient_scope', description, 403, {
    'www-authenticate': challenge(app, { error: 'insufficient_scope', description, scope: all }),
  })
}

type Call = (
  tool: ToolDef,
  args: Record<string, unknown>,
  token: string,
  signal: AbortSignal,
) => Promise<Record<string, unknown>>

/** The process's one SDK Server: the protocol lives here, the key arrives with each request. */
function buildServer(tools: () => Promise<ToolDef[]>, call: Call, args: ArgumentCheck): Server {
  const server = new Server(
    { name: 'keygate', version: VERSION },
    { capabilities: { tools: { listChanged: false } }, jsonSchemaValidator: args.validator },
  )
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listedTools(await tools()) }))
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = (await tools()).find((t) => t.name === request.params.name)
    // An unknown tool is a protocol error, not a tool result (MCP spec, server/tools, "Error Handling").
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name.slice(0, 200)}`)
    const given = request.params.arguments ?? {}
    const problem = args.problem(tool, given)
    if (problem)
      return { content: [{ type: 'text', text: `Invalid arguments for ${tool.name}: ${problem}` }], isError: true }
    return call(tool, given, extra.authInfo!.token, extra.signal)
  })
  return server
}

const listings = new WeakMap<ToolDef[], object[]>()

/** tools/list's answer, computed once per tool catalogue. */
function listedTools(tools: ToolDef[]): object[] {
  let listed = listings.get(tools)
  if (!listed) {
    listed = tools.map(({ name, description, inputSchema, annotations }) => ({
      name,
      description,
      inputSchema,
      annotations,
    }))
    listings.set(tools, listed)
  }
  return listed
}

export default async function mcpRoutes(app: FastifyInstance): Promise<void> {
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

  async function guard(req: FastifyRequest, reply: FastifyReply): Promise<{ key: ApiKey; token: string } | null> {
    const refused = policy.check(req)
    if (refused) {
      jsonRpcError(reply, 403, -32000, `Forbidden: ${refused}`, idOf(req.body))
      return null
    }
    return authenticate(app, req)
  }

  const notAllowed = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!(await guard(req, reply))) return reply
    return jsonRpcError(
      reply.header('allow', 'POST'),
      405,
      -32000,
      'Method not allowed: this server is stateless and opens no streams',
      idOf(req.body),
    )
  }
  app.get('/mcp', { config: limit(app, 'mcp') }, notAllowed)
  app.delete('/mcp', { config: limit(app, 'mcp') }, notAllowed)

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
  const server = buildServer(
    () => tools.tools(),
    (tool, args, token, signal) => upstream.call(tools.upstreamBase(), tool, args, token, signal),
    checks,
  )
  await server.connect(transport)
  app.addHook('onClose', async () => server.close())
  const sse = app.config.mcpResponse === 'sse'
  // Every handler ends well within the upstream time-out; this only guards against one that does not.
  const deadlineMs = app.config.upstreamTimeoutMs + 5000

  app.post('/mcp', { config: limit(app, 'mcp') }, async (req, reply) => {
    const caller = await guard(req, reply)
    if (!caller) return reply
    const { key, token } = caller
    const accept = req.headers.accept ?? ''
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return jsonRpcError(
        reply,
        406,
        -32000,
        'Not Acceptable: Client must accept both application/json and text/event-stream',
        idOf(req.body),
      )
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      return jsonRpcError(
        reply,
        415,
        -32000,
        'Unsupported Media Type: Content-Type must be application/json',
        idOf(req.body),
      )
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(req.body as string)
    } catch {
      return jsonRpcError(reply, 400, -32700, 'Parse error: Invalid JSON')
    }
    const batch = Array.isArray(parsed)
    const raw: unknown[] = Array.isArray(parsed) ? parsed : [parsed]
    if (raw.length === 0 || raw.length > MAX_BATCH_SIZE) {
      return jsonRpcError(reply, 400, -32600, `Invalid Request: a batch holds 1 to ${MAX_BATCH_SIZE} messages`)
    }
    const messages: JSONRPCMessage[] = []
    for (const m of raw) {
      const checked = JSONRPCMessageSchema.safeParse(m)
      if (!checked.success) return jsonRpcError(reply, 400, -32700, 'Parse error: Invalid JSON-RPC message')
      messages.push(checked.data)
    }
    // Each message passed the SDK's JSON-RPC schema: a request has a method and an id.
    const requests = messages.filter((m): m is JSONRPCRequest => 'method' in m && 'id' in m)
    if (requests.some((m) => m.method === 'initialize')) {
      if (messages.length > 1)
        return jsonRpcError(
          reply,
          400,
          -32600,
          'Invalid Request: Only one initialization request is allowed',
          batch ? null : requests[0]!.id,
        )
    } else {
      const version = req.headers['mcp-protocol-version']
      if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(String(version))) {
        return jsonRpcError(
          reply,
          400,
          -32000,
          `Bad Request: Unsupported protocol version: ${String(version).slice(0, 40)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
          !batch && requests.length === 1 ? requests[0]!.id : null,
        )
      }
    }
    const authInfo = { token, clientId: key.clientId ?? '', scopes: key.scopes }
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
      return jsonRpcError(
        reply,
        503,
        -32603,
        "The upstream API's OpenAPI document could not be loaded; try again later.",
      )
    }
    for (const request of requests) {
      if (request.method !== 'tools/call') continue
      const needed = missingScopes(
        toolDefs.find((t) => t.name === request.params?.name),
        key,
      )
      if (needed) throw insufficientScope(app, key, needed)
    }
    if (notifications.length > 0) transport.notify(notifications, { authInfo })
    // A client that goes away cancels its requests, and with them the upstream calls.
    const exchange = transport.exchange(requests, { authInfo }, deadlineMs)
    const gone = () => void (reply.raw.writableEnded || exchange.cancel())
    reply.raw.once('close', gone)
    const answers = await exchange.answers
    reply.raw.off('close', gone)
    if (sse) {
      reply.code(200).header('content-type', 'text/event-stream').header('cache-control', 'no-cache, no-transform')
      return reply.send(answers.map((a) => `event: message\ndata: ${JSON.stringify(a)}\n\n`).join(''))
    }
    reply.code(200).header('content-type', 'application/json').header('cache-control', 'no-store')
    return reply.send(JSON.stringify(batch ? answers : answers[0]))
  })
}
