// The 2026-07-28 era on /mcp: which requests belong to it, and the tools/call that keygate
// answers itself. Everything of that era is the SDK's createMcpHandler's to answer (route.ts
// hands it over after keygate's checks); one request is so common and so plain that keygate
// answers it directly, as the SDK would, as it does for the 2025 era (direct.ts): a
// tools/call of a known tool with the revision's headers and nothing in its envelope but
// the version, the client's capabilities and its name. test/mcp/direct-modern.test.ts
// sends a corpus to both and requires the same status, headers and bytes.
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { ClientCapabilitiesSchema, ImplementationSchema } from '@modelcontextprotocol/core'
import {
  type AuthInfo,
  type CallToolRequest,
  createMcpHandler,
  isLegacyRequest,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ApiKey } from '../store/types.js'
import type { ArgumentCheck } from './arguments.js'
import { answerDirect, directCall, type ToolCallHandler } from './direct.js'
import { Stop } from './forward.js'
import { isJsonContentType } from './media-type.js'
import type { ToolDef } from './openapi.js'
import { checkToolScope } from './scope.js'
import { buildServer, invalidParams, type ServerInfo, serverInfo } from './server.js'
import { CLIENT_GONE, DEADLINE_PASSED } from './transport.js'

export const MODERN_VERSION = '2026-07-28'
const PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion'
const CLIENT_INFO = 'io.modelcontextprotocol/clientInfo'
const CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities'
const LEGACY_VERSIONS = new Set<string>(SUPPORTED_PROTOCOL_VERSIONS)

type Body = FastifyRequest<{ Body: string }>

/** The request as the web-standard Request the SDK's handler takes. */
export function webRequest(origin: string, req: Body, signal?: AbortSignal): Request {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
  return new Request(`${origin}${req.url}`, { method: 'POST', headers, body: req.body, ...(signal ? { signal } : {}) })
}

const parsedOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * The request's parsed body when it belongs to the 2026-07-28 era; undefined when it is a
 * 2025-era one. Only a body that names the envelope's version, or a protocol-version header
 * that is not a 2025 one, may belong to it; the SDK's isLegacyRequest decides those.
 * Everything else is 2025-era without asking.
 */
