// schema.sql shows what the migrations create: generated from them, and up to date.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { repoPath } from '../../src/shared/paths.js'
import { schemaSql } from '../../src/store/schema-sql.js'

t.test('schema.sql is what `npm run docs` generates from the migrations', async (t) => {
  const generated = await schemaSql()
  for (const table of ['users', 'accounts', 'memberships', 'oauth_clients', 'consents', 'api_keys', 'audit_events'])
    t.match(generated, `CREATE TABLE ${table} (`, table)
  t.equal(readFileSync(repoPath('schema.sql'), 'utf8'), generated)
})
