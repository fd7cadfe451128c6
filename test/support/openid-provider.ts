// A real OpenID Provider for tests: panva's oidc-provider (OpenID Certified) on a local port,
// with its development login and consent pages (any login, any password: the login is the
// person's sub). Its people's claims are what the test puts in `people`.
import Provider from 'oidc-provider'
import type { Test } from '../helper.js'
import { freePort } from './http.js'

export type Person = { email: string; email_verified?: boolean; name?: string; accounts?: unknown }

export const OIDC_CLIENT_ID = 'keygate'
export const OIDC_CLIENT_SECRET = 'keygate-client-secret-0123456789-abcdefgh'

/** A port for the provider: keygate is configured with its issuer before it starts. */
export const providerPort = freePort

export async function startOpenIdProvider(t: Test, port: number, keygateIssuer: string) {
  const issuer = `http://127.0.0.1:${port}`
  const people = new Map<string, Person>()
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: OIDC_CLIENT_ID,
        client_secret: OIDC_CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_post',
        redirect_uris: [`${keygateIssuer}/login/oidc/callback`],
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'accounts'],
    claims: { email: ['email', 'email_verified'], profile: ['name'], accounts: ['accounts'] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, ...(people.get(sub) ?? { email: `${sub}@idp.example` }) }),
    }),
  })
  const server = provider.listen(port)
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { issuer, people }
}
