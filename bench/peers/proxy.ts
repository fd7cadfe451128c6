// Peers (d) and (e): a plain Fastify reverse proxy to the product's API (one hop, no auth, no
// MCP), and under /checked/ the same hop after the same key lookup as the other peers.
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { Pool } from 'undici'
import { bearer, keyLookup } from './lookup.js'

const [port, dbPath, upstream] = [Number(process.argv[2]), process.argv[3]!, process.argv[4]!]
const lookup = keyLookup(dbPath)
const pool = new Pool(upstream, { connections: 64 })
const proxy = Fastify()
async function forward(path: string, req: FastifyRequest, reply: FastifyReply) {
  const res = await pool.request({
    method: req.method as 'GET',
    path,
    headers: { authorization: req.headers.authorization ?? '', accept: 'application/json' },
  })
  reply.code(res.statusCode).header('content-type', res.headers['content-type'] ?? 'application/json')
  return reply.send(await res.body.text())
}
proxy.all('/*', async (req, reply) => forward(req.url, req, reply))
proxy.all('/checked/*', async (req, reply) => {
  if (!lookup(bearer(req.headers.authorization))) return reply.code(401).send({ error: 'unknown key' })
  return forward(req.url.slice('/checked'.length), req, reply)
})
await proxy.listen({ port, host: '127.0.0.1' })
process.stdout.write('ready\n')
process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)))
