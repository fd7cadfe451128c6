// Signing keys derived from the server secret with HKDF (RFC 5869), one label per use, so
// that a session cookie can never pass as an authorization code and vice versa. Each key
// carries a kid derived from the secret; old secrets stay accepted for verification while
// they are listed in KEYGATE_PREVIOUS_SECRETS (rotation).
import { createHash, hkdfSync } from 'node:crypto'

export type Purpose = 'authorization-code' | 'session' | 'csrf' | 'signin-throttle' | 'signing-key-encryption'

export type SigningKey = { kid: string; key: Uint8Array }

export type Keyring = {
  /** The key new tokens are signed with (from the current secret). */
  current: SigningKey
  /** Looks a verification key up by kid: the current secret or a previous one. */
  find(kid: string | undefined): SigningKey | undefined
}

function derive(secret: string, purpose: Purpose): SigningKey {
  const key = new Uint8Array(hkdfSync('sha256', secret, 'keygate', `keygate ${purpose} v1`, 32))
  const kid = createHash('sha256').update(key).digest('base64url').slice(0, 16)
  return { kid, key }
}

export function keyring(purpose: Purpose, secret: string, previous: readonly string[]): Keyring {
  const current = derive(secret, purpose)
  const all = new Map([current, ...previous.map((s) => derive(s, purpose))].map((k) => [k.kid, k]))
  return { current, find: (kid) => (kid === undefined ? undefined : all.get(kid)) }
}
