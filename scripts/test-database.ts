// npm run test:pg and test:mysql: the suite on the database KEYGATE_TEST_DATABASE_URL names,
// without the tests test/databases.ts names (their SQL runs on every database elsewhere).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { repoPath } from '../src/shared/paths.js'
import { SQLITE_ONLY } from '../test/databases.js'

if (!process.env.KEYGATE_TEST_DATABASE_URL) {
  process.stderr.write('keygate tests: KEYGATE_TEST_DATABASE_URL names the database (npm run test:pg, test:mysql)\n')
  process.exit(2)
}
const tap = join(repoPath('node_modules'), '.bin', 'tap')
const excluded = Object.keys(SQLITE_ONLY).map((file) => `--exclude=dist/test/${file}`)
const run = spawnSync(tap, [...excluded, ...process.argv.slice(2)], { stdio: 'inherit' })
process.exit(run.status ?? 1)
