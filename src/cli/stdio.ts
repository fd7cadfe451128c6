// `keygate stdio --url https://host/mcp`: serves MCP over stdin/stdout for local clients
// (Claude Desktop, Cursor, Codex CLI) and forwards their requests to a remote keygate /mcp
// with the API key from KEYGATE_API_KEY (or the one `keygate login` stored) as the Bearer
// token. Both ends are the official SDK v2's: the local end serves either era (a client
// that opens with initialize gets the 2025 protocol, one that asks server/discover the
// 2026-07-28 one), and the remote end is a Client that speaks the newest era the remote
// offers (it probes with server/discover and falls back to initialize for an older server).
// Between them only tools pass: tools/list and tools/call, with cancellation.
import { Client, InsufficientScopeError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { type CallToolResult, ProtocolError, Server } from '@modelcontextprotocol/server'
import { serveStdio } from '@modelcontextprotocol/server/stdio'
import { VERSION } from '../shared/version.js'
import type { Io } from './common.js'
import { keyFor, parseUrl } from './login.js'

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
  let key = pasted || (await keyFor(io, url))
  if (!key)
    throw new Error(
      `no key for ${url.href}: run \`keygate login --url ${url.href}\`, or set KEYGATE_API_KEY to a key from the dashboard`,
    )
  const stored = pasted ? null : url.href

  // The remote, connected on the first request that needs it, and again after a failure.
  let remote: Promise<Client> | undefined
  const connected = (): Promise<Client> => {
    remote ??= (async () => {
      const client = new Client({ name: 'keygate-stdio', version: VERSION }, { versionNegotiation: { mode: 'auto' } })
      await client.connect(
        new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
      )
      return client
    })().catch((err: unknown) => {
      remote = undefined
      throw err
    })
    return remote
  }
  /**
   * A stored key that was refreshed (it was due, or the remote refused it) replaces the one
   * the remote was connected with; true when it did.
   */
  const renewed = async (refresh: boolean): Promise<boolean> => {
    if (!stored) return false
    const fresh = await keyFor(io, url, refresh).catch(() => undefined)
    if (!fresh || fresh === key) return false
    key = fresh
    const old = remote
    remote = undefined
    await old?.then((c) => c.close()).catch(() => undefined)
    return true
  }
  const refused = (err: unknown) => {
    const status = (err as { status?: unknown }).status
    return status === 401 || /\b401\b/.test((err as Error).message ?? '')
  }
  /** Runs a request at the remote; a failure is a JSON-RPC error the local client can show. */
  const atRemote = async <T>(run: (client: Client) => Promise<T>): Promise<T> => {
    try {
      await renewed(false)
      try {
        return await run(await connected())
      } catch (err) {
        // Refused: a stored key may have expired by the remote's clock; refreshed, tried once more.
        if (refused(err) && (await renewed(true))) return await run(await connected())
        throw err
      }
    } catch (err) {
      if (err instanceof ProtocolError) throw err
      const text = failureText(err, stored)
      io.err(`keygate stdio: ${text}`)
      throw new ProtocolError(-32000, text)
    }
  }

  const handle = serveStdio(
    () => {
      const server = new Server(
        { name: 'keygate', version: VERSION },
        { capabilities: { tools: { listChanged: false } } },
      )
      server.setRequestHandler('tools/list', (request) =>
        atRemote((client) => client.listTools(request.params?.cursor ? { cursor: request.params.cursor } : {})),
      )
      server.setRequestHandler('tools/call', (request, ctx) =>
        atRemote(
          (client) =>
            client.callTool(
              { name: request.params.name, arguments: request.params.arguments ?? {} },
              { signal: ctx.mcpReq.signal },
            ) as Promise<CallToolResult>,
        ),
      )
      return server
    },
    { onerror: (err) => io.err(`keygate stdio: ${err.message}`) },
  )

  await new Promise<void>((resolve) => {
    process.stdin.once('end', () => resolve())
    process.stdin.once('close', () => resolve())
  })
  await handle.close().catch(() => undefined)
  if (remote) await (await remote.catch(() => undefined))?.close().catch(() => undefined)
  return 0
}
