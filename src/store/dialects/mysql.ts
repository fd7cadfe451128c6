// MySQL 8 and MariaDB (mysql2) under Kysely: one pool, in keygate's own database when one
// is named (created if missing). Statements marked prepared run as server-side prepared
// statements (mysql2's execute, cached per connection).
import { Kysely, MysqlDialect, type MysqlPool, type MysqlPoolConnection } from 'kysely'
import mysql from 'mysql2'
import { type Database, firstThroughKysely } from '../database.js'
import type { Tables } from '../tables.js'

/**
 * The collations keygate's tables use, by server: exact and NO PAD for identifiers and
 * hashes ('abc ' is not 'abc'), case-insensitive (and NO PAD) for email addresses.
 */
export type Collations = { exact: string; caseless: string }

export function collationsFor(version: string): Collations {
  return /mariadb/i.test(version)
    ? { exact: 'utf8mb4_nopad_bin', caseless: 'utf8mb4_unicode_nopad_ci' }
    : { exact: 'utf8mb4_0900_bin', caseless: 'utf8mb4_0900_as_ci' }
}

const connectionOptions = (url: string, database?: string): mysql.PoolOptions => ({
  uri: url,
  ...(database ? { database } : {}),
  charset: 'utf8mb4',
  // Without FOUND_ROWS, an UPDATE or ON DUPLICATE KEY UPDATE that changes nothing reports 0
  // affected rows: how the store sees that an insert met an existing row.
  flags: ['-FOUND_ROWS'],
  // Times in a product's DATETIME / TIMESTAMP columns (KEYGATE_KEYS_TABLE) are read and written as UTC.
  timezone: 'Z',
  connectionLimit: 10,
})

/** The server's collations, and keygate's database created (in the exact collation) if missing. */
async function prepareServer(url: string, database: string | undefined): Promise<Collations> {
  const connection = mysql.createConnection(connectionOptions(url)).promise()
  try {
    const [rows] = await connection.query('SELECT VERSION() AS version')
    const collations = collationsFor(String((rows as Array<{ version: string }>)[0]!.version))
    // The name is checked by the configuration (a plain lowercase identifier).
    if (database)
      await connection.query(
        `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE ${collations.exact}`,
      )
    return collations
  } finally {
    await connection.end()
  }
}

/** The pool as Kysely sees it, running the statements in `prepared` through execute(). */
function preparingPool(pool: mysql.Pool, prepared: Set<string>): MysqlPool {
  type Raw = mysql.PoolConnection
  const wrappers = new WeakMap<Raw, MysqlPoolConnection>()
  const wrap = (raw: Raw): MysqlPoolConnection =>
    ({
      query(text: string, parameters: unknown[], callback?: (err: unknown, result: unknown) => void) {
        if (callback && prepared.has(text)) return raw.execute(text, parameters as never, callback as never)
        return callback ? raw.query(text, parameters, callback as never) : raw.query(text, parameters as never)
      },
      release: () => raw.release(),
    }) as never
  return {
    getConnection(callback) {
      pool.getConnection((err, raw) => {
        if (err) return callback(err, undefined as never)
        let wrapper = wrappers.get(raw)
        if (!wrapper) {
          wrapper = wrap(raw)
          wrappers.set(raw, wrapper)
        }
        callback(null, wrapper)
      })
    },
    end: (callback) => pool.end(callback),
  }
}

export type MysqlDatabase = Database & { collations: Collations }

/** The pool and a Kysely instance over it; the database is created when missing, its tables are not. */
export async function mysqlDatabase(url: string, database?: string): Promise<MysqlDatabase> {
  const collations = await prepareServer(url, database)
  const pool = mysql.createPool(connectionOptions(url, database))
  const prepared = new Set<string>()
  const db = new Kysely<Tables>({ dialect: new MysqlDialect({ pool: preparingPool(pool, prepared) }) })
  let closed = false
  return {
    dialect: 'mysql',
    db,
    collations,
    prepare(text) {
      prepared.add(text)
    },
    first: (compiled, parameters) => firstThroughKysely(db, compiled, parameters),
    async close() {
      if (closed) return
      closed = true
      await db.destroy()
    },
  }
}
