// docs/configuration.md is generated from the configuration schema: it lists every variable
// the schema reads, each default it shows is the schema's, and the page is up to date.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { configurationDoc, schemaDefault } from '../src/config/doc.js'
import { envSchema } from '../src/config/index.js'
import { SETTINGS } from '../src/config/settings.js'
import { repoPath } from '../src/shared/paths.js'

t.test('every variable of the schema is described, and nothing else', async (t) => {
  t.same(Object.keys(SETTINGS).sort(), Object.keys(envSchema.shape).sort())
})

t.test("each default shown is the schema's", async (t) => {
  for (const name of Object.keys(envSchema.shape)) {
    const actual = schemaDefault(name)
    const shown = SETTINGS[name]!.default
    if (actual === undefined) t.notMatch(shown, /^`[^`$]+`$/, `${name}: no default in the schema, none shown as one`)
    else if (actual === '') t.match(shown, /^(empty|unset)/, `${name}: empty`)
    else t.ok(shown.startsWith(`\`${actual}\``), `${name}: ${shown} shows ${actual}`)
  }
})

t.test('docs/configuration.md is what `npm run docs` generates', async (t) => {
  t.equal(readFileSync(repoPath('docs', 'configuration.md'), 'utf8'), configurationDoc())
})
