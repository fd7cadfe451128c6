// Chooses the store: PostgreSQL when KEYGATE_DATABASE_URL is set, else the SQLite file.
import type { Config } from '../config.js'
import type { Store } from './types.js'

export async function createStore(config: Config): Promise<Store> {
  if (config.databaseUrl) {
    const { createPgStore } = await import('./pg/index.js')
    return createPgStore(config.databaseUrl, config.databaseSchema)
  }
  const { createSqliteStore } = await import('./sqlite/index.js')
  return createSqliteStore(config.dbPath)
}
