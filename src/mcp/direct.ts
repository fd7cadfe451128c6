// tools/call without the SDK Server's dispatch. Profiling put the SDK Server's handling of a
// tools/call (its request parse, its promise chain, its result check, the transport hop) at
// about a fifth of a /mcp request (docs/performance.md); this path answers the tools/call
// requests it can answer exactly as the SDK Server would, with the SDK's own schemas and its
// own validation function: the request through CallToolRequestSchema, the result through
// CallToolResultSchema (the parsed data is what is sent), an error as Protocol renders it.
// Anything else (another method, a request the schema refuses, a task-augmented call, an
// unknown tool) goes to the SDK Server as before. test/mcp/direct.test.ts sends one corpus
// through both and requires byte-identical answers.
import { CallToolRequestSchema, CallToolResultSchema } from '@modelcontextprotocol/core'
import {
  type CallToolRequest,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
  ProtocolError,
  ProtocolErrorCode,
  type RequestId,
} from '@modelcontextprotocol/server'
import type { Cancellation, Stop } from './forward.js'

/** The one tools/call handler, registered on the SDK Server and called here alike. */
export type ToolCallHandler = (
  request: CallToolRequest,
  extra: { signal: Cancellation; authInfo?: MessageExtraInfo['authInfo'] },
) => Promise<Record<string, unknown>>

/**
 * The request as the SDK Server's handler would receive it, when this path can answer it;
 * undefined when the SDK Server must.
 */
export function directCall(request: JSONRPCRequest, known: (tool: string) => boolean): CallToolRequest | undefined {
  if (request.method !== 'tools/call') return undefined
  const parsed = CallToolRequestSchema.safeParse(request)
  if (!parsed.success) return undefined
  // A task-augmented call is refused by the SDK (keygate declares no tasks capability).
  if (parsed.data.params.task !== undefined) return undefined
  // An unknown tool is the handler's McpError, rendered by the SDK.
  if (!known(parsed.data.params.name)) return undefined
  return parsed.data
}

/** An answer for a request that was cancelled (the client went away, or the deadline passed). */
export function cancelledAnswer(id: RequestId, reason: string, code: number): JSONRPCMessage {
  return { jsonrpc: '2.0', id, error: { code, message: reason } }
}

/** Protocol's rendering of an error thrown by a request handler. */
function errorAnswer(id: RequestId, error: unknown): JSONRPCMessage {
  const e = error as { code?: unknown; message?: string; data?: unknown }
  return {
    jsonrpc: '2.0',
    id,
    error: {
      code: Number.isSafeInteger(e.code) ? (e.code as number) : ProtocolErrorCode.InternalError,
      message: e.message ?? 'Internal error',
      ...(e.data !== undefined && { data: e.data }),
    },
  }
}

/** The handler's result checked as the SDK Server checks it, as the answer it would send. */
async function answer(
  id: RequestId,
  call: CallToolRequest,
  handler: ToolCallHandler,
  extra: Parameters<ToolCallHandler>[1],
): Promise<JSONRPCMessage> {
  try {
    const result = await handler(call, extra)
    const checked = CallToolResultSchema.safeParse(result)
    if (!checked.success) {
      const message = checked.error instanceof Error ? checked.error.message : String(checked.error)
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid tools/call result: ${message}`)
    }
    return { result: checked.data, jsonrpc: '2.0', id }
  } catch (error) {
    return errorAnswer(id, error)
  }
}

/**
 * Answers one tools/call. When `stop` aborts first (its reason: [message, code]), the handler
 * is told through the same Stop and the answer is the cancellation's.
 */
export function answerDirect(
  id: RequestId,
  call: CallToolRequest,
  handler: ToolCallHandler,
  stop: Stop,
  authInfo?: MessageExtraInfo['authInfo'],
): Promise<JSONRPCMessage> {
  const cancelled = () => {
    const [reason, code] = stop.reason as [string, number]
    return cancelledAnswer(id, reason, code)
  }
  if (stop.aborted) return Promise.resolve(cancelled())
  return new Promise((resolve) => {
    const onAbort = () => resolve(cancelled())
    stop.once('abort', onAbort)
    void answer(id, call, handler, { signal: stop, ...(authInfo ? { authInfo } : {}) }).then((a) => {
      stop.off('abort', onAbort)
      resolve(stop.aborted ? cancelled() : a)
    })
  })
}
