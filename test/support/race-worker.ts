// One of the processes of test/store/race-processes.test.ts: opens the store the
// environment names, says "ready", waits for "go" on stdin, then runs its share of the
// race at once and prints the results as one JSON line.
import { createInterface } from 'node:readline'
import { loadConfig } from '../../src/config/index.js'
import { createStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'

export type RaceJob =
  | { op: 'grant'; count: number; userId: number; accountId: number; grantId: string; hashes: string[] }
  | { op: 'revoke'; count: number; keyId: string }
  | { op: 'rotate'; count: number; tokenHash: string }
  | { op: 'signin'; count: number; address: string; email: string }

const NOW = 1_795_000_000

function once(store: Store, job: RaceJob, i: number): Promise<unknown> {
  switch (job.op) {
    case 'grant':
      return store.keys
        .insert({
          accountId: job.accountId,
          userId: job.userId,
          name: 'raced',
          keyHash: job.hashes[i]!,
          displayPrefix: 'kg_race',
          scopes: ['read'],
          resource: null,
          clientId: null,
          grantId: job.grantId,
          familyId: job.grantId,
          createdAt: NOW,
          expiresAt: null,
        })
        .then((r) => (r.ok ? 'ok' : r.reason))
    case 'revoke':
      return store.keys.revoke(job.keyId, NOW)
    case 'rotate':
      return store.refresh.markRotated(job.tokenHash, NOW).then((r) => r.first)
    case 'signin':
      return store.signins
        .attempt({ address: job.address, email: job.email }, NOW, {
          windowSeconds: 900,
          maxPerAddress: 5,
          emailCeiling: 100,
          slowSeconds: 30,
        })
        .then((v) => v.allowed)
  }
}

const job = JSON.parse(process.argv[2]!) as RaceJob
const store = await createStore(loadConfig(process.env, { generateSecret: false }))
console.log('ready')
const lines = createInterface({ input: process.stdin })
await new Promise<void>((resolve) => lines.once('line', () => resolve()))
lines.close()
const results = await Promise.all(Array.from({ length: job.count }, (_, i) => once(store, job, i)))
console.log(JSON.stringify(results))
await store.close()
