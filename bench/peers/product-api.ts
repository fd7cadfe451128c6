// The product's API, in a process of its own: what every path of the benchmark calls in the
// end. GET /api/v1/notes answers five notes to any bearer; /api/v1/openapi.json describes it
// (keygate's tools are made from it).
import Fastify from 'fastify'

const port = Number(process.argv[2])
const notes = Array.from({ length: 5 }, (_, i) => ({ id: i + 1, title: `note ${i}`, body: 'x'.repeat(200) }))
const app = Fastify()
app.get('/api/v1/openapi.json', async () => ({
  openapi: '3.0.3',
  info: { title: 'bench', version: '1' },
  paths: {
    '/notes': {
      get: { operationId: 'list_notes', summary: 'List notes', responses: { '200': { description: 'The notes' } } },
    },
  },
}))
app.get('/api/v1/notes', async (req, reply) => {
  if (!req.headers.authorization) return reply.code(401).send({ error: 'no key' })
  return { notes }
})
await app.listen({ port, host: '127.0.0.1' })
process.stdout.write('ready\n')
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
