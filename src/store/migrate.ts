// Versioned migrations (docs/storage.md): one history, `migrations/NNNN-name.<dialect>.sql`,
// applied with Kysely's migrator and recorded in the keygate_migration table. Instances that
// start together never apply one twice: on SQLite the migrator runs them all in one
// transaction begun IMMEDIATE (one writer); on PostgreSQL in a transaction under its
// advisory lock; on MySQL under GET_LOCK (MySQL's DDL is not transactional: a migration
// that fails half-way is named, and the next start tries it again).
import { readdirSync, readFileSync } from 'node:fs'
import { type Migration, type MigrationInfo, type MigrationProvider, Migrator, sql } from 'kysely'
import { repoPath } from '../shared/paths.js'
import type { Database, DialectName } from './database.js'
import type { Collations } from './dialects/mysql.js'

const DIR = repoPath('migrations')

/** MySQL's "table exists", "duplicate column name" and "duplicate key name". */
const MYSQL_ALREADY_MADE = new Set([1050, 1060, 1061])

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

/**
 * A MySQL migration's text with the server's collations in place of `{{exact}}` and
 * `{{caseless}}` (MariaDB and MySQL 8 name their NO PAD collations differently).
 */
export function withCollations(text: string, collations: Collations): string {
  return text.replaceAll('{{exact}}', collations.exact).replaceAll('{{caseless}}', collations.caseless)
}

/** The migrations of one dialect, by name (`0001-baseline`), from the migrations folder. */
class SqlFiles implements MigrationProvider {
  readonly #dialect: DialectName
  readonly #collations: Collations | undefined

  constructor(dialect: DialectName, collations?: Collations) {
    this.#dialect = dialect
    this.#collations = collations
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const suffix = `.${this.#dialect}.sql`
    const migrations: Record<string, Migration> = {}
    for (const file of readdirSync(DIR)
      .filter((f) => f.endsWith(suffix))
      .sort()) {
      let text = readFileSync(`${DIR}/${file}`, 'utf8')
      if (this.#collations) text = withCollations(text, this.#collations)
      const mysql = this.#dialect === 'mysql'
      migrations[file.slice(0, -suffix.length)] = {
        async up(db) {
          for (const statement of statements(text)) {
            try {
              await sql.raw(statement).execute(db)
            } catch (err) {
              // MySQL's DDL is not transactional: after a failure half-way, a re-run finds
              // some of its tables, columns and indexes made already. Those count as done.
              if (!(mysql && MYSQL_ALREADY_MADE.has((err as { errno?: number }).errno ?? 0))) throw err
            }
          }
        },
      }
    }
    return migrations
  }
}

function migratorOf(database: Database & { collations?: Collations }, schema?: string): Migrator {
  return new Migrator({
    db: database.db,
    provider: new SqlFiles(database.dialect, database.collations),
    // keygate's own names: a product's database may hold Kysely's default tables already.
    migrationTableName: 'keygate_migration',
    migrationLockTableName: 'keygate_migration_lock',
    // PostgreSQL: the migration tables live in keygate's schema (the pool's search_path).
    ...(schema && database.dialect === 'postgres' ? { migrationTableSchema: schema } : {}),
  })
}

/** Applies every pending migration; the names applied now, in order. */
export async function migrateToLatest(database: Database, schema?: string): Promise<string[]> {
  const { error, results } = await migratorOf(database, schema).migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error) {
    const name = failed ? ` ${failed.migrationName}` : ''
    throw new Error(`migration${name} failed: ${error instanceof Error ? error.message : String(error)}`)
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

export type MigrationState = { name: string; appliedAt: Date | null }

/** Every migration keygate knows, applied (with when) or pending. */
export async function migrationStatus(database: Database, schema?: string): Promise<MigrationState[]> {
  return (await migratorOf(database, schema).getMigrations()).map((m: MigrationInfo) => ({
    name: m.name,
    appliedAt: m.executedAt ?? null,
  }))
}
