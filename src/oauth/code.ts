// Authorization codes without a code table: a compact JWS (HS256, jose) whose claims bind
// everything /token must check. The key is derived from the server secret for this use
// only, and the kid header names the secret, so codes signed before a rotation still
// verify while the old secret is listed. Lifetime 60 s. Single use is enforced by
// api_keys.grant_id (the code's jti) being UNIQUE: see token.ts.
import { randomBytes } from 'node:crypto'
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from 'jose'
import type { Keyring } from '../crypto/secrets.js'
import { OAuthError } from '../shared/errors.js'

export const CODE_LIFETIME_SECONDS = 60
const TYP = 'kg-code+jwt'

export type CodeClaims = {
  clientId: string
  redirectUri: string
  codeChallenge: string
  userId: number
  accountId: number
  scopes: string[]
  resource: string
  /** created_at of the consent the code was issued under: /token requires that very consent. */
  consentCreatedAt: number
  /** OpenID Connect: the authorization request's nonce, echoed in the ID token. */
  nonce?: string
  /** OpenID Connect: when the person signed in (Unix seconds). */
  authTime?: number
  jti: string
}

export async function signCode(
  keys: Keyring,
  issuer: string,
  claims: Omit<CodeClaims, 'jti'>,
  now: number,
): Promise<string> {
  return new SignJWT({
    cid: claims.clientId,
    ruri: claims.redirectUri,
    cc: claims.codeChallenge,
    acc: claims.accountId,
    scope: claims.scopes.join(' '),
    res: claims.resource,
    cst: claims.consentCreatedAt,
    ...(claims.nonce !== undefined ? { nonce: claims.nonce } : {}),
    ...(claims.authTime !== undefined ? { at: claims.authTime } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', kid: keys.current.kid, typ: TYP })
    .setIssuer(issuer)
    .setSubject(String(claims.userId))
    .setJti(randomBytes(16).toString('base64url'))
    .setIssuedAt(now)
    .setExpirationTime(now + CODE_LIFETIME_SECONDS)
    .sign(await keys.current.hs256())
}

const invalid = (description: string) => new OAuthError('invalid_grant', description)

export async function verifyCode(keys: Keyring, issuer: string, code: string, now: number): Promise<CodeClaims> {
  if (code.length > 4096) throw invalid('authorization code is malformed')
  let kid: string | undefined
  try {
    kid = decodeProtectedHeader(code).kid
  } catch {
    throw invalid('authorization code is malformed')
  }
  const key = keys.find(kid)
  if (!key) throw invalid('authorization code was not issued by this server (unknown signing key)')
  try {
    const { payload: p } = await jwtVerify(code, await key.hs256(), {
      algorithms: ['HS256'],
      typ: TYP,
      issuer,
      currentDate: new Date(now * 1000),
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
    })
    const ok =
      typeof p.cid === 'string' &&
      typeof p.ruri === 'string' &&
      typeof p.cc === 'string' &&
      typeof p.acc === 'number' &&
      typeof p.scope === 'string' &&
      typeof p.res === 'string' &&
      typeof p.jti === 'string' &&
      typeof p.cst === 'number'
    if (!ok) throw invalid('authorization code is malformed')
    return {
      clientId: p.cid as string,
      redirectUri: p.ruri as string,
      codeChallenge: p.cc as string,
      userId: Number(p.sub),
      accountId: p.acc as number,
      scopes: (p.scope as string).split(' ').filter(Boolean),
      resource: p.res as string,
      consentCreatedAt: p.cst as number,
      ...(typeof p.nonce === 'string' ? { nonce: p.nonce } : {}),
      ...(typeof p.at === 'number' ? { authTime: p.at } : {}),
      jti: p.jti!,
    }
  } catch (err) {
    if (err instanceof OAuthError) throw err
    if (err instanceof errors.JWTExpired) throw invalid('authorization code has expired')
    if (err instanceof errors.JWSSignatureVerificationFailed) throw invalid('authorization code signature is invalid')
    throw invalid('authorization code is invalid')
  }
}
