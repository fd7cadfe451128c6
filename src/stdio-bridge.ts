// `keygate stdio --url https://host/mcp`: serves MCP over stdin/stdout for local clients
// (Claude Desktop, Cursor, Codex CLI) and forwards every message to a remote keygate /mcp
// with the API key from KEYGATE_API_KEY as the Bearer token. Both ends are the official
// SDK's transports; the bridge only relays.
import {
  InsufficientScopeError,
  type JSONRPCMessage,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client'
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio'
import type { Io } from './cli.js'
import { keyFor, parseUrl } from './device-login.js'

function requestId(message: JSONRPCMessage): string | number | undefined {
  return 'method' in message && 'id' in message ? message.id : undefined
}

function failureText(err: unknown, stored: string | null): string {
  const message = (err as Error).message ?? String(err)
  // The SDK's SdkHttpError carries the HTTP status (as `status`, and in `data`).
  const status = (err as { status?: unknown }).status
  if (status === 401 || /\b401\b/.test(message))
    return stored
      ? `The remote keygate refused the stored key (HTTP 401): it may have been revoked. Run \`keygate login --url ${stored}\` again.`
      : 'The remote keygate refused the API key (HTTP 401): check KEYGATE_API_KEY; it may have been revoked.'
  // A 403 insufficient_scope challenge: the SDK's InsufficientScopeError carries its description.
  if (err instanceof InsufficientScopeError)
    return `The remote keygate refused the request (HTTP 403): ${err.errorDescription ?? message}`
  if (status === 403 || /\b403\b/.test(message)) return `The remote keygate refused the request (HTTP 403): ${message}`
  return `The remote keygate could not be reached: ${message}`
}

export async function runStdioBridge(args: string[], io: Io): Promise<number> {
  const url = parseUrl(args)
  // A pasted key first; else the one `keygate login` stored for this URL.
  const pasted = io.env.KEYGATE_API_KEY?.trim()
  const key = pasted || (await keyFor(io, url))
  if (!key)
    throw new Error(
      `no key for ${url.href}: run \`keygate login --url ${url.href}\`, or set KEYGATE_API_KEY to a key from the dashboard`,
    )
  const stored = pasted ? null : url.href
  const remote = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { authorization: `Bearer ${key}` } },
  })
  const local = new StdioServerTransport()
  const initializeIds = new Set<string | number>()

  local.onmessage = (message) => {
    if ('method' in message && message.method === 'initialize' && 'id' in message) initializeIds.add(message.id)
    remote.send(message).catch((err: unknown) => {
      const id = requestId(message)
      io.err(`keygate stdio: ${failureText(err, stored)}`)
      if (id !== undefined)
        void local.send({ jsonrpc: '2.0', id, error: { code: -32000, message: failureText(err, stored) } })
    })
  }
  remote.onmessage = (message) => {
    // The bridge is not a Client, so it tells the transport the negotiated version itself.
    if ('id' in message && message.id !== undefined && initializeIds.delete(message.id) && 'result' in message) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion
      if (typeof version === 'string') remote.setProtocolVersion(version)
    }
    void local.send(message)
  }
  remote.onerror = (err) => io.err(`keygate stdio: ${failureText(err, stored)}`)

  const closed = new Promise<void>((resolve) => {
    local.onclose = () => resolve()
    process.stdin.once('end', () => resolve())
  })
  await remote.start()
  await local.start()
  await closed
  await remote.close().catch(() => undefined)
  return 0
}
