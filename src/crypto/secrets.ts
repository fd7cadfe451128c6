// Signing keys derived from the server secret with HKDF (RFC 5869), one label per use, so
// that a session cookie can never pass as an authorization code and vice versa. Each key
// carries a kid derived from the secret; old secrets stay accepted for verification while
// they are listed in KEYGATE_PREVIOUS_SECRETS (rotation).
import { createHash, createSecretKey, hkdfSync, type KeyObject, webcrypto } from 'node:crypto'

export type Purpose = 'authorization-code' | 'session' | 'csrf' | 'signin-throttle' | 'signing-key-encryption'

/**
 * A derived key: as a KeyObject for node:crypto (HMACs, AES-GCM), and for jose's HS256 as a
 * WebCrypto key made once (jose exports a secret KeyObject's bytes and imports them into
 * WebCrypto again at every signature and verification: 7% of a code exchange).
 */
export type SigningKey = {
  kid: string
  key: KeyObject
  /** The same key as a non-extractable WebCrypto HMAC-SHA-256 key, for jose. */
  hs256(): Promise<CryptoKey>
}

export type Keyring = {
  /** The key new tokens are signed with (from the current secret). */
  current: SigningKey
  /** Looks a verification key up by kid: the current secret or a previous one. */
  find(kid: string | undefined): SigningKey | undefined
}

function derive(secret: string, purpose: Purpose): SigningKey {
  const bytes = Buffer.from(hkdfSync('sha256', secret, 'keygate', `keygate ${purpose} v1`, 32))
  const kid = createHash('sha256').update(bytes).digest('base64url').slice(0, 16)
  let hs256: Promise<CryptoKey> | undefined
  return {
    kid,
    key: createSecretKey(bytes),
    hs256: () => {
      hs256 ??= webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
      return hs256
    },
  }
}

export function keyring(purpose: Purpose, secret: string, previous: readonly string[]): Keyring {
  const current = derive(secret, purpose)
  const all = new Map([current, ...previous.map((s) => derive(s, purpose))].map((k) => [k.kid, k]))
  return { current, find: (kid) => (kid === undefined ? undefined : all.get(kid)) }
}
