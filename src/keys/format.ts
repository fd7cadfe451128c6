// The token format. A key's token (the raw bearer string) is PREFIX + 43 base62 characters
// (32 random bytes) + 6 base62 characters of CRC32 over everything before them; a refresh
// token is the same with "rt_" in place of the prefix's "_". The checksum lets the gateway
// (and secret scanners) reject a mistyped or invented token without touching the database.
// Only the SHA-256 of a token is ever stored; the row it finds is the key.
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { sha256Hex } from '../crypto/compare.js'

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const BODY_LENGTH = 43 // ceil(256 / log2(62))
const CHECKSUM_LENGTH = 6 // ceil(32 / log2(62))
const DISPLAY_LENGTH = 8

function base62(value: bigint, width: number): string {
  let out = ''
  let n = value
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out
    n /= 62n
  }
  return out.padStart(width, '0')
}

function checksum(text: string): string {
  return base62(BigInt(crc32(text)), CHECKSUM_LENGTH)
}

/** A new token, its hash (what is stored) and the prefix shown to people. */
export type MintedToken = { token: string; hash: string; displayPrefix: string }

export const hashToken = sha256Hex

export function mintToken(prefix: string): MintedToken {
  const body = base62(BigInt(`0x${randomBytes(32).toString('hex')}`), BODY_LENGTH)
  const token = `${prefix}${body}${checksum(prefix + body)}`
  return { token, hash: hashToken(token), displayPrefix: token.slice(0, prefix.length + DISPLAY_LENGTH) }
}

/** Refresh tokens look like keys' tokens with "rt_" in place of the prefix's "_": kg_ → kgrt_. */
export function refreshPrefix(keyPrefix: string): string {
  return `${keyPrefix.slice(0, -1)}rt_`
}

const BASE62_ONLY = /^[0-9A-Za-z]+$/

/** True when the token has our prefix, the right length and alphabet, and a valid checksum. */
export function isWellFormedToken(token: string, prefix: string): boolean {
  if (token.length !== prefix.length + BODY_LENGTH + CHECKSUM_LENGTH || !token.startsWith(prefix)) return false
  const rest = token.slice(prefix.length)
  if (!BASE62_ONLY.test(rest)) return false
  const split = token.length - CHECKSUM_LENGTH
  return checksum(token.slice(0, split)) === token.slice(split)
}
