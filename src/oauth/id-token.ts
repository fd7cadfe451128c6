// ID tokens (OpenID Connect Core §2, §3.1.3.6): signed with the signing key of the client's
// algorithm (id_token_signed_response_alg: ES256 by default, or RS256), for the person the
// grant is for, with the claims the granted scopes allow. The access token beside it is
// still the API key; at_hash binds the two.
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { SignJWT } from 'jose'
import type { Client, User } from '../store/types.js'
import { ALGS, type Alg } from './signing-keys.js'

export function algOf(client: Client): Alg {
  const asked = client.metadata.id_token_signed_response_alg
  return ALGS.includes(asked as Alg) ? (asked as Alg) : 'ES256'
}

/** at_hash: the left half of the access token's SHA-256 (both ES256 and RS256 use SHA-256), base64url. */
export function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest().subarray(0, 16).toString('base64url')
}

/** The claims the granted scopes allow (userinfo and the ID token share them). */
export function userClaims(user: User, scopes: string[]): Record<string, unknown> {
  return {
    sub: String(user.id),
    // Verified only when the identity provider or the product said so, or the operator trusts
    // what it says (KEYGATE_OIDC_TRUST_EMAIL, KEYGATE_HANDOFF_TRUST_EMAIL); keygate sends no mail.
    ...(scopes.includes('email') ? { email: user.email, email_verified: user.emailVerified } : {}),
    ...(scopes.includes('profile') ? { name: user.name } : {}),
  }
}

export async function idToken(
  app: FastifyInstance,
  client: Client,
  grant: { userId: number; scopes: string[]; nonce?: string; authTime?: number },
  accessToken: string,
): Promise<string | undefined> {
  const user = await app.store.users.byId(grant.userId)
  if (!user) return undefined
  const signer = await app.signingKeys.signer(algOf(client))
  const now = app.now()
  return new SignJWT({
    ...userClaims(user, grant.scopes),
    ...(grant.nonce !== undefined ? { nonce: grant.nonce } : {}),
    ...(grant.authTime !== undefined ? { auth_time: grant.authTime } : {}),
    at_hash: atHash(accessToken),
  })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT' })
    .setIssuer(app.config.issuer)
    .setAudience(client.clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + app.config.idTokenTtl)
    .sign(signer.key)
}
