import { existsSync, realpathSync } from 'node:fs'
import t from 'tap'
import { PACKAGE_ROOT, repoPath } from '../src/shared/paths.js'

t.test('repository files are found from the package root, wherever the module is compiled to', async (t) => {
  // The tests run from dist/test/, the server from dist/src/: both resolve to the checkout.
  t.equal(realpathSync(PACKAGE_ROOT), realpathSync(process.cwd()))
  for (const file of [
    'package.json',
    'migrations/0001-baseline.sqlite.sql',
    'templates/consent.eta',
    'public/style.css',
  ])
    t.ok(existsSync(repoPath(...file.split('/'))), file)
})
