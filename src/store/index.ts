// Chooses the store: PostgreSQL when KEYGATE_DATABASE_URL is set, else the SQLite file.
import type { Config } from '../config.js'
import type { MigrationTarget } from './migrate.js'
import type { Store } from './types.js'

export async function createStore(config: Config): Promise<Store> {
  if (config.databaseUrl) {
    const { createPgStore } = await import('./pg/index.js')
    return createPgStore(config.databaseUrl, config.databaseSchema)
  }
  const { createSqliteStore } = await import('./sqlite/index.js')
  return createSqliteStore(config.dbPath)
}

/**
 * `keygate migrate`: applies pending migrations and names them; with `status`, lists every
 * migration as applied (with when) or pending, and applies nothing.
 */
export async function migrateCommand(config: Config, status: boolean, out: (line: string) => void): Promise<void> {
  const { migrateToLatest, migrationStatus, postgresTarget, sqliteTarget } = await import('./migrate.js')
  let target: MigrationTarget
  let close: () => Promise<void>
  if (config.databaseUrl) {
    const { ensureSchema, poolFor } = await import('./pg/db.js')
    const pool = poolFor(config.databaseUrl, config.databaseSchema)
    if (!status) await ensureSchema(pool, config.databaseSchema)
    target = postgresTarget(pool, config.databaseSchema)
    close = () => pool.end()
  } else {
    const { openFile } = await import('./sqlite/db.js')
    const db = openFile(config.dbPath)
    target = sqliteTarget(db)
    close = async () => void db.close()
  }
  try {
    if (status) {
      for (const m of await migrationStatus(target))
        out(`${m.name}  ${m.appliedAt ? `applied ${m.appliedAt.toISOString()}` : 'pending'}`)
      return
    }
    const applied = await migrateToLatest(target)
    out(applied.length ? `keygate: applied ${applied.join(', ')}` : 'keygate: the database is up to date')
  } finally {
    await close()
  }
}
