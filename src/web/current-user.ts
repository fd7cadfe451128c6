// The signed-in user, from the session cookie.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { User } from '../store/types.js'
import { readSession } from './session.js'

export async function currentUser(app: FastifyInstance, req: FastifyRequest): Promise<User | null> {
  const session = await readSession(app, req)
  if (!session?.userId) return null
  return (await app.store.users.byId(session.userId)) ?? null
}
