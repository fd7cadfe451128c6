// What `keygate serve` prints once it listens: what is actually configured (the database
// without its credentials, who signs people in, the upstream) and the next step that applies.
import { resolve } from 'node:path'
import type { Config } from '../config/index.js'
import { VERSION } from '../shared/version.js'

/** The database kind and where it is, never its password or user. */
export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `SQLite ${resolve(config.dbPath)}`
  const url = new URL(config.databaseUrl)
  const kind = url.protocol.startsWith('postgres') ? 'PostgreSQL' : 'MySQL/MariaDB'
  const name = url.pathname.replace(/^\//, '') || '(default database)'
  const schema = config.databaseSchema
    ? `, ${kind === 'PostgreSQL' ? 'schema' : 'database'} ${config.databaseSchema}`
    : ''
  return `${kind} at ${url.host}/${name}${schema}`
}

function describeLogin(config: Config): string {
  const login = config.login
  if (login.mode === 'local') return 'keygate’s own email and password (KEYGATE_LOGIN=local)'
  if (login.mode === 'handoff') return `the product, by session handoff from ${login.url}`
  return `the product’s OpenID Provider ${login.issuer}`
}

export function banner(config: Config, listening: string, users: number): string[] {
  const lines = [
    `keygate ${VERSION} listening on ${listening}`,
    `issuer:    ${config.issuer}`,
    `MCP URL:   ${config.resource}   (the URL people add to Claude, ChatGPT, Cursor or VS Code)`,
    `database:  ${describeDatabase(config)}`,
    `sign-in:   ${describeLogin(config)}`,
    `upstream:  ${config.upstream ?? `the built-in demo API (${config.issuer}/api/v1); KEYGATE_UPSTREAM points keygate at yours`}`,
  ]
  if (config.login.mode === 'local' && users === 0)
    lines.push(
      'next:      create the first user: npx keygate user add --email you@example.com (it asks for a password)',
    )
  else if (config.login.mode === 'local') lines.push(`next:      sign in at ${config.issuer}/dashboard`)
  else lines.push(`next:      sign in through the product at ${config.issuer}/dashboard`)
  return lines
}
