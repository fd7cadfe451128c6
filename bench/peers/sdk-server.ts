// Peer (b): the MCP SDK's own server, written as its documentation shows a stateless
// Streamable HTTP server ("Without Session Management (Stateless)" in the SDK's README,
// @modelcontextprotocol/sdk 1.x): Express, a new McpServer and
// StreamableHTTPServerTransport({ sessionIdGenerator: undefined }) per request, JSON
// responses; protected by the SDK's requireBearerAuth with a verifier doing the same key
// lookup as keygate. The one tool calls the product's API with the caller's key.
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js'
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import express from 'express'
import { keyLookup } from './lookup.js'

const [port, dbPath, upstream] = [Number(process.argv[2]), process.argv[3]!, process.argv[4]!]
const lookup = keyLookup(dbPath)

const app = express()
app.use(express.json())
const auth = requireBearerAuth({
  verifier: {
    async verifyAccessToken(token) {
      const row = lookup(token)
      if (!row) throw new InvalidTokenError('unknown key')
      // requireBearerAuth wants an expiry: a key that never expires is given one an hour away.
      const expiresAt = row.expires_at ?? Math.floor(Date.now() / 1000) + 3600
      return { token, clientId: 'bench', scopes: row.scopes.split(' '), expiresAt }
    },
  },
})

app.post('/mcp', auth, async (req, res) => {
  const server = new McpServer({ name: 'sdk-peer', version: '1.0.0' })
  server.registerTool('list_notes', { description: 'List notes' }, async (extra) => {
    const r = await fetch(`${upstream}/api/v1/notes`, { headers: { authorization: `Bearer ${extra.authInfo!.token}` } })
    return { content: [{ type: 'text', text: await r.text() }] }
  })
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
  res.on('close', () => {
    void transport.close()
    void server.close()
  })
  await server.connect(transport)
  await transport.handleRequest(req, res, req.body)
})

app.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'))
process.on('SIGTERM', () => process.exit(0))
