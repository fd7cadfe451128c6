// PostgreSQL (pg) under Kysely: one pool, its connections in keygate's schema when one is
// set. Statements marked prepared run as named statements, parsed once per connection.
import { createHash } from 'node:crypto'
import {
  type DatabaseIntrospector,
  Kysely,
  PostgresDialect,
  type PostgresPool,
  type PostgresPoolClient,
  sql,
  type TableMetadata,
} from 'kysely'
import pg from 'pg'
import { type Database, firstThroughKysely } from '../database.js'
import type { Tables } from '../tables.js'

const SCHEMA_LOCK = 7_325_001

// BIGINT columns come back as numbers (Unix seconds and row ids fit in a double).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

/** A pool whose connections use `schema` when one is set; the schema is not touched. */
export function poolFor(url: string, schema?: string): pg.Pool {
  // The schema name is checked by the configuration (a plain lowercase identifier).
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // Named for whoever looks at pg_stat_activity.
    application_name: schema ? `keygate:${schema}` : 'keygate',
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  })
  // An idle connection the server ends (a restart, an administrator, a proxy's time-out) is
  // an 'error' event on the pool, which would otherwise stop the process: the pool drops
  // that connection and the next query opens a new one.
  pool.on('error', () => undefined)
  return pool
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

/** The pool as Kysely sees it, running the statements named in `names` as prepared ones. */
function preparingPool(pool: pg.Pool, names: Map<string, string>): PostgresPool {
  // One wrapper per pooled client, so Kysely sees the same connection each time.
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>()
  const wrap = (client: pg.PoolClient): PostgresPoolClient =>
    ({
      query(text: unknown, parameters?: ReadonlyArray<unknown>) {
        const name = typeof text === 'string' ? names.get(text) : undefined
        if (name) return client.query({ name, text: text as string, values: [...(parameters ?? [])] })
        return client.query(text as string, parameters ? [...parameters] : undefined)
      },
      release: (destroy?: boolean) => client.release(destroy),
    }) as never
  return {
    async connect() {
      const client = await pool.connect()
      let wrapper = wrappers.get(client)
      if (!wrapper) {
        wrapper = wrap(client)
        wrappers.set(client, wrapper)
      }
      return wrapper
    },
    end: () => pool.end(),
  }
}

/**
 * What the migrator asks of the database: which schemas and which tables exist, looked up
 * in keygate's schema only. (Kysely's own introspector reads every column of every table of
 * every schema, which is slow in a product's large database and fails when another schema
 * is dropped meanwhile.)
 */
class SchemaIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>
  readonly #schema: string | undefined

  constructor(db: Kysely<unknown>, schema: string | undefined) {
    this.#db = db
    this.#schema = schema
  }

  async getSchemas() {
    const { rows } = await sql<{ name: string }>`SELECT nspname AS name FROM pg_catalog.pg_namespace`.execute(this.#db)
    return rows
  }

  async getTables(): Promise<TableMetadata[]> {
    const schema = this.#schema === undefined ? sql`current_schema()` : sql`${this.#schema}`
    const { rows } = await sql<{ name: string; schema: string; kind: string }>`
      SELECT c.relname AS name, n.nspname AS schema, c.relkind AS kind
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p', 'v')`.execute(this.#db)
    return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === 'v', columns: [] }))
  }

  async getMetadata() {
    return { tables: await this.getTables() }
  }
}

class KeygatePostgresDialect extends PostgresDialect {
  readonly #schema: string | undefined

  constructor(pool: PostgresPool, schema: string | undefined) {
    super({ pool })
    this.#schema = schema
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SchemaIntrospector(db, this.#schema)
  }
}

/** The pool and a Kysely instance over it; the schema is created when missing, its tables are not. */
export async function postgresDatabase(url: string, schema?: string): Promise<Database> {
  const pool = poolFor(url, schema)
  try {
    await ensureSchema(pool, schema)
  } catch (err) {
    await pool.end()
    throw err
  }
  const names = new Map<string, string>()
  const db = new Kysely<Tables>({ dialect: new KeygatePostgresDialect(preparingPool(pool, names), schema) })
  return {
    dialect: 'postgres',
    db,
    prepare(text) {
      names.set(text, `kg_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`)
    },
    first: (compiled, parameters) => firstThroughKysely(db, compiled, parameters),
    async close() {
      if (pool.ending) return // closing twice is harmless, as with SQLite
      await db.destroy()
    },
  }
}
