// Peer (c): FastMCP, as its README configures a stateless HTTP streaming server with
// authentication (fastmcp 4.x: `authenticate`, `start({ transportType: 'httpStream',
// httpStream: { stateless: true } })`); the authenticate hook does the same key lookup as
// keygate. The one tool calls the product's API with the caller's key.
import type { IncomingMessage } from 'node:http'
import { FastMCP } from 'fastmcp'
import { bearer, keyLookup } from './lookup.js'

const [port, dbPath, upstream] = [Number(process.argv[2]), process.argv[3]!, process.argv[4]!]
const lookup = keyLookup(dbPath)

const server = new FastMCP<{ token: string }>({
  name: 'fastmcp-peer',
  version: '1.0.0',
  authenticate: async (request: IncomingMessage) => {
    const token = bearer(request.headers.authorization)
    if (!lookup(token)) throw new Response(null, { status: 401, statusText: 'Unauthorized' })
    return { token: token! }
  },
})
server.addTool({
  name: 'list_notes',
  description: 'List notes',
  execute: async (_args, { session }) => {
    const r = await fetch(`${upstream}/api/v1/notes`, { headers: { authorization: `Bearer ${session!.token}` } })
    return r.text()
  },
})
await server.start({ transportType: 'httpStream', httpStream: { port, host: '127.0.0.1', stateless: true } })
process.stdout.write('ready\n')
process.on('SIGTERM', () => process.exit(0))
