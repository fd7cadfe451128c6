// RFC 7009 revocation. The client authenticates as at /token; revoking an access token (a
// key) or a refresh token revokes that key and every key of its grant. A token issued to
// another client is refused and left alone; an unknown token answers 200 (RFC 7009 §2.2).
// When the client holds no live key for the user any more, its consent is deleted: the app
// leaves the user's "Connected apps", as if they had disconnected it.
import type { FastifyInstance } from 'fastify'
import { findToken } from '../keys/lookup.js'
import { limit } from '../plugins/rate-limit.js'
import { audit } from '../shared/audit.js'
import { OAuthError } from '../shared/errors.js'
import { authenticateClient } from './client-auth.js'
import { parseOAuth, revokeForm } from './params.js'

export default async function revokeRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/revoke',
    { bodyLimit: 16 * 1024, config: { kind: 'oauth', ...limit(app, 'token') } },
    async (req, reply) => {
      reply.header('cache-control', 'no-store')
      const form = parseOAuth(revokeForm, req.body)
      const client = await authenticateClient(app, req, form)
      const found = await findToken(app, form.token)
      if (!found) return reply.code(200).send({})
      if (found.key.clientId !== client.clientId)
        throw new OAuthError('invalid_request', 'the token was not issued to this client')
      const revoked = await app.store.keys.revokeFamily(found.key, app.now())
      if (revoked > 0) {
        await audit(app, req, {
          event: 'key_revoked',
          accountId: found.key.accountId,
          subject: String(found.key.id),
          detail: { via: 'revocation_endpoint', client_id: client.clientId, keys: revoked },
        })
      }
      // The app let go of its last live key for this user: it is disconnected (consent gone).
      const { userId } = found.key
      const dropped = userId !== null && (await app.store.consents.disconnectIfIdle(userId, client.clientId, app.now()))
      if (dropped)
        await audit(app, req, {
          event: 'app_disconnected',
          accountId: dropped.accountId,
          actorUserId: userId,
          subject: client.clientId,
          detail: { via: 'revocation_endpoint', scopes: dropped.scopes },
        })
      return reply.code(200).send({})
    },
  )
}
