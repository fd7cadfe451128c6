import t from 'tap'
import { DEFAULT_SCRYPT_COST, dummyPasswordHash, hashPassword, verifyPassword } from '../../src/crypto/password.js'

t.test('a hash keeps the cost it was made with, so changing the setting re-costs only new passwords', async (t) => {
  const cheap = await hashPassword('correct horse battery', 1024)
  const real = await hashPassword('correct horse battery')
  t.match(cheap, /^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/)
  t.match(real, new RegExp(`^scrypt\\$${DEFAULT_SCRYPT_COST}\\$8\\$1\\$`))
  t.equal(await verifyPassword('correct horse battery', cheap), true)
  t.equal(await verifyPassword('correct horse battery', real), true)
  t.equal(await verifyPassword('correct horse batterY', cheap), false)
  t.equal(await verifyPassword('correct horse battery', 'bcrypt$whatever'), false, 'another scheme never matches')
  t.equal(await verifyPassword('correct horse battery', ''), false)
})

t.test('the dummy hash for unknown emails is made once per cost, on first use', async (t) => {
  const first = dummyPasswordHash(1024)
  t.equal(dummyPasswordHash(1024), first, 'memoized')
  t.match(await first, /^scrypt\$1024\$/)
  t.not(await dummyPasswordHash(2048), await first)
  t.equal(await verifyPassword('', await first), false)
})
