// Not a peer: a floor. The least a tools/call proxy with auth does, whatever it is built
// with: Fastify's JSON body, the same key lookup as the peers (bench/peers/lookup.ts), a
// check of the JSON-RPC request's method and tool name, one request to the product's API
// with the caller's key, and the answer wrapped as a JSON-RPC result. No MCP SDK, no schema
// validation of the request, no security headers, no rate limit, no audit: it is what
// "keygate /mcp ≥ 0.5× a bare hop" asks of any design, measured in the same run as (a)–(e).
//
// Under /guarded/ (path (g)), the same proxy with the protections keygate is required to
// have and nothing else of keygate's: the security headers (helmet, built once), CORS for
// browser clients (@fastify/cors), a per-key rate limit (@fastify/rate-limit), and the
// request and the result checked by the MCP SDK's own schemas (a JSON-RPC message, a
// tools/call request, a tools/call result).
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import { CallToolRequestSchema, CallToolResultSchema, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import helmet from 'helmet'
import { Pool } from 'undici'
import { bearer, keyLookup } from './lookup.js'

const [port, dbPath, upstream] = [Number(process.argv[2]), process.argv[3]!, process.argv[4]!]
const lookup = keyLookup(dbPath)
const pool = new Pool(upstream, { connections: 64 })
const app = Fastify()
type Call = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: { name?: unknown } }
const refuse = (reply: FastifyReply, id: unknown) =>
  reply.code(400).send({ jsonrpc: '2.0', id: id ?? null, error: { code: -32600, message: 'Invalid Request' } })
async function notes(token: string) {
  const res = await pool.request({
    method: 'GET',
    path: '/api/v1/notes',
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  })
  return { content: [{ type: 'text', text: await res.body.text() }], isError: res.statusCode >= 400 }
}
app.post('/mcp', async (req, reply) => {
  const token = bearer(req.headers.authorization)
  if (!lookup(token)) return reply.code(401).send({ error: 'invalid_token' })
  const call = req.body as Call
  if (call?.jsonrpc !== '2.0' || call.method !== 'tools/call' || call.params?.name !== 'list_notes')
    return refuse(reply, call?.id)
  return { jsonrpc: '2.0', id: call.id, result: await notes(token!) }
})
await app.register(async (guarded) => {
  const headers = helmet()
  guarded.addHook('onRequest', (req, reply, done) =>
    headers(req.raw, reply.raw, (err?: unknown) => done(err as Error | undefined)),
  )
  await guarded.register(cors, { origin: '*' })
  await guarded.register(rateLimit, {
    max: 100_000_000,
    timeWindow: 60_000,
    keyGenerator: (req: FastifyRequest) => bearer(req.headers.authorization) ?? req.ip,
  })
  guarded.post('/guarded/mcp', async (req, reply) => {
    const token = bearer(req.headers.authorization)
    if (!lookup(token)) return reply.code(401).send({ error: 'invalid_token' })
    const message = JSONRPCMessageSchema.safeParse(req.body)
    const call = message.success ? CallToolRequestSchema.safeParse(message.data) : undefined
    if (!call?.success || call.data.params.name !== 'list_notes') return refuse(reply, (req.body as Call)?.id)
    const result = CallToolResultSchema.parse(await notes(token!))
    return { jsonrpc: '2.0', id: (message.data as { id: unknown }).id, result }
  })
})
await app.listen({ port, host: '127.0.0.1' })
process.stdout.write('ready\n')
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
