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
//
// Under /required/ (path (h)), (g) plus, each in its least form, the rest of what keygate
// does for every tools/call: the Host and Origin check (DNS rebinding), the Accept,
// Content-Type and MCP-Protocol-Version checks, the tool's scope in the key's scopes, the
// arguments checked against the tool's inputSchema by the SDK's Ajv validator, the upstream
// call bounded in time (the pool's time-outs) and size (its Content-Length), the JSON
// answer also as structuredContent, a request id, and the metrics keygate keeps (requests
// by route and status, bearer checks by outcome, upstream latency).
import { randomUUID } from 'node:crypto'
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js'
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import helmet from 'helmet'
import { Counter, Histogram, Registry } from 'prom-client'
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
/** The body as a tools/call of list_notes, checked by the SDK's schemas ((g) and (h)); undefined if not. */
function checkedCall(body: unknown): { id: unknown; args: unknown } | undefined {
  const message = JSONRPCMessageSchema.safeParse(body)
  const call = message.success ? CallToolRequestSchema.safeParse(message.data) : undefined
  if (!call?.success || call.data.params.name !== 'list_notes') return undefined
  return { id: (message.data as { id: unknown }).id, args: call.data.params.arguments ?? {} }
}
app.post('/mcp', async (req, reply) => {
  const token = bearer(req.headers.authorization)
  if (!lookup(token)) return reply.code(401).send({ error: 'invalid_token' })
  const call = req.body as Call
  if (call?.jsonrpc !== '2.0' || call.method !== 'tools/call' || call.params?.name !== 'list_notes')
    return refuse(reply, call?.id)
  return { jsonrpc: '2.0', id: call.id, result: await notes(token!) }
})
// In (g)'s context: its headers, CORS and rate limit apply.
const required = async (required: FastifyInstance) => {
  required.addHook('onRequest', (_req, reply, done) => {
    reply.header('x-request-id', randomUUID())
    done()
  })
  const registry = new Registry()
  const requests = new Counter({ name: 'r', help: 'r', labelNames: ['route', 'status'], registers: [registry] })
  const checks = new Counter({ name: 'b', help: 'b', labelNames: ['outcome'], registers: [registry] })
  const latency = new Histogram({ name: 'u', help: 'u', labelNames: ['outcome'], registers: [registry] })
  required.addHook('onResponse', (req, reply, done) => {
    requests.inc({ route: req.routeOptions.url ?? '', status: String(reply.statusCode) })
    done()
  })
  const bounded = new Pool(upstream, { connections: 64, headersTimeout: 30_000, bodyTimeout: 30_000 })
  const validate = new AjvJsonSchemaValidator().getValidator({ type: 'object', properties: {} })
  const hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`])
  required.post('/required/mcp', async (req, reply) => {
    const origin = req.headers.origin
    if (!hosts.has(req.headers.host ?? '') || (origin !== undefined && origin !== `http://localhost:${port}`))
      return reply.code(403).send({ error: 'forbidden' })
    const token = bearer(req.headers.authorization)
    const key = lookup(token)
    checks.inc({ outcome: key ? 'ok' : 'unknown' })
    if (!key) return reply.code(401).send({ error: 'invalid_token' })
    const accept = req.headers.accept ?? ''
    if (!accept.includes('application/json') || !accept.includes('text/event-stream'))
      return reply.code(406).send({ error: 'not acceptable' })
    if (!req.headers['content-type']?.startsWith('application/json'))
      return reply.code(415).send({ error: 'unsupported media type' })
    const version = req.headers['mcp-protocol-version']
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(String(version)))
      return reply.code(400).send({ error: 'unsupported protocol version' })
    const call = checkedCall(req.body)
    if (!call) return refuse(reply, (req.body as Call)?.id)
    if (!key.scopes.split(' ').includes('read')) return reply.code(403).send({ error: 'insufficient_scope' })
    const { id } = call
    if (!validate(call.args).valid)
      return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'bad arguments' }], isError: true } }
    const started = performance.now()
    const res = await bounded.request({
      method: 'GET',
      path: '/api/v1/notes',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    })
    if (Number(res.headers['content-length']) > 10_000_000) throw new Error('too large')
    const text = await res.body.text()
    latency.observe({ outcome: res.statusCode < 400 ? 'ok' : 'error' }, (performance.now() - started) / 1000)
    const result = CallToolResultSchema.parse({
      content: [{ type: 'text', text }],
      structuredContent: JSON.parse(text),
      isError: res.statusCode >= 400,
    })
    return { jsonrpc: '2.0', id, result }
  })
}
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
  await guarded.register(required)
  guarded.post('/guarded/mcp', async (req, reply) => {
    const token = bearer(req.headers.authorization)
    if (!lookup(token)) return reply.code(401).send({ error: 'invalid_token' })
    const call = checkedCall(req.body)
    if (!call) return refuse(reply, (req.body as Call)?.id)
    const result = CallToolResultSchema.parse(await notes(token!))
    return { jsonrpc: '2.0', id: call.id, result }
  })
})
await app.listen({ port, host: '127.0.0.1' })
process.stdout.write('ready\n')
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
