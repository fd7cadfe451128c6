// Password hashing with scrypt (node:crypto). Stored as scrypt$N$r$p$salt$hash, base64url.
// N is KEYGATE_SCRYPT_COST (16384 by default, the least allowed in production); a hash keeps
// the N it was made with, so changing the setting re-costs only new passwords.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto'

export const DEFAULT_SCRYPT_COST = 16384
const R = 8
const P = 1
const KEY_LENGTH = 32

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}

export async function hashPassword(password: string, cost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16)
  const key = await scryptAsync(password, salt, { N: cost, r: R, p: P })
  return ['scrypt', cost, R, P, salt.toString('base64url'), key.toString('base64url')].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  })
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

const dummies = new Map<number, Promise<string>>()

/**
 * A valid hash of a random password at `cost`: verifying against it costs as much as a real
 * one, so unknown emails take as long as known ones. Made on first use, not at import.
 */
export function dummyPasswordHash(cost = DEFAULT_SCRYPT_COST): Promise<string> {
  let dummy = dummies.get(cost)
  if (!dummy) {
    dummy = hashPassword(randomBytes(16).toString('hex'), cost)
    dummies.set(cost, dummy)
  }
  return dummy
}
