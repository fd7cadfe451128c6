// One open database, whichever it is: a Kysely instance over its dialect, and the few
// statements whose SQL differs between SQLite, PostgreSQL and MySQL/MariaDB, each written
// once here so the store's modules stay one implementation.
import {
  type Compilable,
  type CompiledQuery,
  type Expression,
  type ExpressionBuilder,
  type InsertQueryBuilder,
  type InsertResult,
  type Kysely,
  type SqlBool,
  sql,
  type Transaction,
  type UpdateObject,
} from 'kysely'
import type { Tables } from './tables.js'
import { ConflictError, ForeignKeyError } from './types.js'

export type DialectName = 'sqlite' | 'postgres' | 'mysql'

export type Db = Kysely<Tables> | Transaction<Tables>

export interface Database {
  readonly dialect: DialectName
  readonly db: Kysely<Tables>
  /**
   * Marks a statement's SQL as prepared: PostgreSQL runs it as a named statement and MySQL
   * through a server-side prepared statement, once parsed per connection. (SQLite's driver
   * keeps every statement prepared.)
   */
  prepare(sqlText: string): void
  /**
   * Runs a compiled query with new parameters (a prepared statement's way) and answers its
   * first row; the row itself, not a promise, when the database could answer at once
   * (SQLite).
   */
  first<R>(compiled: CompiledQuery<R>, parameters: readonly unknown[]): R | undefined | Promise<R | undefined>
  close(): Promise<void>
}

/** `first` through Kysely's executor: the way for databases reached over the network. */
export async function firstThroughKysely<R>(
  db: Kysely<Tables>,
  compiled: CompiledQuery<R>,
  parameters: readonly unknown[],
): Promise<R | undefined> {
  return (await db.executeQuery<R>({ ...compiled, parameters })).rows[0]
}

/**
 * A lookup of one row, compiled once and run with new parameters (in the order the
 * compiled query holds them): the hot lookups are not rebuilt per call. Answers the row
 * itself when the database could answer at once: `await` it, or take it as it is.
 */
export function lookupOnce<R>(
  database: Database,
  query: Compilable<R>,
): (...parameters: unknown[]) => R | undefined | Promise<R | undefined> {
  const compiled = query.compile()
  database.prepare(compiled.sql)
  return (...parameters) => database.first(compiled, parameters)
}

/**
 * A statement built and compiled once, then run with new parameters on the database or in
 * a transaction (a hot path's statements are not rebuilt per call). `build` gets a marker
 * for each name in `names`; every parameter of the compiled statement must be one of them,
 * and each call's values are put in the compiled statement's order by name.
 */
export function compiledOnce<N extends string, R>(
  names: readonly N[],
  build: (marks: Record<N, never>) => Compilable<R>,
): (db: Db, values: Record<N, unknown>) => Promise<R[]> {
  const marks = Object.fromEntries(names.map((name) => [name, `\u0000${name}`])) as Record<N, never>
  const compiled = build(marks).compile()
  const order = compiled.parameters.map((value) => {
    const name = names.find((n) => marks[n] === value)
    if (name === undefined) throw new Error(`compiledOnce: a parameter is not named: ${compiled.sql}`)
    return name
  })
  return async (db, values) => (await db.executeQuery<R>({ ...compiled, parameters: order.map((n) => values[n]) })).rows
}

/** PostgreSQL text cannot hold U+0000; no stored value holds one, on any database. */
export const holdsNul = (text: string): boolean => text.includes('\u0000')

type DriverError = Error & { code?: string; errno?: number; constraint?: string }

/**
 * Maps a constraint violation to the store's error types by the driver's error code (never
 * its message): SQLite's extended codes, PostgreSQL's SQLSTATE, MySQL's error numbers.
 */
export function constraintError(err: unknown): unknown {
  const e = err as DriverError
  if (!(e instanceof Error)) return err
  if (e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || e.code === '23503' || e.errno === 1452 || e.errno === 1451)
    return new ForeignKeyError(e.message)
  if (
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e.code === '23505' ||
    e.errno === 1062
  )
    return new ConflictError(e.message)
  return err
}

export async function mapConstraint<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw constraintError(err)
  }
}

/** InnoDB's "deadlock found" and "lock wait timeout": the transaction was rolled back whole. */
const MYSQL_RETRYABLE = new Set([1213, 1205])
/** PostgreSQL's deadlock_detected: the transaction was rolled back whole. */
const PG_RETRYABLE = new Set(['40P01'])

/**
 * Runs `fn` in one transaction (on SQLite, BEGIN IMMEDIATE: the write lock first). A
 * transaction the database chose as a deadlock victim is run again, up to three times:
 * nothing of it was kept.
 */
export async function transaction<T>(database: Database, fn: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await database.db.transaction().execute(fn)
    } catch (err) {
      const e = err as DriverError
      const retryable = MYSQL_RETRYABLE.has(e.errno ?? 0) || PG_RETRYABLE.has(e.code ?? '')
      if (!retryable || attempt === 3) throw constraintError(err)
    }
  }
}

