// Where keys live: keygate's own api_keys table, or the product's own key table described by
// a mapping (KEYGATE_KEYS_TABLE, a JSON file checked here with zod; the table itself is
// checked against the database when the store opens, src/store/mapped-check.ts).
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { fail } from './checks.js'
import type { Login } from './login.js'

export const keysEnv = {
  KEYGATE_KEYS_TABLE: z.string().min(1).optional(),
  KEYGATE_KEY_PEPPER: z.string().optional(),
  KEYGATE_KEY_FORMAT: z.enum(['checked', 'any']).default('checked'),
}

type KeysEnv = z.infer<z.ZodObject<typeof keysEnv>>

const identifier = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/
const column = z.string().regex(identifier, 'must be a column name (letters, digits and _)')

const mappingSchema = z
  .object({
    table: z
      .string()
      .regex(
        /^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$/,
        'must be a table name, optionally schema-qualified (public.developer_tokens)',
      ),
    columns: z
      .object({
        id: column,
        account: column,
        user: column,
        name: column,
        hash: column,
        scopes: column,
        createdAt: column,
        prefix: column.optional(),
        lastUsedAt: column.optional(),
        expiresAt: column.optional(),
        revoked: column.optional(),
      })
      .strict(),
    hash: z.enum(['sha256-hex', 'sha256-base64', 'sha256-base64url', 'hmac-sha256-hex']),
    scopes: z.enum(['space', 'comma', 'json', 'array']),
    revoked: z.enum(['timestamp', 'boolean']).optional(),
    time: z.enum(['timestamp', 'epoch-seconds', 'epoch-ms']),
    id: z.enum(['integer', 'uuid']),
  })
  .strict()

export type MappingFile = z.infer<typeof mappingSchema>

/** The product's key table as keygate reads and writes it. */
export type KeyMapping = MappingFile & {
  /** The schema (PostgreSQL) or database (MySQL) the table is in; undefined on SQLite. */
  schema: string | undefined
  /** The table's own name, without its schema. */
  name: string
  /** The server-side secret of hmac-sha256-hex. */
  pepper: Buffer | undefined
  /** Whose ids the product's account and user columns hold (the product's issuer). */
  issuer: string
}

export type KeysSettings = { mapping: KeyMapping | undefined; format: 'checked' | 'any' }

/** The database a mysql:// URL names, if it names one. */
function urlDatabase(url: string): string | undefined {
  const path = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  return path === '' ? undefined : path
}

export function parseKeys(
  e: KeysEnv & { KEYGATE_DATABASE_URL?: string },
  login: Login,
  accessTtl?: number,
): KeysSettings {
  const path = e.KEYGATE_KEYS_TABLE
  const name = 'KEYGATE_KEYS_TABLE'
  if (path === undefined) {
    if (e.KEYGATE_KEY_PEPPER !== undefined) fail('KEYGATE_KEY_PEPPER', 'is only used with KEYGATE_KEYS_TABLE')
    return { mapping: undefined, format: e.KEYGATE_KEY_FORMAT }
  }
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    fail(name, `${path}: ${(err as Error).message}`)
  }
  const parsed = mappingSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const where = issue.path.join('.') || '(the file)'
    fail(name, `${path}: ${where}: ${issue.message}`)
  }
  const m = parsed.data
  if (login.mode === 'local')
    fail(name, "needs KEYGATE_LOGIN=handoff or oidc: the product's key rows name the product's accounts and users")
  if (m.columns.revoked !== undefined && m.revoked === undefined)
    fail(name, `${path}: revoked: must be "timestamp" or "boolean" when columns.revoked is set`)
  if (m.columns.revoked === undefined && m.revoked !== undefined)
    fail(name, `${path}: revoked: columns.revoked is not set`)
  if (accessTtl !== undefined && m.columns.expiresAt === undefined)
    fail(
      name,
      `${path}: columns.expiresAt: must be set with KEYGATE_ACCESS_TTL (the product's API would accept expired keys)`,
    )
  const dialect = e.KEYGATE_DATABASE_URL?.startsWith('mysql:')
    ? 'mysql'
    : e.KEYGATE_DATABASE_URL
      ? 'postgres'
      : 'sqlite'
  if (m.scopes === 'array' && dialect !== 'postgres') fail(name, `${path}: scopes: "array" needs PostgreSQL (text[])`)
  const dot = m.table.indexOf('.')
  let schema = dot === -1 ? undefined : m.table.slice(0, dot)
  const table = dot === -1 ? m.table : m.table.slice(dot + 1)
  if (dialect === 'sqlite' && schema !== undefined && schema !== 'main')
    fail(name, `${path}: table: SQLite has no schema ${schema}`)
  if (dialect === 'sqlite') schema = undefined
  // keygate's own schema setting never moves the product's table.
  if (dialect === 'postgres') schema ??= 'public'
  if (dialect === 'mysql') {
    schema ??= urlDatabase(e.KEYGATE_DATABASE_URL!)
    if (schema === undefined) fail(name, `${path}: table: name its database (mydb.${table}); the URL names none`)
  }
  let pepper: Buffer | undefined
  if (m.hash === 'hmac-sha256-hex') {
    if (!e.KEYGATE_KEY_PEPPER || e.KEYGATE_KEY_PEPPER.length < 16)
      fail('KEYGATE_KEY_PEPPER', 'must be set (16 characters or more) for hmac-sha256-hex')
    pepper = Buffer.from(e.KEYGATE_KEY_PEPPER, 'utf8')
  } else if (e.KEYGATE_KEY_PEPPER !== undefined) fail('KEYGATE_KEY_PEPPER', `is not used by hash ${m.hash}`)
  return {
    mapping: { ...m, schema, name: table, pepper, issuer: login.issuer },
    format: e.KEYGATE_KEY_FORMAT,
  }
}