async function modernBody(origin: string, req: Body): Promise<{ body: unknown } | undefined> {
  const header = req.headers['mcp-protocol-version']
  const claims = typeof req.body === 'string' && req.body.includes(PROTOCOL_VERSION)
  if (!claims && (header === undefined || LEGACY_VERSIONS.has(String(header)))) return undefined
  const body = parsedOrUndefined(req.body)
  return (await isLegacyRequest(webRequest(origin, req), body)) ? undefined : { body }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const only = (v: Record<string, unknown>, keys: string[]) => Object.keys(v).every((k) => keys.includes(k))

/**
 * The tools/call keygate answers itself in the 2026-07-28 era, when it is exactly the plain
 * case; undefined sends the request to the SDK's handler (anything unusual, any doubt).
 */
export function modernToolCall(
  req: Body,
  known: (tool: string) => boolean,
): { id: RequestId; call: CallToolRequest } | undefined {
  const h = req.headers
  if (h['mcp-protocol-version'] !== MODERN_VERSION || h['mcp-method'] !== 'tools/call') return undefined
  const accept = h.accept ?? ''
  if (!isJsonContentType(h['content-type']) || !accept.includes('application/json')) return undefined
  if (!accept.includes('text/event-stream')) return undefined
  const body = parsedOrUndefined(req.body)
  if (!isObject(body) || !only(body, ['jsonrpc', 'id', 'method', 'params'])) return undefined
  // The revision's envelope takes ids that are strings or integers JSON numbers hold exactly.
  if (typeof body.id !== 'string' && !Number.isSafeInteger(body.id)) return undefined
  const params = body.params
  if (!isObject(params) || !only(params, ['name', 'arguments', '_meta'])) return undefined
  if (typeof params.name !== 'string' || h['mcp-name'] !== params.name) return undefined
  const meta = params._meta
  if (!isObject(meta) || !only(meta, [PROTOCOL_VERSION, CLIENT_INFO, CLIENT_CAPABILITIES])) return undefined
  if (meta[PROTOCOL_VERSION] !== MODERN_VERSION) return undefined
  if (!ClientCapabilitiesSchema.safeParse(meta[CLIENT_CAPABILITIES]).success) return undefined
  if (meta[CLIENT_INFO] !== undefined && !ImplementationSchema.safeParse(meta[CLIENT_INFO]).success) return undefined
  const call = directCall(body as unknown as JSONRPCRequest, known)
  return call && { id: (body as { id: RequestId }).id, call }
}

/** A direct answer in the 2026-07-28 shape: the result's resultType and the server's identity. */
function modernAnswer(answer: JSONRPCMessage, info: ServerInfo): JSONRPCMessage {
  if (!('result' in answer)) return answer
  return {
    ...answer,
    result: {
      ...answer.result,
      resultType: 'complete',
      _meta: { 'io.modelcontextprotocol/serverInfo': info },
    },
  } as JSONRPCMessage
}

export type ModernDeps = {
  tools: () => Promise<ToolDef[]>
  onCall: ToolCallHandler
  checks: ArgumentCheck
  deadlineMs: number
  /** KEYGATE_MCP_RESPONSE=sse: every answer an event stream, so the SDK's handler gives them all. */
  sse: boolean
  /** false: no direct path (the reference of the differential tests). */
  direct: boolean
}

/**
 * The 2026-07-28 era on /mcp: the SDK's own handler (server/discover, the _meta envelope on
 * every request, the revision's headers and errors), with a Server per request as it
 * requires, after keygate's checks (host, key and rate limit in route.ts; tool scopes and
 * params here); and the plain tools/call, answered directly.
 */
export function modernEra(app: FastifyInstance, deps: ModernDeps) {
  const { tools, onCall, checks, deadlineMs, sse } = deps
  const info = serverInfo(app.config.brand)
  const handler = createMcpHandler(() => buildServer(tools, onCall, checks, info), {
    legacy: 'reject',
    responseMode: sse ? 'sse' : 'auto',
    maxRequestBodySize: app.config.mcpMaxBodyBytes,
    onerror: (err) => app.log.debug({ err }, 'a 2026-07-28 request was refused'),
  })
  app.addHook('onClose', async () => handler.close())

  return {
    classify: (req: Body) => modernBody(app.config.issuer, req),

    /** The plain tools/call, its scope checked, answered here: true when answered. */
    async plainCall(req: Body, reply: FastifyReply, key: ApiKey, authInfo: AuthInfo): Promise<boolean> {
      if (!deps.direct || sse || req.headers['mcp-protocol-version'] !== MODERN_VERSION) return false
      const toolDefs = await tools().catch(() => undefined)
      const plain = toolDefs && modernToolCall(req, (name) => toolDefs.some((t) => t.name === name))
      if (!plain) return false
      checkToolScope(app, key, [{ jsonrpc: '2.0', ...plain.call, id: plain.id }], toolDefs, 'modern')
      const stop = new Stop()
      const timer = setTimeout(() => stop.abort(DEADLINE_PASSED), deadlineMs)
      const gone = () => {
        if (!reply.raw.writableEnded) stop.abort(CLIENT_GONE)
      }
      reply.raw.once('close', gone)
      try {
        const answer = modernAnswer(await answerDirect(plain.id, plain.call, onCall, stop, authInfo), info)
        reply.code(200).header('content-type', 'application/json').send(JSON.stringify(answer))
        return true
      } finally {
        clearTimeout(timer)
        reply.raw.off('close', gone)
      }
    },

    /** Any other request of the era: its scope and params checked, then the SDK's answer. */
    async answer(req: Body, reply: FastifyReply, key: ApiKey, authInfo: AuthInfo, body: unknown) {
      // The era allows no batches (the SDK refuses them); a single request is checked here.
      if (isObject(body) && 'id' in body && typeof body.method === 'string') {
        const request = body as unknown as JSONRPCRequest
        if (request.method === 'tools/call') checkToolScope(app, key, [request], await tools(), 'modern')
        // The same one-line -32602 as in the 2025 era (the SDK's would hold the schema's whole error).
        const refused = invalidParams(request, 'modern')
        if (refused)
          return reply
            .code(200)
            .header('content-type', 'application/json')
            .header('cache-control', 'no-store')
            .send(JSON.stringify(refused))
      }
      const gone = new AbortController()
      const onClose = () => {
        if (!reply.raw.writableEnded) gone.abort()
      }
      reply.raw.once('close', onClose)
      const answer = await handler.fetch(webRequest(app.config.issuer, req, gone.signal), {
        authInfo,
        parsedBody: body,
      })
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
    },
  }
}
