import t from 'tap'
import { hashKey, isWellFormedKey, mintKey } from '../../src/crypto/api-key.js'

t.test('minted keys are well-formed, unique and hashed', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const k = mintKey('kg_')
    t.match(k.raw, /^kg_[0-9A-Za-z]{49}$/)
    t.ok(isWellFormedKey(k.raw, 'kg_'))
    t.equal(k.hash, hashKey(k.raw))
    t.match(k.hash, /^[0-9a-f]{64}$/)
    t.equal(k.displayPrefix, k.raw.slice(0, 11))
    seen.add(k.raw)
  }
  t.equal(seen.size, 200)
})

t.test('malformed tokens are rejected without a lookup', async (t) => {
  const k = mintKey('kg_').raw
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1)
  t.notOk(isWellFormedKey(flip(k, 10), 'kg_'), 'one changed character fails the checksum')
  t.notOk(isWellFormedKey(flip(k, k.length - 1), 'kg_'), 'a changed checksum fails')
  t.notOk(isWellFormedKey(k.slice(0, -1), 'kg_'), 'too short')
  t.notOk(isWellFormedKey(`${k}a`, 'kg_'), 'too long')
  t.notOk(isWellFormedKey(k.replace('kg_', 'xx_'), 'kg_'), 'wrong prefix')
  t.notOk(isWellFormedKey(k, 'ab_'), 'another deployment prefix')
  t.notOk(isWellFormedKey(`kg_${'-'.repeat(49)}`, 'kg_'), 'wrong alphabet')
  t.notOk(isWellFormedKey('', 'kg_'))
  t.ok(isWellFormedKey(mintKey('acme_').raw, 'acme_'))
})
