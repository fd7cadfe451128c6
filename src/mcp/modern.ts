// The 2026-07-28 era on /mcp: which requests belong to it, and the tools/call that keygate
// answers itself. Everything of that era is the SDK's createMcpHandler's to answer (route.ts
// hands it over after keygate's checks); one request is so common and so plain that keygate
// answers it directly, as the SDK would, as it does for the 2025 era (direct.ts): a
// tools/call of a known tool with the revision's headers and nothing in its envelope but
// the version, the client's capabilities and its name. test/mcp/direct-modern.test.ts
// sends a corpus to both and requires the same status, headers and bytes.
import { ClientCapabilitiesSchema, ImplementationSchema } from '@modelcontextprotocol/core'
import {
  type CallToolRequest,
  isLegacyRequest,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server'
import type { FastifyRequest } from 'fastify'
import { VERSION } from '../version.js'
import { directCall } from './direct.js'
import { isJsonContentType } from './media-type.js'

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
 * Whether the request belongs to the 2026-07-28 era. Only a body that names the envelope's
 * version, or a protocol-version header that is not a 2025 one, may; the SDK's
 * isLegacyRequest decides those. Everything else is 2025-era without asking.
 */
export async function isModern(origin: string, req: Body): Promise<boolean> {
  const header = req.headers['mcp-protocol-version']
  const claims = typeof req.body === 'string' && req.body.includes(PROTOCOL_VERSION)
  if (!claims && (header === undefined || LEGACY_VERSIONS.has(String(header)))) return false
  return !(await isLegacyRequest(webRequest(origin, req), parsedOrUndefined(req.body)))
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
export function modernAnswer(answer: JSONRPCMessage): JSONRPCMessage {
  if (!('result' in answer)) return answer
  return {
    ...answer,
    result: {
      ...answer.result,
      resultType: 'complete',
      _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'keygate', version: VERSION } },
    },
  } as JSONRPCMessage
}
