// The start banner says what is configured: the database without credentials, who signs
// people in, the upstream, and the next step that applies.
import t from 'tap'
import { loadConfig } from '../src/config/index.js'
import { banner } from '../src/server/banner.js'

const SECRET = 'x'.repeat(32)

t.test('SQLite, local sign-in, no user yet: the path in full and the first user to create', async (t) => {
  const config = loadConfig({ KEYGATE_SECRET: SECRET, KEYGATE_DB: './data/k.db' })
  const lines = banner(config, 'http://localhost:3000', 0)
  t.match(lines[0], /^keygate \d+\.\d+\.\d+ listening on http:\/\/localhost:3000$/)
  t.match(lines.join('\n'), /^database: +SQLite \/.*\/data\/k\.db$/m)
  t.match(lines.join('\n'), /^sign-in: +keygate’s own email and password/m)
  t.match(lines.join('\n'), /^upstream: +the built-in demo API/m)
  t.match(lines.at(-1), /^next: +create the first user: npx keygate user add --email you@example\.com \(it asks/)
  t.notMatch(lines.join('\n'), /--password/, 'nothing to paste that bash would refuse')
  t.match(banner(config, 'http://localhost:3000', 1).at(-1), /^next: +sign in at http:\/\/localhost:3000\/dashboard$/)
})

t.test('PostgreSQL with a password and handoff sign-in: no credentials, no local-user hint', async (t) => {
  const config = loadConfig({
    KEYGATE_SECRET: SECRET,
    KEYGATE_DATABASE_URL: 'postgres://keygate:s3cret-pw@db.internal:5432/product',
    KEYGATE_DATABASE_SCHEMA: 'keygate',
    KEYGATE_LOGIN: 'handoff',
    KEYGATE_HANDOFF_URL: 'https://app.example.com/keygate-handoff',
    KEYGATE_HANDOFF_ISSUER: 'https://app.example.com',
    KEYGATE_HANDOFF_SECRET: SECRET,
    KEYGATE_UPSTREAM: 'https://api.example.com/api/v1',
  })
  const text = banner(config, 'http://localhost:3000', 0).join('\n')
  t.match(text, /^database: +PostgreSQL at db\.internal:5432\/product, schema keygate$/m)
  t.notMatch(text, /s3cret-pw|keygate:s3cret|keygate\.db/, 'no password, user or SQLite file')
  t.match(text, /^sign-in: +the product, by session handoff from https:\/\/app\.example\.com\/keygate-handoff$/m)
  t.match(text, /^upstream: +https:\/\/api\.example\.com\/api\/v1$/m)
  t.notMatch(text, /user add/)
  t.match(text, /^next: +sign in through the product/m)
  const mysql = loadConfig({ KEYGATE_SECRET: SECRET, KEYGATE_DATABASE_URL: 'mysql://root:pw@127.0.0.1:3306/test' })
  t.match(banner(mysql, 'x', 0).join('\n'), /^database: +MySQL\/MariaDB at 127\.0\.0\.1:3306\/test$/m)
})
