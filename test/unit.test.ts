// The in-process tests, all in this one process, so the app's modules load once: the
// full suite runs this file beside the tests that need a process of their own (OWN_PROCESS,
// listed again in .taprc), and `npm run test:unit` runs it alone, in seconds.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { repoPath } from '../src/shared/paths.js'

/** Tests that start processes, a browser, Redis clients, hold sockets open or fuzz at length. */
export const OWN_PROCESS = [
  'cli.test.js',
  'oauth/cimd-process.test.js',
  'plugins/timeouts.test.js',
  'plugins/rate-limit-redis.test.js',
  'store/race-processes.test.js',
  'store/sqlite-checkpoint.test.js',
  'e2e/',
  'fuzz/',
]

const HERE = dirname(fileURLToPath(import.meta.url))

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return testFiles(path)
    return entry.name.endsWith('.test.js') ? [relative(HERE, path)] : []
  })
}

const ownProcess = (file: string) => OWN_PROCESS.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p))
const inProcess = testFiles(HERE).filter((file) => file !== 'unit.test.js' && !ownProcess(file))

// The full suite runs what .taprc includes: every test here must be in one of the two sets.
const taprc = readFileSync(repoPath('.taprc'), 'utf8')
t.ok(
  OWN_PROCESS.every((p) => taprc.includes(`"dist/test/${p.endsWith('/') ? `${p}**/*.test.js` : p}"`)),
  '.taprc includes every test that runs in its own process',
)

// The tests left out of the PostgreSQL and MySQL runs are named, exist, and each runs in a
// process of its own: the in-process tests (this file) run on every database, whole.
const { SQLITE_ONLY } = await import('./databases.js')
for (const file of Object.keys(SQLITE_ONLY)) {
  t.ok(testFiles(HERE).includes(file), `${file} (left out of the database runs) is a test`)
  t.ok(ownProcess(file), `${file} (left out of the database runs) runs in a process of its own`)
}

for (const file of inProcess) await import(`./${file}`)
