// keygate as an OpenID Provider: discovery (/.well-known/openid-configuration, consistent
// with the RFC 8414 document), the published signing keys (/jwks) and userinfo (GET and
// POST, the Bearer key; the claims its grant allows; 401 with the challenge /mcp gives).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { IDENTITY_SCOPES } from '../config/roles.js'
import { bearerToken, challenge, unauthorized } from '../keys/bearer.js'
import { classify, present } from '../keys/lookup.js'
import { limit } from '../plugins/rate-limit.js'
import { OAuthError } from '../shared/errors.js'
import { userClaims } from './id-token.js'
import { authorizationServerMetadata } from './metadata.js'
import { ALGS } from './signing-keys.js'

export const CLAIMS = [
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'at_hash',
  'email',
  'email_verified',
  'name',
]

export function openidConfiguration(app: FastifyInstance): Record<string, unknown> {
  const { issuer } = app.config
  return {
    ...authorizationServerMetadata(app),
    userinfo_endpoint: `${issuer}/userinfo`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ALGS,
    claims_supported: CLAIMS,
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  }
}

async function userinfo(app: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
  reply.header('cache-control', 'no-store')
  const { outcome, key } = await classify(app, present(app, bearerToken(req)), null)
  // The same 401s as /mcp.
  if (outcome !== 'ok') throw unauthorized(app, outcome)
  if (!key!.scopes.includes('openid')) {
    const description = 'userinfo needs the openid scope'
    throw new OAuthError('insufficient_scope', description, 403, {
      'www-authenticate': challenge(app, { error: 'insufficient_scope', description, scope: IDENTITY_SCOPES }),
    })
  }
  const user = key!.userId === null ? undefined : await app.store.users.byId(key!.userId)
  if (!user || user.disabledAt !== null) throw new OAuthError('invalid_token', 'the access token is not known', 401)
  return userClaims(user, key!.scopes)
}

export default async function oidcProviderRoutes(app: FastifyInstance): Promise<void> {
  const OAUTH = { config: { kind: 'oauth' as const } }
  const discovery = openidConfiguration(app)
  app.get('/.well-known/openid-configuration', OAUTH, async (_req, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(discovery),
  )
  app.get('/jwks', OAUTH, async (_req, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(await app.signingKeys.jwks()),
  )
  const USERINFO = { config: { kind: 'oauth' as const, ...limit(app, 'token') } }
  app.get('/userinfo', USERINFO, (req, reply) => userinfo(app, req, reply))
  app.post('/userinfo', USERINFO, (req, reply) => userinfo(app, req, reply))
}
