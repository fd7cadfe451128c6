// A stand-in product API on a real local port, with an OpenAPI document, a request log and
// endpoints that misbehave on purpose.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import type { Test } from '../helper.js'

export const UPSTREAM_OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'upstream', version: '1' },
  paths: {
    '/items': {
      get: {
        operationId: 'list_items',
        summary: 'List items',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
          { name: 'X-Trace', in: 'header', schema: { type: 'string' } },
        ],
        responses: {},
      },
      post: {
        operationId: 'create_item',
        summary: 'Create an item',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', properties: { name: { type: 'string' } } } } },
        },
        responses: {},
      },
    },
    '/items/{id}': {
      delete: {
        operationId: 'delete_item',
        summary: 'Delete an item',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {},
      },
    },
    '/fault/{kind}': {
      get: {
        operationId: 'fault',
        summary: 'Misbehave',
        parameters: [{ name: 'kind', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {},
      },
    },
    '/hidden': { get: { operationId: 'hidden', 'x-mcp': false, summary: 'Not a tool', responses: {} } },
  },
}

export type SeenRequest = { method: string; url: string; headers: Record<string, unknown>; body: unknown }

export async function startUpstream(t: Test, dir: string) {
  const seen: SeenRequest[] = []
  // Requests to /fault/pause: whether the caller hung up before the answer was ready.
  const paused: Array<{ hungUp: boolean }> = []
  const app = Fastify()
  app.addHook('onRequest', async (req) => {
    seen.push({ method: req.method, url: req.url, headers: { ...req.headers }, body: undefined })
  })
  app.addHook('preHandler', async (req) => {
    seen[seen.length - 1]!.body = req.body
  })
  app.get('/v1/items', async (req) => ({ items: [{ id: 'a' }], query: req.query }))
  app.post('/v1/items', async (req, reply) => reply.code(201).send({ created: req.body }))
  app.delete('/v1/items/:id', async (_req, reply) => reply.code(204).send())
  app.get('/v1/fault/:kind', async (req, reply) => {
    const { kind } = req.params as { kind: string }
    if (kind === '500') return reply.code(500).send({ error: 'boom', detail: 'x'.repeat(5000) })
    if (kind === '404') return reply.code(404).send({ error: 'nope' })
    if (kind === 'slow') {
      await new Promise((r) => setTimeout(r, 3000))
      return { late: true }
    }
    if (kind === 'pause') {
      const entry = { hungUp: false }
      paused.push(entry)
      reply.raw.once('close', () => {
        entry.hungUp = !reply.raw.writableFinished
      })
      await new Promise((r) => setTimeout(r, 400))
      return { paused: true }
    }
    if (kind === 'huge') return reply.type('application/json').send(JSON.stringify({ data: 'y'.repeat(300_000) }))
    if (kind === 'hugechunked' || kind === 'drip' || kind === 'driplength') {
      // Written piece by piece: the size (or the time) only shows while the body is read.
      // Only driplength declares its length up front; the others are chunked.
      const piece = kind === 'hugechunked' ? 10_000 : 1000
      const framing =
        kind === 'driplength'
          ? { 'content-length': String('{"data":"'.length + 30 * piece + '"}'.length) }
          : { 'transfer-encoding': 'chunked' }
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'application/json', ...framing })
      reply.raw.write('{"data":"')
      for (let i = 0; i < 30 && !reply.raw.destroyed; i++) {
        if (kind !== 'hugechunked') await new Promise((r) => setTimeout(r, 100))
        reply.raw.write('z'.repeat(piece))
      }
      reply.raw.end('"}')
      return reply
    }
    if (kind === 'badjson') return reply.type('application/json').send('{"not": json')
    if (kind === 'text') return reply.type('text/plain').send('plain words')
    if (kind === 'array') return [1, 2, 3]
    return reply.code(400).send({ error: 'unknown fault' })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  const openapiFile = join(dir, 'upstream-openapi.json')
  writeFileSync(openapiFile, JSON.stringify(UPSTREAM_OPENAPI))
  return { url: `http://127.0.0.1:${port}/v1`, openapiFile, seen, paused }
}
