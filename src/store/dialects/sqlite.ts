// SQLite (better-sqlite3) under Kysely. Kysely's own SQLite driver begins transactions
// DEFERRED and prepares every statement anew; this one begins them IMMEDIATE (the write
// lock is taken before the first read, so a transaction never has to upgrade its lock when
// another process wrote in between) and keeps each statement prepared once. One
// connection, shared in turn: a transaction holds it to its end. Checkpoints run in a
// worker thread (./checkpoint-worker.ts), off the event loop.
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { Worker } from 'node:worker_threads'
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
  // The checkpointer keeps the log short; this connection checkpoints only past this backstop.
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`)
  return db
}

/** The log's length (pages) past which the serving connection checkpoints itself: only if the checkpointer falls behind. */
const BACKSTOP_PAGES = 10_000
/** Writing statements after which the checkpointer starts: a process that writes little (a CLI command, most tests) never needs one. */
const WRITES_BEFORE_CHECKPOINTER = 100
const CHECKPOINT_INTERVAL_MS = 250

/** Runs the database's checkpoints in a worker thread once the process has written enough to need them. */
class Checkpointer {
  readonly #path: string
  #writes = 0
  /** The worker once started, and when it has exited (after a stop, or on its own after an error). */
  #started: { worker: Worker; exited: Promise<void> } | undefined
  #stopped = false

  constructor(path: string) {
    this.#path = path
  }

  wrote(): void {
    if (this.#started || this.#stopped || ++this.#writes < WRITES_BEFORE_CHECKPOINTER) return
    if (this.#path === ':memory:') return
    const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData: { path: this.#path, intervalMs: CHECKPOINT_INTERVAL_MS },
      // Not this process's flags: `-e`, `--input-type` and the like mean nothing to the worker's module.
      execArgv: [],
    })
    worker.unref()
    // A worker that failed (it could not open the file) is not started again: the serving
    // connection's backstop checkpoints the log from then on.
    worker.on('error', () => {})
    this.#started = { worker, exited: new Promise((resolve) => worker.once('exit', () => resolve())) }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (!this.#started) return
    const { worker, exited } = this.#started
    worker.ref() // an unreferenced worker's exit would not keep this process waiting for it
    worker.postMessage('stop')
    await exited
  }
}

/** Bounds the statement cache: query shapes are few, but a list of N ids is its own shape. */
const MAX_STATEMENTS = 500

class PreparedConnection implements DatabaseConnection {
  readonly #db: SqliteHandle
  readonly #statements = new Map<string, BetterSqlite3.Statement>()
  readonly #checkpointer: Checkpointer

  constructor(db: SqliteHandle, checkpointer: Checkpointer) {
    this.#db = db
    this.#checkpointer = checkpointer
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

  first<R>(sqlText: string, parameters: readonly unknown[]): R | undefined {
    return this.#statement(sqlText).get(parameters) as R | undefined
  }

  execute<R>(sqlText: string, parameters: readonly unknown[]): QueryResult<R> {
    const statement = this.#statement(sqlText)
    if (!statement.readonly) this.#checkpointer.wrote()
    if (statement.reader) return { rows: statement.all(parameters) as R[] }
    const { changes, lastInsertRowid } = statement.run(parameters)
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] }
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.execute<R>(query.sql, query.parameters)
  }

  // biome-ignore lint/correctness/useYield: the store never streams; the interface asks for the method
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite store does not stream query results')
  }
}

/** One holder of the connection at a time, in the order they asked; no promise when it is free. */
class Turns {
  #held = false
  readonly #waiting: Array<() => void> = []

  take(): Promise<void> | undefined {
    if (!this.#held) {
      this.#held = true
      return undefined
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve))
  }

  give(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#held = false
  }
}

class ImmediateDriver implements Driver {
  readonly #db: SqliteHandle
  readonly #connection: PreparedConnection
  readonly #checkpointer: Checkpointer
  readonly #turns = new Turns()

  constructor(path: string) {
    this.#db = openFile(path)
    this.#checkpointer = new Checkpointer(path)
    this.#connection = new PreparedConnection(this.#db, this.#checkpointer)
  }

  /**
   * Runs one statement in its turn, outside Kysely's executor (the bearer check's lookup:
   * Kysely's layers of promises cost more than the lookup itself). When the connection is
   * free the rows come back at once; otherwise after the transaction holding it.
   */
  first<R>(sqlText: string, parameters: readonly unknown[]): R | undefined | Promise<R | undefined> {
    const execute = () => {
      try {
        return this.#connection.first<R>(sqlText, parameters)
      } finally {
        this.#turns.give()
      }
    }
    const turn = this.#turns.take()
    return turn ? turn.then(execute) : execute()
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
    await this.#checkpointer.stop()
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
  readonly #driver: ImmediateDriver

  constructor(driver: ImmediateDriver) {
    this.#driver = driver
  }

  createDriver(): Driver {
    return this.#driver
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
  const driver = new ImmediateDriver(path)
  const db = new Kysely<Tables>({ dialect: new ImmediateSqliteDialect(driver) })
  let closed = false
  return {
    dialect: 'sqlite',
    db,
    prepare() {},
    first: (compiled, parameters) => driver.first(compiled.sql, parameters),
    async close() {
      if (closed) return
      closed = true
      await db.destroy()
    },
  }
}
