// The signed-in user, from the session cookie: a valid signature, a user that still exists
// and is not disabled, and a session issued after the user last signed out (sign-out voids copied cookies too).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { User } from '../store/types.js'
import { readSession } from './session.js'

export async function currentUser(app: FastifyInstance, req: FastifyRequest): Promise<User | null> {
  const session = await readSession(app, req)
  if (!session?.userId) return null
  const [user, validAfter] = await Promise.all([
    app.store.users.byId(session.userId),
    app.store.sessions.validAfter(session.userId),
  ])
  if (!user || user.disabledAt !== null || session.issuedMs <= validAfter) return null
  return user
}
