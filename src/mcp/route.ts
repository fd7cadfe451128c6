// POST /mcp: stateless Streamable HTTP. Every request is checked on its own: Host/Origin,
// then the Bearer key, then (for tools/call) the tool's scope, and only then handed to the
// official MCP SDK server, built for this one request. GET and DELETE answer 405: there are
// no sessions and no server-initiated streams.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js'
import { OAuthError } from '../errors.js'
import type { ApiKey } from '../store/types.js'
import { VERSION } from '../version.js'
import { authenticate, bearerToken, challenge } from './bearer.js'
import { catalog } from './catalog.js'
import { Upstream } from './forward.js'
import type { ToolDef } from './openapi.js'
import { originPolicy } from './origin.js'
import { limit } from '../plugins/rate-limit.js'

type Message = { method?: unknown; params?: { name?: unknown } }

const TRANSPORT_HEADERS = ['content-type', 'accept', 'mcp-protocol-version', 'mcp-session-id', 'last-event-id'] as const

function jsonRpcError(reply: FastifyReply, status: number, code: number, message: string) {
  return reply.code(status).header('cache-control', 'no-store').send({ jsonrpc: '2.0', error: { code, message }, id: null })
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

// One validator for every per-request Server: building an Ajv instance is the costliest
// part of constructing a Server.
const VALIDATOR = new AjvJsonSchemaValidator()

function buildServer(tools: ToolDef[], call: (tool: ToolDef, args: Record<string, unknown>) => Promise<Record<string, unknown>>): Server {
  const server = new Server({ name: 'keygate', version: VERSION }, { capabilities: { tools: { listChanged: false } }, jsonSchemaValidator: VALIDATOR })
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listedTools(tools) }))
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const tool = tools.find((t) => t.name === request.params.name)
    if (!tool) return { content: [{ type: 'text', text: `Unknown tool: ${request.params.name}` }], isError: true }
    return call(tool, (request.params.arguments ?? {}) as Record<string, unknown>)
  })
  return server
}

const listings = new WeakMap<ToolDef[], object[]>()

/** tools/list's answer, computed once per tool catalogue. */
function listedTools(tools: ToolDef[]): object[] {
  let listed = listings.get(tools)
  if (!listed) {
    listed = tools.map(({ name, description, inputSchema, annotations }) => ({ name, description, inputSchema, annotations }))
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

  // The SDK parses the body and answers JSON-RPC errors (-32700, 415, 406) itself.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: app.config.mcpMaxBodyBytes }, (_req, body, done) => done(null, body))

  async function guard(req: FastifyRequest, reply: FastifyReply): Promise<ApiKey | null> {
    const refused = policy.check(req)
    if (refused) {
      jsonRpcError(reply, 403, -32000, `Forbidden: ${refused}`)
      return null
    }
    return authenticate(app, req)
  }

  const notAllowed = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!(await guard(req, reply))) return reply
    return jsonRpcError(reply.header('allow', 'POST'), 405, -32000, 'Method not allowed: this server is stateless and opens no streams')
  }
  app.get('/mcp', { config: limit(app, 'mcp') }, notAllowed)
  app.delete('/mcp', { config: limit(app, 'mcp') }, notAllowed)

  app.post('/mcp', { config: limit(app, 'mcp') }, async (req, reply) => {
    const key = await guard(req, reply)
    if (!key) return reply
    const raw = typeof req.body === 'string' ? req.body : ''
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      parsed = undefined
    }
    let toolDefs: ToolDef[]
    try {
      toolDefs = await tools.tools()
    } catch (err) {
      req.log.error({ err }, 'the OpenAPI document could not be loaded')
      return jsonRpcError(reply, 503, -32603, "The upstream API's OpenAPI document could not be loaded; try again later.")
    }
    for (const message of (Array.isArray(parsed) ? parsed : [parsed]) as Message[]) {
      if (message?.method !== 'tools/call') continue
      const needed = missingScopes(toolDefs.find((t) => t.name === message.params?.name), key)
      if (needed) throw insufficientScope(app, key, needed)
    }
    const base = tools.upstreamBase()
    const token = bearerToken(req)!
    const server = buildServer(toolDefs, (tool, args) => upstream.call(base, tool, args, token))
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: app.config.mcpResponse === 'json',
    })
    await server.connect(transport)
    reply.raw.once('close', () => void server.close())
    // Only the headers the transport reads; the body is passed parsed when it parsed.
    const headers: Record<string, string> = {}
    for (const name of TRANSPORT_HEADERS) {
      const value = req.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const request = new Request(`${app.config.issuer}/mcp`, { method: 'POST', headers, body: parsed === undefined ? raw : null })
    const response = await transport.handleRequest(request, parsed === undefined ? {} : { parsedBody: parsed })
    if (response.headers.get('content-type')?.startsWith('text/event-stream')) return reply.send(response)
    // A JSON answer is complete: send it as a string rather than as a stream.
    reply.code(response.status)
    response.headers.forEach((value, name) => void reply.header(name, value))
    return reply.send(response.body === null ? undefined : await response.text())
  })
}
