// `npm run docs`: writes the two generated files, docs/configuration.md (from the
// configuration schema) and schema.sql (from the migrations). Tests check both are current.
import { writeFileSync } from 'node:fs'
import { configurationDoc } from '../src/config/doc.js'
import { repoPath } from '../src/shared/paths.js'
import { schemaSql } from '../src/store/schema-sql.js'

writeFileSync(repoPath('docs', 'configuration.md'), configurationDoc())
writeFileSync(repoPath('schema.sql'), await schemaSql())
console.log('written: docs/configuration.md, schema.sql')
