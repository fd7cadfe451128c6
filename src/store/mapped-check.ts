// The product's key table checked against its mapping when the store opens: every mapped
// column is there with a type its encoding can use, and every column keygate does not
// write can be left to its default. A mismatch stops start-up with one line naming it.
import { sql } from 'kysely'
import { ConfigError } from '../config/checks.js'
import type { KeyMapping } from '../config/keys.js'
import { constraintError, type Database, type DialectName } from './database.js'
import { ForeignKeyError, ProductTableRefused } from './types.js'

type Kind = 'integer' | 'bigint' | 'text' | 'uuid' | 'boolean' | 'timestamp' | 'json' | 'text[]' | 'any' | 'other'
type Column = {
  name: string
  kind: Kind
  notNull: boolean
  hasDefault: boolean
  type: string
  /** The most characters a text column holds, where the database enforces one. */
  maxLength: number | null
}

function pgKind(dataType: string, udt: string): Kind {
  if (dataType === 'bigint') return 'bigint'
  if (dataType === 'integer' || dataType === 'smallint') return 'integer'
  if (['text', 'character varying', 'character'].includes(dataType)) return 'text'
  if (dataType === 'uuid') return 'uuid'
  if (dataType === 'boolean') return 'boolean'
  if (dataType.startsWith('timestamp')) return 'timestamp'
  if (dataType === 'json' || dataType === 'jsonb') return 'json'
  if (dataType === 'ARRAY' && (udt === '_text' || udt === '_varchar')) return 'text[]'
  return 'other'
}

function mysqlKind(dataType: string, columnType: string): Kind {
  const t = dataType.toLowerCase()
  if (t === 'tinyint' && /^tinyint\(1\)/i.test(columnType)) return 'boolean'
  if (t === 'bit' && /^bit\(1\)/i.test(columnType)) return 'boolean'
  if (t === 'bigint') return 'bigint'
  if (['int', 'integer', 'smallint', 'mediumint', 'tinyint'].includes(t)) return 'integer'
  if (['char', 'varchar', 'text', 'tinytext', 'mediumtext', 'longtext'].includes(t)) return 'text'
  if (t === 'json') return 'json'
  if (t === 'datetime' || t === 'timestamp') return 'timestamp'
  return 'other'
}

/** SQLite's declared types, read the way its type affinity reads them. */
function sqliteKind(declared: string): Kind {
  const t = declared.toUpperCase()
  if (t === '') return 'any'
  if (t.includes('BOOL')) return 'boolean'
  if (t.includes('INT')) return 'bigint'
  if (t.includes('TIMESTAMP') || t.includes('DATETIME')) return 'timestamp'
  if (t.includes('JSON')) return 'json'
  if (t.includes('UUID')) return 'uuid'
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text'
  return 'other'
}

async function describe(database: Database, m: KeyMapping): Promise<Column[]> {
  const { db } = database
  if (database.dialect === 'sqlite') {
    const { rows } = await sql<{
      name: string
      type: string
      notnull: number
      dflt_value: string | null
      pk: number
    }>`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(${m.name})`.execute(db)
    return rows.map((r) => ({
      name: r.name,
      kind: sqliteKind(r.type),
      type: r.type || '(none)',
      notNull: r.notnull === 1,
      // INTEGER PRIMARY KEY is the rowid: numbered by SQLite.
      hasDefault: r.dflt_value !== null || (r.pk === 1 && r.type.toUpperCase() === 'INTEGER'),
      // SQLite stores text of any length whatever the declared type says.
      maxLength: null,
    }))
  }
  if (database.dialect === 'postgres') {
    const { rows } = await sql<{
      column_name: string
      data_type: string
      udt_name: string
      is_nullable: string
      column_default: string | null
      is_identity: string
      character_maximum_length: number | null
    }>`SELECT column_name, data_type, udt_name, is_nullable, column_default, is_identity, character_maximum_length
       FROM information_schema.columns WHERE table_schema = ${m.schema} AND table_name = ${m.name}`.execute(db)
    return rows.map((r) => ({
      name: r.column_name,
      kind: pgKind(r.data_type, r.udt_name),
      type: r.data_type === 'ARRAY' ? r.udt_name : r.data_type,
      notNull: r.is_nullable === 'NO',
      hasDefault: r.column_default !== null || r.is_identity === 'YES',
      maxLength: r.character_maximum_length === null ? null : Number(r.character_maximum_length),
    }))
  }
  const { rows } = await sql<{
    name: string
    data_type: string
    column_type: string
    is_nullable: string
    column_default: string | null
    extra: string
    max_length: number | null
  }>`SELECT column_name AS name, data_type, column_type, is_nullable, column_default, extra,
       character_maximum_length AS max_length
     FROM information_schema.columns WHERE table_schema = ${m.schema} AND table_name = ${m.name}`.execute(db)
  return rows.map((r) => ({
    name: r.name,
    kind: mysqlKind(String(r.data_type), String(r.column_type)),
    type: String(r.column_type),
    notNull: r.is_nullable === 'NO',
    hasDefault: r.column_default !== null || /auto_increment/i.test(String(r.extra)),
    maxLength: r.max_length === null ? null : Number(r.max_length),
  }))
}

