// Rate limits across instances: with KEYGATE_REDIS_URL, two keygate processes share one
// count; without it each process counts for itself. Needs Redis on 127.0.0.1:6379 (.ci/run
// starts it).
import t from 'tap'
import { tempDir } from '../helper.js'
import { startInstances } from '../support/instances.js'

const REDIS = process.env.KEYGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function registrations(bases: string[], count: number): Promise<number[]> {
  const codes: number[] = []
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${bases[i % bases.length]}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: `c${i}`, redirect_uris: ['https://client.example/cb'] }),
    })
    codes.push(res.status)
  }
  return codes
}

t.test('with Redis, two instances allow the limit once', async (t) => {
  const instances = await startInstances(t, tempDir(t), 2, {
    KEYGATE_REDIS_URL: REDIS,
    KEYGATE_RATE_LIMIT_REGISTER: '4',
  })
  const codes = await registrations(
    instances.map((i) => i.base),
    8,
  )
  t.equal(codes.filter((c) => c === 201).length, 4, `4 of 8 registered across both instances (${codes.join(' ')})`)
  t.equal(codes.filter((c) => c === 429).length, 4)
})

t.test('without Redis, each instance counts for itself', async (t) => {
  const instances = await startInstances(t, tempDir(t), 2, { KEYGATE_RATE_LIMIT_REGISTER: '4' })
  const codes = await registrations(
    instances.map((i) => i.base),
    8,
  )
  t.same(codes, [201, 201, 201, 201, 201, 201, 201, 201], 'each process allows 4')
})

t.test('an unreachable Redis stops start-up with a message naming the variable', async (t) => {
  await t.rejects(
    startInstances(t, tempDir(t), 1, { KEYGATE_REDIS_URL: 'redis://127.0.0.1:1' }),
    /KEYGATE_REDIS_URL: cannot connect to Redis/,
  )
})
