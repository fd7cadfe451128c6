// Discovery: RFC 8414 authorization server metadata and RFC 9728 protected resource
// metadata. issuer and authorization_servers[0] are byte-identical (no trailing slash):
// clients compare them exactly. Unknown /.well-known paths answer a JSON 404, never HTML,
// a redirect or a 5xx (the MCP SDK gives up on a 5xx).
import type { FastifyInstance } from 'fastify'
import { IDENTITY_SCOPES } from '../config/roles.js'
import { OAuthError } from '../shared/errors.js'
import { DEVICE_GRANT } from './client-metadata.js'

export function authorizationServerMetadata(app: FastifyInstance): Record<string, unknown> {
  const { issuer, scopes } = app.config
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    ...(app.config.registrationOpen ? { registration_endpoint: `${issuer}/register` } : {}),
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    // The API's scopes, and OpenID Connect's (keygate is also an OpenID Provider); with
    // refresh tokens, offline_access, which clients of OpenID-flavoured servers ask for to
    // get one (SEP-2207). It is accepted and otherwise ignored: whether a client gets a
    // refresh token follows its grant types. The protected resource's scopes never list it.
    scopes_supported: [
      ...scopes,
      ...IDENTITY_SCOPES,
      ...(app.config.accessTtl !== undefined ? ['offline_access'] : []),
    ],
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    device_authorization_endpoint: `${issuer}/device_authorization`,
    grant_types_supported: [
      'authorization_code',
      ...(app.config.accessTtl !== undefined ? ['refresh_token'] : []),
      DEVICE_GRANT,
    ],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    // Metadata documents are a way to register: closed registration closes it.
    client_id_metadata_document_supported: app.config.registrationOpen,
    service_documentation: app.config.brand.docsUrl ?? `${issuer}/connect`,
    ...(app.config.brand.privacyUrl ? { op_policy_uri: app.config.brand.privacyUrl } : {}),
  }
}

export function protectedResourceMetadata(app: FastifyInstance): Record<string, unknown> {
  const { issuer, resource, scopes, brand } = app.config
  return {
    resource,
    authorization_servers: [issuer],
    scopes_supported: scopes,
    bearer_methods_supported: ['header'],
    resource_name: brand.name,
    resource_documentation: brand.docsUrl ?? `${issuer}/connect`,
    ...(brand.privacyUrl ? { resource_policy_uri: brand.privacyUrl } : {}),
  }
}

const OAUTH = { config: { kind: 'oauth' as const } }

export default async function metadataRoutes(app: FastifyInstance): Promise<void> {
  const asMetadata = authorizationServerMetadata(app)
  const prMetadata = protectedResourceMetadata(app)
  const send = (body: unknown) => async (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply.header('cache-control', 'public, max-age=300').send(body)

  app.get('/.well-known/oauth-authorization-server', OAUTH, send(asMetadata))
  // The root document describes the resource named by the issuer (RFC 9728 §3.3: its
  // `resource` is the URL it was found for); keygate takes that name for its /mcp.
  app.get('/.well-known/oauth-protected-resource', OAUTH, send({ ...prMetadata, resource: app.config.issuer }))
  app.get('/.well-known/oauth-protected-resource/mcp', OAUTH, send(prMetadata))
  // /.well-known/openid-configuration: src/oidc/routes.ts.
  app.all('/.well-known/*', OAUTH, async () => {
    throw new OAuthError('not_found', 'no such metadata document on this server', 404)
  })
}
