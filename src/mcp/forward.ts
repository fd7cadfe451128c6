// Forwarding a tool call to the upstream API: one undici Pool per upstream origin, the
// caller's key as the only credential, nothing else from the client's headers. Time-out and
// response size are bounded; every failure becomes a tool result with isError, never a
// crash, and nothing of one request can reach another's answer.
import { EventEmitter } from 'node:events'
import { type Dispatcher, errors, Pool } from 'undici'
import type { ToolDef } from './openapi.js'

export type CallResult = {
  content: Array<{ type: 'text'; text: string }>
  structuredContent?: Record<string, unknown>
  isError?: boolean
}

const ERROR_EXCERPT = 2000

export type UpstreamOptions = {
  timeoutMs: number
  maxBytes: number
  observe?: (seconds: number, outcome: string) => void
}

/**
 * What undici accepts as a request's `signal`: an EventEmitter with `aborted` and `reason`.
 * Cheaper to make and to listen to than an AbortController and its EventTarget (about 9 µs
 * of a /mcp request in a profile), so /mcp's direct path cancels with one too.
 */
export class Stop extends EventEmitter {
  aborted = false
  reason: unknown = undefined

  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason ?? new Error('the upstream request was stopped')
    this.emit('abort')
  }
}

/** How a tool call learns that its MCP request was cancelled: the SDK's AbortSignal, or a Stop. */
export type Cancellation = AbortSignal | Stop

class UpstreamTimeout extends Error {
  override name = 'TimeoutError'
}

function errorResult(text: string): CallResult {
  return { content: [{ type: 'text', text }], isError: true }
}

/** A path argument as one segment (`/` and the rest encoded); `.` and `..` are refused before. */
function pathSegment(text: string): string {
  return encodeURIComponent(text)
}

/**
 * Why a path argument cannot be one segment, if it cannot: `.` or `..` (even sent as %2E%2E,
 * an upstream that normalises URLs would resolve it into another path, RFC 3986 §6.2.2.2),
 * or empty (the segment would vanish: `/items/{name}` would become the collection `/items/`).
 * Such an argument never goes upstream.
 */
function badPathArgument(tool: ToolDef, args: Record<string, unknown>): string | undefined {
  for (const p of tool.params) {
    if (p.in !== 'path') continue
    const value = args[p.arg]
    if (value === '') return `the path argument ${p.arg} must not be empty`
    if (value === '.' || value === '..') return `the path argument ${p.arg} must not be "." or ".."`
  }
  return undefined
}

function pathWith(tool: ToolDef, args: Record<string, unknown>): string {
  let path = tool.path
  const query = new URLSearchParams()
  for (const p of tool.params) {
    const value = args[p.arg]
    if (value === undefined || value === null) continue
    const text = typeof value === 'object' ? JSON.stringify(value) : String(value)
    if (p.in === 'path') path = path.replaceAll(`{${p.name}}`, pathSegment(text))
    else if (p.in === 'query') for (const v of Array.isArray(value) ? value : [value]) query.append(p.name, String(v))
  }
  const qs = query.toString()
  return qs ? `${path}?${qs}` : path
}

