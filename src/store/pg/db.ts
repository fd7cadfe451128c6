// PostgreSQL (the `pg` driver): one pool, parameterised queries only, migrations applied at
// start-up (../migrate.ts). BIGINT columns come back as numbers
// (Unix seconds and row ids fit in a double).
import pg from 'pg'
import { migrateToLatest, postgresTarget } from '../migrate.js'
import { ConflictError, ForeignKeyError } from '../types.js'

const SCHEMA_LOCK = 7_325_001

pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

export type Queryable = Pick<pg.Pool, 'query'>

/** A pool whose connections use `schema` when one is set; the schema is not touched. */
export function poolFor(url: string, schema?: string): pg.Pool {
  // The schema name is checked by the configuration (a plain lowercase identifier).
  return new pg.Pool({
    connectionString: url,
    max: 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  })
}

/** Creates `schema` when it is set and missing. */
export async function ensureSchema(pool: pg.Pool, schema: string | undefined): Promise<void> {
  if (!schema) return
  const client = await pool.connect()
  try {
    // Instances starting together would race to create it.
    await client.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]).catch(() => undefined)
    client.release()
  }
}

/** Opens the pool, creating `schema` if needed, and brings the schema up to date. */
export async function openPool(url: string, schema?: string): Promise<pg.Pool> {
  const pool = poolFor(url, schema)
  try {
    await ensureSchema(pool, schema)
    await migrateToLatest(postgresTarget(pool, schema))
  } catch (err) {
    await pool.end()
    throw err
  }
  return pool
}

/**
 * PostgreSQL text cannot hold U+0000 (the query fails); no stored value holds one, so a
 * lookup by such a client-sent string finds nothing, as it does on SQLite.
 */
export const holdsNul = (text: string): boolean => text.includes('\u0000')

type PgError = Error & { code?: string; constraint?: string }

/** Maps constraint violations to the store's error types, like the SQLite store. */
export async function mapConstraint<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    const e = err as PgError
    if (e.code === '23503') throw new ForeignKeyError(e.message)
    if (e.code === '23505') throw new ConflictError(`${e.message} (${e.constraint ?? ''})`)
    throw err
  }
}

/** Runs `fn` in one transaction on one connection. */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  } finally {
    client.release()
  }
}

export async function one<R>(db: Queryable, sql: string, params: unknown[]): Promise<R | undefined> {
  const { rows } = await db.query(sql, params)
  return rows[0] as R | undefined
}

export async function all<R>(db: Queryable, sql: string, params: unknown[]): Promise<R[]> {
  const { rows } = await db.query(sql, params)
  return rows as R[]
}
