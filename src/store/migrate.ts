// Versioned migrations (docs/storage.md): one history, `migrations/NNNN-name.<dialect>.sql`,
// applied with Kysely's migrator and recorded in its kysely_migration table. Instances that
// start together never apply one twice: SQLite runs them all in one BEGIN IMMEDIATE
// transaction (one writer), PostgreSQL under the migrator's advisory lock, each migration
// in a transaction.
import { readdirSync, readFileSync } from 'node:fs'
import type Database from 'better-sqlite3'
import {
  Kysely,
  type Migration,
  type MigrationInfo,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
} from 'kysely'
import type pg from 'pg'
import { repoPath } from '../paths.js'

export type DialectName = 'sqlite' | 'postgres'

const DIR = repoPath('migrations')

/** The statements of a migration file: comments dropped, split at `;` ending a line. */
export function statements(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter(Boolean)
}

/** The migrations of one dialect, by name (`0001-baseline`), from the migrations folder. */
class SqlFiles implements MigrationProvider {
  readonly dialect: DialectName

  constructor(dialect: DialectName) {
    this.dialect = dialect
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const suffix = `.${this.dialect}.sql`
    const migrations: Record<string, Migration> = {}
    for (const file of readdirSync(DIR)
      .filter((f) => f.endsWith(suffix))
      .sort()) {
      const text = readFileSync(`${DIR}/${file}`, 'utf8')
      migrations[file.slice(0, -suffix.length)] = {
        async up(db) {
          for (const statement of statements(text)) await sql.raw(statement).execute(db)
        },
      }
    }
    return migrations
  }
}

export type MigrationTarget = {
  dialect: DialectName
  /** Runs `fn` with the migrator, under the lock that keeps instances from migrating twice. */
  withMigrator<T>(fn: (migrator: Migrator) => Promise<T>): Promise<T>
}

/**
 * The SQLite database's migrations, on the store's own connection (better-sqlite3 is one
 * connection; the Kysely instance is never destroyed, which would close it).
 */
export function sqliteTarget(db: Database.Database): MigrationTarget {
  const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) })
  const migrator = new Migrator({ db: kysely, provider: new SqlFiles('sqlite') })
  return {
    dialect: 'sqlite',
    async withMigrator(fn) {
      // Kysely runs SQLite migrations outside a transaction; this one makes them atomic and
      // takes the write lock first, so another process waits (busy_timeout) and then finds
      // them applied.
      db.exec('BEGIN IMMEDIATE')
      try {
        const result = await fn(migrator)
        db.exec('COMMIT')
        return result
      } catch (err) {
        db.exec('ROLLBACK')
        throw err
      }
    },
  }
}

/** PostgreSQL's migrations, in `schema` when one is set (the pool's search_path names it). */
export function postgresTarget(pool: pg.Pool, schema?: string): MigrationTarget {
  const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) })
  const migrator = new Migrator({
    db: kysely,
    provider: new SqlFiles('postgres'),
    ...(schema ? { migrationTableSchema: schema } : {}),
  })
  return { dialect: 'postgres', withMigrator: (fn) => fn(migrator) }
}

/** Applies every pending migration; the names applied now, in order. */
export async function migrateToLatest(target: MigrationTarget): Promise<string[]> {
  return target.withMigrator(async (migrator) => {
    const { error, results } = await migrator.migrateToLatest()
    const failed = results?.find((r) => r.status === 'Error')
    if (error) {
      const name = failed ? ` ${failed.migrationName}` : ''
      throw new Error(`migration${name} failed: ${error instanceof Error ? error.message : String(error)}`)
    }
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
  })
}

export type MigrationState = { name: string; appliedAt: Date | null }

/** Every migration keygate knows, applied (with when) or pending. */
export async function migrationStatus(target: MigrationTarget): Promise<MigrationState[]> {
  return target.withMigrator(async (migrator) =>
    (await migrator.getMigrations()).map((m: MigrationInfo) => ({ name: m.name, appliedAt: m.executedAt ?? null })),
  )
}
