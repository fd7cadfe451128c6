// Raw JSON-RPC over HTTP to /mcp, for tests that look at status codes and headers.
export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
}

export function rpc(method: string, params: Record<string, unknown> = {}, id: number | string | null = 1) {
  return JSON.stringify({ jsonrpc: '2.0', ...(id === null ? {} : { id }), method, params })
}

export async function callTool(base: string, key: string, name: string, args: Record<string, unknown> = {}) {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, authorization: `Bearer ${key}` },
    body: rpc('tools/call', { name, arguments: args }),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
}

/** For app.inject: the Host a client of http://localhost:3000 sends. */
export const INJECT_HEADERS = { ...MCP_HEADERS, host: 'localhost:3000' }
