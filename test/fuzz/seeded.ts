// The seeded fuzz suite: at least 1,000 generated bad inputs per endpoint group, through
// real HTTP, with a fixed seed so a failure reproduces. The groups are spread over four
// test files so they run in parallel; `npm run fuzz` runs the long one.
import fc from 'fast-check'
import t from 'tap'
import { listen } from '../support/http.js'
import { FUZZ_ENV, GROUPS, hostileDocuments, prepare } from './endpoints.js'

const SEED = 20261125
const RUNS = Number(process.env.KEYGATE_FUZZ_RUNS ?? 1000)

/** The groups of each seeded test file (register, token, pages, mcp), about equal in time. */
export const PARTS = {
  register: ['register', 'register (valid redirect, any display fields)'],
  token: ['token', 'revoke and introspect', 'device'],
  pages: ['authorize', 'login'],
  mcp: ['mcp', 'well-known and unknown paths'],
}

/** Runs the named groups against one keygate on a real port. */
export function fuzzGroups(names: string[]): void {
  const groups = GROUPS.filter((g) => names.includes(g.name))
  if (groups.length !== names.length) throw new Error(`unknown fuzz group among ${names.join(', ')}`)
  t.test(`generated bad input: ${names.join('; ')}`, async (t) => {
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
    for (const group of groups) {
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
}
