// Opens the SQLite database (better-sqlite3): WAL, foreign keys on, migrations applied
// (../migrate.ts). Translates constraint failures into the store's error types.

import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { migrateToLatest, sqliteTarget } from '../migrate.js'
import { ConflictError, ForeignKeyError } from '../types.js'

export type Db = Database.Database

/** Opens the file (created 0600 in a 0700 folder) without touching its schema. */
export function openFile(path: string): Db {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    // Created readable by its owner only; SQLite gives the -wal and -shm files the same mode.
    closeSync(openSync(path, 'a', 0o600))
  }
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  db.pragma('synchronous = NORMAL')
  return db
}

/** Opens the database and brings its schema up to date. */
export async function openDatabase(path: string): Promise<Db> {
  const db = openFile(path)
  try {
    await migrateToLatest(sqliteTarget(db))
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

type SqliteError = Error & { code?: string }

/** Runs `fn`, mapping SQLite constraint errors to ConflictError / ForeignKeyError. */
export function mapConstraint<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    const code = (err as SqliteError).code
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new ForeignKeyError((err as Error).message)
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
      throw new ConflictError((err as Error).message)
    throw err
  }
}
