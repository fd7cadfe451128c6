// Peer (b): the MCP SDK v2's own server, written as its documentation shows ("Serve over
// HTTP", "Require authorization": Express through @modelcontextprotocol/express, the
// handler of createMcpHandler through toNodeHandler, a fresh McpServer per request, bearer
// auth by requireBearerAuth with a verifier doing the same key lookup as keygate). It serves
// both eras, as keygate does. The one tool calls the product's API with the caller's key.
import { createMcpExpressApp, type OAuthTokenVerifier, requireBearerAuth } from '@modelcontextprotocol/express'
import { toNodeHandler } from '@modelcontextprotocol/node'
import { type AuthInfo, createMcpHandler, McpServer, OAuthError, OAuthErrorCode } from '@modelcontextprotocol/server'
import { keyLookup } from './lookup.js'

const [port, dbPath, upstream] = [Number(process.argv[2]), process.argv[3]!, process.argv[4]!]
const lookup = keyLookup(dbPath)

const verifier: OAuthTokenVerifier = {
  async verifyAccessToken(token): Promise<AuthInfo> {
    const row = lookup(token)
    if (!row) throw new OAuthError(OAuthErrorCode.InvalidToken, 'unknown key')
    // requireBearerAuth wants an expiry: a key that never expires is given one an hour away.
    const expiresAt = row.expires_at ?? Math.floor(Date.now() / 1000) + 3600
    return { token, clientId: 'bench', scopes: row.scopes.split(' '), expiresAt }
  },
}

const handler = createMcpHandler(() => {
  const server = new McpServer({ name: 'sdk-peer', version: '1.0.0' })
  server.registerTool('list_notes', { description: 'List notes' }, async (ctx) => {
    const r = await fetch(`${upstream}/api/v1/notes`, {
      headers: { authorization: `Bearer ${ctx.http!.authInfo!.token}` },
    })
    return { content: [{ type: 'text', text: await r.text() }] }
  })
  return server
})

const app = createMcpExpressApp()
const node = toNodeHandler(handler)
app.all('/mcp', requireBearerAuth({ verifier }), (req, res) => void node(req, res, req.body))

app.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'))
process.on('SIGTERM', () => process.exit(0))
