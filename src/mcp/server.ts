// The SDK Server that answers keygate's tools, and the one tools/call handler it shares with
// the direct paths (direct.ts, modern.ts): tools/list shows the tools the key's scopes allow;
// a tools/call's arguments are checked, then the call goes upstream. Params that do not fit
// their method are answered before the SDK sees them, in one line.
import {
  CallToolRequestSchema,
  InitializeRequestSchema,
  ListToolsRequestSchema,
  PingRequestSchema,
} from '@modelcontextprotocol/core'
import {
  type CallToolResult,
  type JSONRPCMessage,
  type JSONRPCRequest,
  ProtocolError,
  ProtocolErrorCode,
  Server,
  type Tool,
} from '@modelcontextprotocol/server'
import type { z } from 'zod'
import { VERSION } from '../shared/version.js'
import type { ArgumentCheck } from './arguments.js'
import type { ToolCallHandler } from './direct.js'
import type { Cancellation } from './forward.js'
import type { ToolDef } from './openapi.js'
import { callable, type Era } from './scope.js'

/** The requests keygate's server answers, by the SDK's own schemas for them. */
const REQUEST_SCHEMAS: Record<string, z.ZodType> = {
  initialize: InitializeRequestSchema,
  ping: PingRequestSchema,
  'tools/list': ListToolsRequestSchema,
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

export type Call = (
  tool: ToolDef,
  args: Record<string, unknown>,
  token: string,
  signal: Cancellation,
) => Promise<Record<string, unknown>>

/** tools/call: the one handler, for the SDK Server and the direct path (direct.ts) alike. */
export function toolCallHandler(tools: () => Promise<ToolDef[]>, call: Call, args: ArgumentCheck): ToolCallHandler {
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
/** Who answers, as MCP clients show it: the product's name (KEYGATE_PRODUCT_NAME). */
export type ServerInfo = { name: string; title: string; version: string }

export const serverInfo = (brand: { name: string; slug: string }): ServerInfo => ({
  name: brand.slug,
  title: brand.name,
  version: VERSION,
})

export function buildServer(
  tools: () => Promise<ToolDef[]>,
  onCall: ToolCallHandler,
  args: ArgumentCheck,
  info: ServerInfo,
): Server {
  const server = new Server(info, {
    capabilities: { tools: { listChanged: false } },
    jsonSchemaValidator: args.validator,
  })
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
