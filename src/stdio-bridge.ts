// `keygate stdio --url https://host/mcp`: serves MCP over stdin/stdout for local clients
// (Claude Desktop, Cursor, Codex CLI) and forwards every message to a remote keygate /mcp
// with the API key from KEYGATE_API_KEY as the Bearer token. Both ends are the official
// SDK's transports; the bridge only relays.
import { parseArgs } from 'node:util'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import type { Io } from './cli.js'

function parseUrl(args: string[]): URL {
  const { values } = parseArgs({ args, options: { url: { type: 'string' } }, strict: true })
  if (!values.url) throw new Error('--url is required, like --url https://mcp.example.com/mcp')
  let url: URL
  try {
    url = new URL(values.url)
  } catch {
    throw new Error(`--url ${values.url} is not an absolute URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('--url must be http(s)')
  return url
}

function requestId(message: JSONRPCMessage): string | number | undefined {
  return 'method' in message && 'id' in message ? message.id : undefined
}

function failureText(err: unknown): string {
  const message = (err as Error).message ?? String(err)
  // The SDK's StreamableHTTPError carries the HTTP status as `code`.
  const status = (err as { code?: unknown }).code
  if (status === 401 || /\b401\b/.test(message))
    return 'The remote keygate refused the API key (HTTP 401): check KEYGATE_API_KEY; it may have been revoked.'
  if (status === 403 || /\b403\b/.test(message)) return `The remote keygate refused the request (HTTP 403): ${message}`
  return `The remote keygate could not be reached: ${message}`
}

export async function runStdioBridge(args: string[], io: Io): Promise<number> {
  const url = parseUrl(args)
  const key = io.env.KEYGATE_API_KEY?.trim()
  if (!key) throw new Error('KEYGATE_API_KEY is not set: create a key in the dashboard or with `keygate key create`')
  const remote = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { authorization: `Bearer ${key}` } },
  })
  const local = new StdioServerTransport()
  const initializeIds = new Set<string | number>()

  local.onmessage = (message) => {
    if ('method' in message && message.method === 'initialize' && 'id' in message) initializeIds.add(message.id)
    remote.send(message).catch((err: unknown) => {
      const id = requestId(message)
      io.err(`keygate stdio: ${failureText(err)}`)
      if (id !== undefined) void local.send({ jsonrpc: '2.0', id, error: { code: -32000, message: failureText(err) } })
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
  remote.onerror = (err) => io.err(`keygate stdio: ${failureText(err)}`)

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
