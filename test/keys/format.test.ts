import t from 'tap'
import { hashToken, isWellFormedToken, mintToken } from '../../src/keys/format.js'

t.test('minted keys are well-formed, unique and hashed', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) {
    const k = mintToken('kg_')
    t.match(k.token, /^kg_[0-9A-Za-z]{49}$/)
    t.ok(isWellFormedToken(k.token, 'kg_'))
    t.equal(k.hash, hashToken(k.token))
    t.match(k.hash, /^[0-9a-f]{64}$/)
    t.equal(k.displayPrefix, k.token.slice(0, 11))
    seen.add(k.token)
  }
  t.equal(seen.size, 200)
})

t.test('malformed tokens are rejected without a lookup', async (t) => {
  const k = mintToken('kg_').token
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1)
  t.notOk(isWellFormedToken(flip(k, 10), 'kg_'), 'one changed character fails the checksum')
  t.notOk(isWellFormedToken(flip(k, k.length - 1), 'kg_'), 'a changed checksum fails')
  t.notOk(isWellFormedToken(k.slice(0, -1), 'kg_'), 'too short')
  t.notOk(isWellFormedToken(`${k}a`, 'kg_'), 'too long')
  t.notOk(isWellFormedToken(k.replace('kg_', 'xx_'), 'kg_'), 'wrong prefix')
  t.notOk(isWellFormedToken(k, 'ab_'), 'another deployment prefix')
  t.notOk(isWellFormedToken(`kg_${'-'.repeat(49)}`, 'kg_'), 'wrong alphabet')
  t.notOk(isWellFormedToken('', 'kg_'))
  t.ok(isWellFormedToken(mintToken('acme_').token, 'acme_'))
})
