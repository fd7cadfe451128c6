// How values go into and come out of the product's key table, by its mapping: the token's
// hash, scopes, times, revocation and ids, each in the encoding the product chose.
import { createHash, createHmac, randomUUID } from 'node:crypto'
import { type RawBuilder, sql } from 'kysely'
import type { KeyMapping } from '../config/keys.js'
import { sha256Hex } from '../crypto/compare.js'
import type { DialectName } from './database.js'

export type Codec = {
  hash(token: string): string
  scopesIn(scopes: string[]): unknown
  scopesOut(value: unknown): string[]
  timeIn(seconds: number): unknown
  timeOut(value: unknown): number | null
  /** The revocation column's value for a key revoked at `seconds`. */
  revokedIn(seconds: number): unknown
  /** When the key was revoked; 0 when the table only says that it was (a boolean); null when live. */
  revokedOut(value: unknown): number | null
  /** An id as the table compares it; undefined for text that cannot be one (never sent). */
  idIn(id: string): string | number | undefined
  /** A new id when keygate numbers the rows itself (uuid ids without a default). */
  newId(): string
  /** An expression as text, for joining the product's ids with keygate's. */
  asText(expression: RawBuilder<unknown>): RawBuilder<string>
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/

function hasher(m: KeyMapping): (token: string) => string {
  switch (m.hash) {
    case 'sha256-hex':
      return sha256Hex
    case 'sha256-base64':
      return (t) => createHash('sha256').update(t).digest('base64')
    case 'sha256-base64url':
      return (t) => createHash('sha256').update(t).digest('base64url')
    case 'hmac-sha256-hex': {
      const pepper = m.pepper!
      return (t) => createHmac('sha256', pepper).update(t).digest('hex')
    }
  }
}

/** SQLite's CURRENT_TIMESTAMP form, in UTC: what a product on SQLite writes as a timestamp. */
const sqliteTimestamp = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')

function toSeconds(value: unknown, time: KeyMapping['time']): number | null {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return Math.floor(value.getTime() / 1000)
  if (typeof value === 'string' && time === 'timestamp') {
    // 'YYYY-MM-DD HH:MM:SS' without a zone is UTC (SQLite's own times).
    const iso = value.includes('T') ? value : value.replace(' ', 'T')
    const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`)
    return Number.isNaN(ms) ? null : Math.floor(ms / 1000)
  }
  const n = Number(value)
  if (!Number.isFinite(n)) return null
  return time === 'epoch-ms' ? Math.floor(n / 1000) : n
}

function scopesFrom(value: unknown, encoding: KeyMapping['scopes']): string[] {
  let list: unknown = value
  if (typeof value === 'string') {
    if (encoding === 'json') {
      try {
        list = JSON.parse(value)
      } catch {
        return []
      }
    } else list = value.split(encoding === 'comma' ? ',' : ' ')
  }
  if (!Array.isArray(list)) return []
  return list.map((s) => (typeof s === 'string' ? s.trim() : '')).filter((s) => SCOPE.test(s))
}

export function codecFor(m: KeyMapping, dialect: DialectName): Codec {
  const timeIn = (seconds: number): unknown =>
    m.time === 'epoch-seconds'
      ? seconds
      : m.time === 'epoch-ms'
        ? seconds * 1000
        : dialect === 'sqlite'
          ? sqliteTimestamp(seconds)
          : new Date(seconds * 1000)
  const bool = (b: boolean) => (dialect === 'postgres' ? b : b ? 1 : 0)
  return {
    hash: hasher(m),
    scopesIn: (scopes) =>
      m.scopes === 'array'
        ? scopes
        : m.scopes === 'json'
          ? JSON.stringify(scopes)
          : scopes.join(m.scopes === 'comma' ? ',' : ' '),
    scopesOut: (value) => scopesFrom(value, m.scopes),
    timeIn,
    timeOut: (value) => toSeconds(value, m.time),
    revokedIn: (seconds) => (m.revoked === 'boolean' ? bool(true) : timeIn(seconds)),
    revokedOut: (value) => {
      if (m.revoked !== 'boolean') return toSeconds(value, m.time)
      return value === true || value === 1 || value === '1' || value === 't' ? 0 : null
    },
    idIn: (id) => {
      if (m.id === 'integer') return /^-?[0-9]{1,15}$/.test(id) ? Number(id) : undefined
      return dialect === 'postgres' && !UUID.test(id) ? undefined : id.length <= 64 ? id : undefined
    },
    newId: () => randomUUID(),
    asText: (e) => sql<string>`CAST(${e} AS ${sql.raw(dialect === 'mysql' ? 'CHAR' : 'TEXT')})`,
  }
}

/** True when the revocation column says live, as SQL. */
export function liveCondition(m: KeyMapping, dialect: DialectName, column: RawBuilder<unknown>): RawBuilder<boolean> {
  if (m.columns.revoked === undefined) return sql<boolean>`1 = 1`
  if (m.revoked === 'boolean') {
    const no = dialect === 'postgres' ? sql`FALSE` : sql`0`
    return sql<boolean>`(${column} IS NULL OR ${column} = ${no})`
  }
  return sql<boolean>`${column} IS NULL`
}
