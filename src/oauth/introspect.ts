// RFC 7662 introspection, for the product's own API servers. Callers authenticate with
// HTTP Basic as a configured resource server (KEYGATE_RESOURCE_SERVERS) or as a confidential
// client allowed to introspect (`"introspect": true` in KEYGATE_CLIENTS_FILE). Anything
// revoked, expired, unknown or malformed is just {"active": false}.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { safeEqual, sha256Hex } from '../crypto/compare.js'
import { findToken } from '../keys/lookup.js'
import { limit } from '../plugins/rate-limit.js'
import { OAuthError } from '../shared/errors.js'
import { parseBasic } from './client-auth.js'
import { introspectForm, parseOAuth } from './params.js'

const unauthorized = (description: string) =>
  new OAuthError('invalid_client', description, 401, {
    'www-authenticate': 'Basic realm="keygate introspection", charset="UTF-8"',
  })

function basicCredentials(req: FastifyRequest): { id: string; secret: string } {
  const header = req.headers.authorization
  if (!header || !/^basic /i.test(header)) throw unauthorized('introspection requires HTTP Basic authentication')
  return parseBasic(header, 'keygate introspection')
}

async function authenticateResourceServer(app: FastifyInstance, req: FastifyRequest): Promise<string> {
  const { id, secret } = basicCredentials(req)
  const hash = sha256Hex(secret)
  const configured = app.config.resourceServers.get(id)
  if (configured !== undefined) {
    if (safeEqual(hash, configured)) return id
    throw unauthorized('introspection credentials are wrong')
  }
  const client = await app.store.clients.byId(id)
  if (!client || client.clientSecretHash === null || !safeEqual(hash, client.clientSecretHash))
    throw unauthorized('introspection credentials are wrong')
  if (client.metadata.introspect !== true)
    throw new OAuthError('unauthorized_client', 'this client may not introspect tokens', 403)
  return id
}

export default async function introspectRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/introspect',
    { bodyLimit: 16 * 1024, config: { kind: 'oauth', ...limit(app, 'token') } },
    async (req, reply) => {
      reply.header('cache-control', 'no-store')
      await authenticateResourceServer(app, req)
      const { token } = parseOAuth(introspectForm, req.body)
      const found = await findToken(app, token)
      const now = app.now()
      if (!found || found.key.revokedAt !== null) return { active: false }
      const { key } = found
      const exp = found.kind === 'refresh_token' ? found.refresh.expiresAt : key.expiresAt
      if (exp !== null && exp <= now) return { active: false }
      if (
        found.kind === 'refresh_token' &&
        found.refresh.rotatedAt !== null &&
        now - found.refresh.rotatedAt > app.config.refreshGraceSeconds
      )
        return { active: false }
      // Who and where: the person (username, name) and the account (the product's id and
      // name, and the person's role in it now).
      const user = key.userId === null ? undefined : await app.store.users.byId(key.userId)
      const account = key.accountId === null ? undefined : await app.store.accounts.byId(key.accountId)
      const role = user && account ? await app.store.accounts.roleOf(user.id, account.id) : undefined
      return {
        active: true,
        scope: key.scopes.join(' '),
        ...(key.clientId !== null ? { client_id: key.clientId } : {}),
        ...(key.userId !== null ? { sub: String(key.userId) } : {}),
        ...(user ? { username: user.email, name: user.name } : {}),
        ...(key.accountId !== null ? { account_id: String(key.accountId) } : {}),
        ...(account ? { account_name: account.name } : {}),
        ...(account?.externalId ? { account_external_id: account.externalId } : {}),
        ...(role ? { account_role: role } : {}),
        iat: found.kind === 'refresh_token' ? found.refresh.createdAt : key.createdAt,
        ...(exp !== null ? { exp } : {}),
        aud: key.resource ?? app.config.resource,
        iss: app.config.issuer,
        token_type: found.kind === 'refresh_token' ? 'refresh_token' : 'Bearer',
      }
    },
  )
}
