import { createHash, timingSafeEqual } from 'node:crypto'

/** Constant-time string comparison (hashes both sides so lengths never leak). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
