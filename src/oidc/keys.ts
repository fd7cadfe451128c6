// The keys that sign ID tokens: ES256 by default, RS256 for relying parties that ask for it
// (id_token_signed_response_alg). Made at first use, stored in the database (so every
// instance signs with the same key and publishes the same JWKS) with the private half
// encrypted (AES-256-GCM) under a key derived from KEYGATE_SECRET. Rotation publishes the
// new key first and signs with it only after a grace period (relying parties refresh their
// JWKS meanwhile); the old key stays published until the last ID token it signed expires.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose'

type KeyLike = CryptoKey

import type { Keyring } from '../crypto/secrets.js'
import type { SigningKeyRow, SigningKeyStore } from '../store/signing.js'

export type Alg = 'ES256' | 'RS256'
export const ALGS: Alg[] = ['ES256', 'RS256']

/** How long instances keep the key list before reading it again. */
const CACHE_SECONDS = 30

function encrypt(keyring: Keyring, plaintext: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', keyring.current.key, iv)
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return [keyring.current.kid, iv, body, cipher.getAuthTag()]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.')
}

function decrypt(keyring: Keyring, sealed: string): string {
  const [kid, iv, body, tag] = sealed.split('.')
  const key = keyring.find(kid)
  if (!key || !iv || !body || !tag)
    throw new Error('a signing key is encrypted under a secret that is not configured (KEYGATE_PREVIOUS_SECRETS)')
  const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
}

async function newKey(keyring: Keyring, alg: Alg, now: number, signFrom: number): Promise<SigningKeyRow> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true })
  const kid = randomBytes(12).toString('base64url')
  const pub = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  return {
    kid,
    alg,
    publicJwk: JSON.stringify(pub),
    privateJwk: encrypt(keyring, JSON.stringify(await exportJWK(privateKey))),
    createdAt: now,
    signFrom,
    retireAt: null,
  }
}

/** The key that signs now: of those already signing, the newest (ties: the smallest kid, the same on every instance). */
function signingOf(rows: SigningKeyRow[], alg: Alg, now: number): SigningKeyRow | undefined {
  return rows
    .filter((r) => r.alg === alg && r.signFrom <= now && (r.retireAt === null || r.retireAt > now))
    .sort((a, b) => b.signFrom - a.signFrom || (a.kid < b.kid ? -1 : 1))[0]
}

export type Signer = { kid: string; alg: Alg; key: KeyLike | Uint8Array }

export type SigningKeys = {
  /** The key to sign with now, made first if there is none of that algorithm. */
  signer(alg: Alg): Promise<Signer>
  /** Every published public key. */
  jwks(): Promise<{ keys: JWK[] }>
}

export function signingKeys(store: SigningKeyStore, keyring: Keyring, now: () => number): SigningKeys {
  let cached: { rows: SigningKeyRow[]; until: number } | undefined
  const imported = new Map<string, KeyLike | Uint8Array>()

  async function rows(fresh = false): Promise<SigningKeyRow[]> {
    const t = now()
    if (!fresh && cached && cached.until > t) return cached.rows
    cached = { rows: await store.live(t), until: t + CACHE_SECONDS }
    return cached.rows
  }

  return {
    async signer(alg) {
      const t = now()
      let row = signingOf(await rows(), alg, t) ?? signingOf(await rows(true), alg, t)
      if (!row) {
        // First use: instances starting together may each make one; all are published, and
        // every instance picks the same one to sign with.
        await store.insert(await newKey(keyring, alg, t, t))
        row = signingOf(await rows(true), alg, t)!
      }
      let key = imported.get(row.kid)
      if (!key) {
        key = await importJWK(JSON.parse(decrypt(keyring, row.privateJwk)) as JWK, alg)
        imported.set(row.kid, key)
      }
      return { kid: row.kid, alg, key }
    },
    async jwks() {
      return { keys: (await rows()).map((r) => JSON.parse(r.publicJwk) as JWK) }
    },
  }
}

/**
 * `keygate keys rotate`: a new key of `alg`, published now and signing from now + grace; the
 * keys it replaces stay published until then plus the longest an ID token lives.
 */
export async function rotate(
  store: SigningKeyStore,
  keyring: Keyring,
  alg: Alg,
  now: number,
  graceSeconds: number,
  idTokenTtl: number,
): Promise<{ kid: string; signFrom: number; retired: Array<{ kid: string; at: number }> }> {
  const current = (await store.live(now)).filter((r) => r.alg === alg && r.retireAt === null)
  const key = await newKey(keyring, alg, now, now + graceSeconds)
  await store.insert(key)
  const at = key.signFrom + idTokenTtl
  const retired = []
  for (const r of current) if (await store.retire(r.kid, at)) retired.push({ kid: r.kid, at })
  return { kid: key.kid, signFrom: key.signFrom, retired }
}
