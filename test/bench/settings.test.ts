import t from 'tap'
import { setting } from '../../bench/settings.js'

t.test('a bench setting: the default, a positive number, or one line naming it', async (t) => {
  t.equal(setting({}, 'BENCH_SECONDS', 8), 8)
  t.equal(setting({ BENCH_SECONDS: '' }, 'BENCH_SECONDS', 8), 8)
  t.equal(setting({ BENCH_SECONDS: '0.5' }, 'BENCH_SECONDS', 8), 0.5)
  t.equal(setting({ BENCH_BULK_ROWS: '5000' }, 'BENCH_BULK_ROWS', 1_000_000), 5000)
  for (const bad of ['abc', '0', '-3', 'Infinity', '1e999', ' '])
    t.throws(() => setting({ BENCH_ROUNDS: bad }, 'BENCH_ROUNDS', 8), {
      message: `BENCH_ROUNDS must be a positive number, not "${bad}"`,
    })
})