/**
 * Runs `fn` in one transaction that no other caller of `serialized` with the same `name`
 * runs beside, on this or another instance: on SQLite its BEGIN IMMEDIATE (one writer); on
 * PostgreSQL under a transaction-scoped advisory lock; on MySQL under GET_LOCK, held over
 * the transaction and released after it. For "make it unless it exists" where there is no
 * row to lock yet.
 */
export async function serialized<T>(
  database: Database,
  name: string,
  fn: (trx: Transaction<Tables>) => Promise<T>,
): Promise<T> {
  const lock = `keygate:${name}`
  if (database.dialect === 'mysql') {
    // Lock names are server-wide: the database's name keeps two deployments apart.
    const named = sql`concat(database(), ${`:${lock}`})`
    return database.db.connection().execute(async (conn) => {
      const got = await sql<{ got: number | null }>`select get_lock(${named}, 30) as got`.execute(conn)
      if (Number(got.rows[0]?.got) !== 1) throw new Error(`could not take the lock ${lock} within 30 s`)
      try {
        return await conn.transaction().execute(fn)
      } finally {
        await sql`select release_lock(${named})`.execute(conn)
      }
    })
  }
  return transaction(database, async (trx) => {
    if (database.dialect === 'postgres')
      await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ${`:${lock}`}))`.execute(trx)
    return fn(trx)
  })
}

type TableName = keyof Tables

/**
 * On a unique conflict over `columns`, inserts nothing and raises nothing. MySQL has no
 * ON CONFLICT; its ON DUPLICATE KEY UPDATE of a column to itself changes no row (0
 * affected rows, the connection does not ask for found rows).
 */
export function onConflictDoNothing<T extends TableName>(
  database: Database,
  query: InsertQueryBuilder<Tables, T, InsertResult>,
  columns: Array<keyof Tables[T] & string>,
): InsertQueryBuilder<Tables, T, InsertResult> {
  if (database.dialect === 'mysql') {
    const first = columns[0]!
    return query.onDuplicateKeyUpdate({ [first]: sql.ref(first) } as UpdateObject<Tables, T, T>)
  }
  return query.onConflict((oc) => oc.columns(columns).doNothing())
}

/** On a unique conflict over `columns`, updates the row with `set` instead. */
export function onConflictUpdate<T extends TableName>(
  database: Database,
  query: InsertQueryBuilder<Tables, T, InsertResult>,
  columns: Array<keyof Tables[T] & string>,
  set: UpdateObject<Tables, T, T>,
): InsertQueryBuilder<Tables, T, InsertResult> {
  if (database.dialect === 'mysql') return query.onDuplicateKeyUpdate(set)
  return query.onConflict((oc) => oc.columns(columns).doUpdateSet(set as never))
}

/**
 * A locking read: the rows stay locked to the end of the transaction (`share`: against
 * writers; `update`: against writers and other locking readers). SQLite has no row locks;
 * its transactions hold the database's write lock from their start (BEGIN IMMEDIATE).
 * MariaDB spells FOR SHARE as LOCK IN SHARE MODE (MySQL 8 takes both).
 */
export function locking<Q extends Lockable<Q>>(database: Database, query: Q, mode: 'share' | 'update'): Q {
  if (database.dialect === 'sqlite') return query
  if (mode === 'update') return query.forUpdate()
  if (database.dialect === 'mysql') return query.modifyEnd(sql`lock in share mode`)
  return query.forShare()
}

/** A select query that can take a locking clause (joins and aliases included). */
type Lockable<Q> = { forUpdate(): Q; forShare(): Q; modifyEnd(modifier: Expression<unknown>): Q }

type Condition<T extends TableName> = (eb: ExpressionBuilder<Tables, T>) => Expression<SqlBool>

/**
 * Deletes up to `limit` rows of `table` that meet `condition`; how many it deleted. The
 * rows are chosen first, by their key, then deleted on the same condition: PostgreSQL has
 * no DELETE … LIMIT, and MySQL cannot delete from a table it selects from in a subquery.
 */
export async function deleteSome<T extends TableName>(
  db: Db,
  table: T,
  key: keyof Tables[T] & string,
  condition: Condition<T>,
  limit: number,
): Promise<number> {
  // Kysely cannot type a query over a table chosen by a type parameter; the casts are that.
  const d = db as unknown as Kysely<{ t: { k: unknown } }>
  const t = table as unknown as 't'
  const k = key as unknown as 'k'
  const where = condition as never
  const rows = await d.selectFrom(t).select(k).where(where).limit(limit).execute()
  if (rows.length === 0) return 0
  const keys = rows.map((r) => (r as Record<string, unknown>)[key])
  return changed(await d.deleteFrom(t).where(k, 'in', keys).where(where).executeTakeFirst())
}

/** The number of rows an UPDATE or DELETE changed. */
export const changed = (result: { numUpdatedRows?: bigint; numDeletedRows?: bigint }): number =>
  Number(result.numUpdatedRows ?? result.numDeletedRows ?? 0n)
