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

/**
 * The key that signs now: of those already signing, one not being retired before one that is,
 * then the newest (ties: the smallest kid, the same on every instance).
 */
function signingOf(rows: SigningKeyRow[], alg: Alg, now: number): SigningKeyRow | undefined {
  return rows
    .filter((r) => r.alg === alg && r.signFrom <= now && (r.retireAt === null || r.retireAt > now))
    .sort(
      (a, b) =>
        Number(a.retireAt !== null) - Number(b.retireAt !== null) ||
        b.signFrom - a.signFrom ||
        (a.kid < b.kid ? -1 : 1),
    )[0]
}

export type Signer = { kid: string; alg: Alg; key: KeyLike | Uint8Array }

export type SigningKeys = {
  /** The key to sign with now, made first if there is none of that algorithm. */
  signer(alg: Alg): Promise<Signer>
  /** Every published public key. */
  jwks(): Promise<{ keys: JWK[] }>
}

export function signingKeys(
  store: SigningKeyStore,
  keyring: Keyring,
  now: () => number,
  idTokenTtl: number,
): SigningKeys {
  let cached: { rows: SigningKeyRow[]; until: number } | undefined
  const imported = new Map<string, KeyLike | Uint8Array>()

  async function rows(fresh = false): Promise<SigningKeyRow[]> {
    const t = now()
    if (!fresh && cached && cached.until > t) return cached.rows
    const live = await store.live(t)
    // Read again when a rotated key starts signing, so no instance signs with the old key after that.
    const next = Math.min(...live.map((r) => r.signFrom).filter((f) => f > t), t + CACHE_SECONDS)
    cached = { rows: live, until: next }
    return live
  }

  async function importKey(row: SigningKeyRow, alg: Alg): Promise<KeyLike | Uint8Array | undefined> {
    let jwk: string
    try {
      jwk = decrypt(keyring, row.privateJwk)
    } catch {
      return undefined
    }
    return importJWK(JSON.parse(jwk) as JWK, alg)
  }

  return {
    async signer(alg) {
      for (;;) {
        const t = now()
        const row = signingOf(await rows(), alg, t) ?? signingOf(await rows(true), alg, t)
        if (!row) {
          // First use. Instances starting together make one key between them (the insert is
          // serialized and made only while none signs), so all sign with the same key.
          await store.insertIfNone(await newKey(keyring, alg, t, t), t)
          cached = undefined
          continue
        }
        const key = imported.get(row.kid) ?? (await importKey(row, alg))
        if (key) {
          imported.set(row.kid, key)
          return { kid: row.kid, alg, key }
        }
        // Sealed under a secret no longer configured (KEYGATE_SECRET changed without listing
        // the old one): it can sign no more. It stays published while its tokens live, and a
        // new key takes over at once (unless another instance has made one already).
        await store.retire(row.kid, t + idTokenTtl)
        await store.insertIfNone(await newKey(keyring, alg, t, t), t)
        cached = undefined
      }
    },
    async jwks() {
      // Read each time: a rotated key is published on every instance at once (HTTP caching
      // of /jwks keeps the reads few).
      return { keys: (await rows(true)).map((r) => JSON.parse(r.publicJwk) as JWK) }
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

declare module 'fastify' {
  interface FastifyInstance {
    signingKeys: SigningKeys
  }
}
