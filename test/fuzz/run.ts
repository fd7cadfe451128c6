// `npm run fuzz`: the long run. 10,000 cases per endpoint group by default
// (KEYGATE_FUZZ_RUNS), a random seed unless KEYGATE_FUZZ_SEED is set (printed, so a failure
// can be replayed). keygate runs as its own process (bin/keygate.js serve), so the resident
// memory reported at start and at the end is the server's alone.
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { DEFAULT_SCRYPT_COST } from '../../src/crypto/password.js'
import { createStore } from '../../src/store/index.js'
import { tempDir, testConfig } from '../helper.js'
import { startInstances } from '../support/instances.js'
import { FUZZ_ENV, GROUPS, hostileDocuments, prepare, type Target } from './endpoints.js'

const runs = Number(process.env.KEYGATE_FUZZ_RUNS ?? 10_000)
const seed = Number(process.env.KEYGATE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const teardowns: Array<() => unknown> = []
const test = { teardown: (fn: () => unknown) => void teardowns.push(fn) }
let serverPid = 0
/** The server process's resident memory (VmRSS), in MB. */
const mb = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serverPid}/status`, 'utf8'))![1]) / 1024)

async function main(): Promise<number> {
  console.log(`fuzz: ${runs} cases per group, seed ${seed} (replay with KEYGATE_FUZZ_SEED=${seed})`)
  const docs = await hostileDocuments()
  teardowns.push(
    () =>
      new Promise<void>((resolve) => {
        docs.server.closeAllConnections()
        docs.server.close(() => resolve())
      }),
  )
  const dir = tempDir(test)
  const [instance] = await startInstances(test, dir, 1, {
    ...FUZZ_ENV,
    KEYGATE_LOG_LEVEL: 'error',
    // The production cost: the resident memory reported is a real server's.
    KEYGATE_SCRYPT_COST: String(DEFAULT_SCRYPT_COST),
  })
  serverPid = instance!.child.pid!
  // The same database, opened beside the server: fixtures go in, minted keys are counted.
  const config = testConfig(dir, { KEYGATE_ISSUER: instance!.base })
  const store = await createStore(config)
  teardowns.push(() => store.close())
  const app = { store, config, now: () => Math.floor(Date.now() / 1000) } as unknown as FastifyInstance
  const target: Target = { app, base: instance!.base }
  const ctx = await prepare(target, docs.base)
  console.log(`resident memory at start: ${mb()} MB`)
  let failed = 0
  for (const group of GROUPS) {
    const started = performance.now()
    const result = await fc.check(group.property(target, ctx), { numRuns: runs, seed, includeErrorInReport: true })
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    if (result.failed) {
      failed++
      console.log(
        `FAIL ${group.name} after ${result.numRuns} cases (${seconds} s): ${String(result.errorInstance).slice(0, 2000)}`,
      )
      console.log(`     counterexample: ${JSON.stringify(result.counterexample).slice(0, 2000)}`)
    } else {
      console.log(`ok   ${group.name}: ${result.numRuns} cases in ${seconds} s, resident memory ${mb()} MB`)
    }
  }
  console.log(`resident memory at the end: ${mb()} MB`)
  console.log(`${GROUPS.length - failed} passed, ${failed} failed`)
  return failed === 0 ? 0 : 1
}

main()
  .then(async (code) => {
    for (const fn of teardowns.reverse()) await fn()
    process.exit(code)
  })
  .catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
