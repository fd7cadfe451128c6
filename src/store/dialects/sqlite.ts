// SQLite (better-sqlite3) under Kysely. Kysely's own SQLite driver begins transactions
// DEFERRED and prepares every statement anew; this one begins them IMMEDIATE (the write
// lock is taken before the first read, so a transaction never has to upgrade its lock when
// another process wrote in between) and keeps each statement prepared once. One
// connection, shared in turn: a transaction holds it to its end.
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely'
import type { Database } from '../database.js'
import type { Tables } from '../tables.js'

export type SqliteHandle = BetterSqlite3.Database

/** Opens the file (created 0600 in a 0700 folder) without touching its schema. */
export function openFile(path: string): SqliteHandle {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    // Created readable by its owner only; SQLite gives the -wal and -shm files the same mode.
    closeSync(openSync(path, 'a', 0o600))
  }
  const db = new BetterSqlite3(path)
  db.pragma('journal_mode = WAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  db.pragma('synchronous = NORMAL')
  return db
}

/** Bounds the statement cache: query shapes are few, but a list of N ids is its own shape. */
const MAX_STATEMENTS = 500

class PreparedConnection implements DatabaseConnection {
  readonly #db: SqliteHandle
  readonly #statements = new Map<string, BetterSqlite3.Statement>()

  constructor(db: SqliteHandle) {
    this.#db = db
  }

  #statement(text: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(text)
    if (!statement) {
      if (this.#statements.size >= MAX_STATEMENTS) this.#statements.clear()
      statement = this.#db.prepare(text)
      this.#statements.set(text, statement)
    }
    return statement
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.#statement(query.sql)
    const parameters = query.parameters as unknown[]
    if (statement.reader) return { rows: statement.all(parameters) as R[] }
    const { changes, lastInsertRowid } = statement.run(parameters)
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] }
  }

  // biome-ignore lint/correctness/useYield: the store never streams; the interface asks for the method
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite store does not stream query results')
  }
}

/** One holder of the connection at a time, in the order they asked. */
class Turns {
  #tail: Promise<void> = Promise.resolve()
  #release: (() => void) | undefined

  async take(): Promise<void> {
    const previous = this.#tail
    let release!: () => void
    this.#tail = new Promise<void>((resolve) => {
      release = resolve
    })
    await previous
    this.#release = release
  }

  give(): void {
    const release = this.#release
    this.#release = undefined
    release?.()
  }
}

class ImmediateDriver implements Driver {
  readonly #db: SqliteHandle
  readonly #connection: PreparedConnection
  readonly #turns = new Turns()

  constructor(db: SqliteHandle) {
    this.#db = db
    this.#connection = new PreparedConnection(db)
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#turns.take()
    return this.#connection
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('COMMIT'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('ROLLBACK'))
  }

  async releaseConnection(): Promise<void> {
    this.#turns.give()
  }

  async destroy(): Promise<void> {
    if (this.#db.open) this.#db.close()
  }
}

/** SQLite's DDL is transactional: the migrator runs all pending migrations in one transaction. */
class TransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }
}

class ImmediateSqliteDialect implements Dialect {
  readonly #db: SqliteHandle

  constructor(db: SqliteHandle) {
    this.#db = db
  }

  createDriver(): Driver {
    return new ImmediateDriver(this.#db)
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler()
  }

  createAdapter() {
    return new TransactionalDdlAdapter()
  }

  createIntrospector(db: Kysely<unknown>) {
    return new SqliteIntrospector(db)
  }
}

/** The database file, opened; its schema untouched. */
export function sqliteDatabase(path: string): Database {
  const handle = openFile(path)
  const db = new Kysely<Tables>({ dialect: new ImmediateSqliteDialect(handle) })
  let closed = false
  return {
    dialect: 'sqlite',
    db,
    prepare() {},
    async close() {
      if (closed) return
      closed = true
      await db.destroy()
    },
  }
}