function headersFor(tool: ToolDef, args: Record<string, unknown>, key: string): Record<string, string> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${key}`,
    accept: 'application/json',
    'user-agent': 'keygate',
  }
  for (const p of tool.params) {
    const value = args[p.arg]
    if (p.in === 'header' && value !== undefined && value !== null)
      headers[p.name.toLowerCase()] = String(value).replace(/[\r\n]/g, ' ')
  }
  if (tool.hasBody && args.body !== undefined) headers['content-type'] = 'application/json'
  return headers
}

function missingArgument(tool: ToolDef, args: Record<string, unknown>): string | undefined {
  return tool.inputSchema.required?.find((arg) => args[arg] === undefined || args[arg] === null)
}

/**
 * The body as text, or null when it is larger than `maxBytes`. A declared Content-Length
 * is all llhttp will read, so such a body is taken whole; one without it (chunked) is
 * counted chunk by chunk and abandoned as soon as it passes the limit.
 */
async function readBounded(
  body: Dispatcher.ResponseData['body'],
  declared: number,
  maxBytes: number,
): Promise<string | null> {
  if (declared > maxBytes) return null
  if (Number.isSafeInteger(declared)) return body.text()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) return null
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function describeFailure(err: unknown, timeoutMs: number): string {
  if (
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError ||
    (err as Error).name === 'TimeoutError'
  ) {
    return `The upstream API did not answer within ${timeoutMs} ms.`
  }
  const code = (err as { code?: string }).code
  if (code === 'ECONNREFUSED') return 'The upstream API refused the connection (is it running?).'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'The upstream API host could not be resolved.'
  return `The upstream API request failed (${code ?? (err as Error).name}).`
}

function toResult(status: number, contentType: string, text: string): CallResult {
  if (status < 200 || status >= 300) {
    const excerpt = text.length > ERROR_EXCERPT ? `${text.slice(0, ERROR_EXCERPT)}…` : text
    return errorResult(`The upstream API answered HTTP ${status}.${excerpt ? `\n\n${excerpt}` : ''}`)
  }
  if (text === '') return { content: [{ type: 'text', text: `HTTP ${status} (no content)` }] }
  if (/^application\/([\w.+-]*\+)?json\b/i.test(contentType)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return errorResult('The upstream API sent invalid JSON.')
    }
    // structuredContent must be an object (MCP 2025-06-18); wrap arrays and scalars.
    const structured =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : { result: parsed }
    return { content: [{ type: 'text', text }], structuredContent: structured }
  }
  return { content: [{ type: 'text', text }] }
}

export class Upstream {
  private readonly pools = new Map<string, Pool>()
  private readonly options: UpstreamOptions

  constructor(options: UpstreamOptions) {
    this.options = options
  }

  private readonly bases = new Map<string, { origin: string; prefix: string }>()

  private parsed(base: string): { origin: string; prefix: string } {
    let parsed = this.bases.get(base)
    if (!parsed) {
      const url = new URL(base)
      parsed = { origin: url.origin, prefix: url.pathname.replace(/\/$/, '') }
      this.bases.set(base, parsed)
    }
    return parsed
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin)
    if (!pool) {
      pool = new Pool(origin, {
        connections: 64,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      })
      this.pools.set(origin, pool)
    }
    return pool
  }

  /** `signal` aborts the upstream request when the MCP request is cancelled. */
  async call(
    base: string,
    tool: ToolDef,
    args: Record<string, unknown>,
    key: string,
    signal?: Cancellation,
  ): Promise<CallResult> {
    const missing = missingArgument(tool, args)
    if (missing) return errorResult(`Missing required argument: ${missing}`)
    const bad = badPathArgument(tool, args)
    if (bad) return errorResult(`Invalid arguments for ${tool.name}: ${bad}`)
    const started = performance.now()
    const result = await this.forward(base, tool, args, key, signal)
    this.options.observe?.((performance.now() - started) / 1000, result.isError ? 'error' : 'ok')
    return result
  }

  private async forward(
    base: string,
    tool: ToolDef,
    args: Record<string, unknown>,
    key: string,
    cancelled?: Cancellation,
  ): Promise<CallResult> {
    const url = this.parsed(base)
    const path = `${url.prefix}${pathWith(tool, args)}`
    const { timeoutMs, maxBytes } = this.options
    // One deadline covers headers and body, and a cancelled MCP request (the client went
    // away) stops the call too. undici also takes an EventEmitter as its signal, which is
    // cheaper to make and to listen to than an AbortController and its EventTarget.
    const stop = new Stop()
    const timer = setTimeout(() => stop.abort(new UpstreamTimeout()), timeoutMs)
    const onCancel = () => stop.abort(cancelled!.reason)
    if (cancelled instanceof Stop) cancelled.once('abort', onCancel)
    else cancelled?.addEventListener('abort', onCancel, { once: true })
    try {
      const res = await this.pool(url.origin).request({
        method: tool.method as 'GET',
        path,
        headers: headersFor(tool, args, key),
        body: tool.hasBody && args.body !== undefined ? JSON.stringify(args.body) : undefined,
        signal: stop,
      })
      const body = await readBounded(res.body, Number(res.headers['content-length'] ?? NaN), maxBytes)
      if (body === null) {
        res.body.destroy()
        return errorResult(`The upstream response is larger than the ${maxBytes}-byte limit.`)
      }
      return toResult(res.statusCode, String(res.headers['content-type'] ?? ''), body)
    } catch (err) {
      return errorResult(describeFailure(stop.aborted ? stop.reason : err, timeoutMs))
    } finally {
      clearTimeout(timer)
      if (cancelled instanceof Stop) cancelled.off('abort', onCancel)
      else cancelled?.removeEventListener('abort', onCancel)
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()))
  }
}
