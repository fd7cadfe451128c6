// Opens the SQLite database (better-sqlite3): WAL, foreign keys on, schema.sql applied
// idempotently. Translates constraint failures into the store's error types.

import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { repoPath } from '../../paths.js'
import { ConflictError, ForeignKeyError } from '../types.js'

export const SCHEMA_PATH = repoPath('schema.sql')

export type Db = Database.Database

export function openDatabase(path: string): Db {
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
  db.exec(readFileSync(SCHEMA_PATH, 'utf8'))
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
