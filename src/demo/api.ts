// The built-in demo API at /api/v1, standing in for a product's own REST API. It
// authenticates like an existing product would: it looks the Bearer key up in the same
// api_keys table (through the store), honours the key's scopes, and scopes every note to
// the key's account.

import type { FastifyInstance, FastifyRequest } from 'fastify'
import { bearerToken } from '../keys/bearer.js'
import { lookUpKey } from '../keys/lookup.js'
import { ApiError } from '../shared/errors.js'
import { fieldsOf } from '../shared/request-fields.js'
import type { ApiKey, Note } from '../store/types.js'
import { DEMO_OPENAPI } from './openapi.js'

const MAX_TITLE = 200
const MAX_BODY = 10_000

const notFound = (): never => {
  throw new ApiError(404, 'no such note')
}

const noteJson = (n: Note) => ({ id: n.id, title: n.title, body: n.body, created_at: n.createdAt })

async function keyWithScope(
  app: FastifyInstance,
  req: FastifyRequest,
  scope: string,
): Promise<ApiKey & { accountId: number }> {
  const { outcome, key } = await lookUpKey(app, bearerToken(req), null)
  if (outcome !== 'ok') {
    const detail = outcome === 'missing' ? 'an API key is required' : `the API key is ${outcome}`
    throw new ApiError(401, detail, { headers: { 'www-authenticate': 'Bearer realm="api"' } })
  }
  if (!key!.scopes.includes(scope)) throw new ApiError(403, `this API key lacks the ${scope} scope`)
  // A key the product made, in an account no one has signed in to keygate from: no notes here.
  if (key!.accountId === null) throw new ApiError(403, 'this API key belongs to no account keygate knows')
  return key as ApiKey & { accountId: number }
}

const API = { config: { kind: 'api' as const } }

function noteId(req: FastifyRequest): number | null {
  const raw = fieldsOf(req.params)?.id
  return typeof raw === 'string' && /^\d{1,12}$/.test(raw) && Number(raw) > 0 ? Number(raw) : null
}

export default async function demoApi(app: FastifyInstance): Promise<void> {
  app.get('/api/v1/openapi.json', API, async () => DEMO_OPENAPI)

  app.get('/api/v1/notes', API, async (req) => {
    const key = await keyWithScope(app, req, 'read')
    return { notes: (await app.store.notes.list(key.accountId)).map(noteJson) }
  })

  app.get('/api/v1/notes/:id', API, async (req) => {
    const key = await keyWithScope(app, req, 'read')
    const id = noteId(req)
    const note = id === null ? undefined : await app.store.notes.get(key.accountId, id)
    return note ? noteJson(note) : notFound()
  })

  app.post('/api/v1/notes', { ...API, bodyLimit: 32 * 1024 }, async (req, reply) => {
    const key = await keyWithScope(app, req, 'write')
    const body = fieldsOf(req.body)
    const title = body?.title
    const text = body?.body ?? ''
    if (typeof title !== 'string' || title.trim() === '' || title.length > MAX_TITLE)
      throw new ApiError(400, `title must be a string of 1-${MAX_TITLE} characters`)
    if (typeof text !== 'string' || text.length > MAX_BODY)
      throw new ApiError(400, `body must be a string of at most ${MAX_BODY} characters`)
    // U+0000 cannot be stored in PostgreSQL text; refused on every database alike.
    if (title.includes('\u0000') || text.includes('\u0000'))
      throw new ApiError(400, 'title and body must not contain U+0000')
    const note = await app.store.notes.create({ accountId: key.accountId, title, body: text, createdAt: app.now() })
    return reply.code(201).send(noteJson(note))
  })

  app.delete('/api/v1/notes/:id', API, async (req, reply) => {
    const key = await keyWithScope(app, req, 'write')
    const id = noteId(req)
    const removed = id !== null && (await app.store.notes.remove(key.accountId, id))
    return removed ? reply.code(204).send() : notFound()
  })
}