/** The kinds a mapped column may have, by what keygate writes into it. */
function acceptedKinds(field: string, m: KeyMapping, dialect: DialectName): Kind[] {
  const time: Kind[] =
    m.time === 'timestamp'
      ? ['timestamp', ...(dialect === 'sqlite' ? (['text'] as Kind[]) : [])]
      : m.time === 'epoch-ms'
        ? ['bigint']
        : ['bigint', 'integer']
  switch (field) {
    case 'id':
      return m.id === 'integer' ? ['integer', 'bigint'] : ['uuid', 'text']
    case 'account':
    case 'user':
      return ['integer', 'bigint', 'text', 'uuid']
    case 'name':
    case 'hash':
    case 'prefix':
      return ['text']
    case 'scopes':
      return m.scopes === 'array' ? ['text[]'] : m.scopes === 'json' ? ['text', 'json'] : ['text']
    case 'revoked':
      return m.revoked === 'boolean' ? ['boolean', ...(dialect === 'sqlite' ? (['bigint'] as Kind[]) : [])] : time
    default:
      return time
  }
}

/** What keygate needs to know of the product's table beyond its mapping. */
export type TableShape = {
  /** The id column numbers its own rows (an identity, autoincrement or default). */
  idHasDefault: boolean
  /** Mapped fields whose column is a PostgreSQL uuid (text that is not a uuid is never compared with them). */
  uuidFields: Set<string>
  /** What the account and user columns can hold of the product's ids. */
  idColumns: Record<'account' | 'user', IdColumn>
}

/** A column that holds the product's ids: its name, its kind, its length if bounded. */
export type IdColumn = { name: string; kind: Kind; maxLength: number | null }

/** Why `id` cannot be stored in the column, in words; undefined when it can. */
export function unfitFor(column: IdColumn, id: string): string | undefined {
  if (column.kind === 'integer' || column.kind === 'bigint')
    return /^-?[0-9]{1,15}$/.test(id) ? undefined : `its column ${column.name} holds integers`
  if (column.kind === 'uuid')
    return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
      ? undefined
      : `its column ${column.name} holds uuids`
  if (column.maxLength !== null && [...id].length > column.maxLength)
    return `its column ${column.name} holds at most ${column.maxLength} characters`
  return undefined
}

/**
 * Throws a ConfigError naming the first way the table does not fit the mapping; answers
 * what else keygate needs to know of it.
 */
export async function checkMapping(database: Database, m: KeyMapping): Promise<TableShape> {
  const where = m.schema ? `${m.schema}.${m.name}` : m.name
  const stop = (problem: string): never => {
    throw new ConfigError(`KEYGATE_KEYS_TABLE: ${problem}`)
  }
  const names = Object.values(m.columns)
  const twice = names.find((n, i) => names.indexOf(n) !== i)
  if (twice) stop(`columns: ${twice} is mapped twice`)
  const columns = await describe(database, m)
  if (columns.length === 0) stop(`table ${where} does not exist`)
  const byName = new Map(columns.map((c) => [c.name, c]))
  for (const [field, name] of Object.entries(m.columns)) {
    if (name === undefined) continue
    const column = byName.get(name)
    if (!column) stop(`columns.${field}: ${where} has no column ${name}`)
    const accepted = acceptedKinds(field, m, database.dialect)
    if (column!.kind !== 'any' && !accepted.includes(column!.kind))
      stop(`columns.${field}: ${where}.${name} is ${column!.type}, which cannot hold ${describeWanted(field, m)}`)
  }
  const id = byName.get(m.columns.id)!
  if (m.id === 'integer' && !id.hasDefault)
    stop(`columns.id: ${where}.${m.columns.id} has no default; keygate cannot number an integer key`)
  const mapped = new Set(Object.values(m.columns))
  for (const c of columns)
    if (!mapped.has(c.name) && c.notNull && !c.hasDefault)
      stop(`${where}.${c.name} is NOT NULL without a default, and the mapping does not name it`)
  const uuidFields = new Set(
    Object.entries(m.columns)
      .filter(([, name]) => name !== undefined && byName.get(name)?.kind === 'uuid' && database.dialect === 'postgres')
      .map(([field]) => field),
  )
  const idColumn = (field: 'account' | 'user'): IdColumn => {
    const column = byName.get(m.columns[field])!
    // SQLite's declared type is advice: an INTEGER column stores text too, but the product's
    // own code would not find its keys by it; the declared kind is what the product meant.
    return { name: column.name, kind: column.kind, maxLength: column.maxLength }
  }
  return {
    idHasDefault: id.hasDefault,
    uuidFields,
    idColumns: { account: idColumn('account'), user: idColumn('user') },
  }
}

function describeWanted(field: string, m: KeyMapping): string {
  if (field === 'id') return `${m.id} ids`
  if (field === 'scopes') return `scopes as ${m.scopes}`
  if (field === 'revoked') return m.revoked === 'boolean' ? 'a boolean' : `a time as ${m.time}`
  if (['createdAt', 'lastUsedAt', 'expiresAt'].includes(field)) return `a time as ${m.time}`
  return 'text'
}

/**
 * The product's table refusing the row keygate wrote: a foreign key of its own (an account
 * the product does not have), or a value its column cannot hold. Other errors as they are.
 */
export function productRefusal(err: unknown): unknown {
  const e = err as { code?: string; errno?: number; message?: string }
  if (constraintError(err) instanceof ForeignKeyError)
    return new ProductTableRefused(`the product's key table refused the key: ${e.message}`)
  // PostgreSQL: invalid text for the type, too long, out of range; MySQL: incorrect value,
  // too long, out of range, incorrect datetime.
  if (['22P02', '22001', '22003'].includes(e.code ?? '') || [1366, 1406, 1264, 1292].includes(e.errno ?? 0))
    return new ProductTableRefused(`the product's key table cannot hold the key's values: ${e.message}`)
  return err
}
