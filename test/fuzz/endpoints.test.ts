// The seeded fuzz suite: at least 1,000 generated bad inputs per endpoint group, through
// real HTTP, with a fixed seed so a failure reproduces. `npm run fuzz` runs the long one.

import fc from 'fast-check'
import t from 'tap'
import { listen } from '../support/http.js'
import { FUZZ_ENV, GROUPS, hostileDocuments, prepare } from './endpoints.js'

const SEED = 20261125
const RUNS = Number(process.env.KEYGATE_FUZZ_RUNS ?? 1000)

t.test('generated bad input at every endpoint group', async (t) => {
  const docs = await hostileDocuments()
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        docs.server.closeAllConnections()
        docs.server.close(() => resolve())
      }),
  )
  const target = await listen(t, FUZZ_ENV)
  const ctx = await prepare(target, docs.base)
  for (const group of GROUPS) {
    await t.resolves(
      fc.assert(group.property(target, ctx), {
        numRuns: RUNS,
        seed: SEED,
        endOnFailure: true,
        includeErrorInReport: true,
      }),
      `${group.name}: ${RUNS} cases`,
    )
  }
})
