// The store: one implementation over Kysely (a module per concern), on the database the
// configuration names: SQLite by default, PostgreSQL or MySQL/MariaDB by KEYGATE_DATABASE_URL.
import type { Config, KeyMapping } from '../config/index.js'
import { admin } from './admin.js'
import { audit } from './audit.js'
import { clients, consents } from './clients.js'
import type { Database } from './database.js'
import { devices } from './devices.js'
import { accounts, users } from './identity.js'
import { keys } from './keys.js'
import { checkMapping, type TableShape } from './mapped-check.js'
import { mappedKeys } from './mapped-keys.js'
import { migrateToLatest, migrationStatus } from './migrate.js'
import { notes } from './notes.js'
import { product } from './product.js'
import { refreshTokens } from './refresh.js'
import { sessions, signins } from './sessions.js'
import { signingKeys } from './signing.js'
import type { Store } from './types.js'

/** Opens the configured database; its schema is not touched. */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'databaseSchema' | 'dbPath'>,
): Promise<Database> {
  const url = config.databaseUrl
  if (url?.startsWith('mysql:')) {
    const { mysqlDatabase } = await import('./dialects/mysql.js')
    return mysqlDatabase(url, config.databaseSchema)
  }
  if (url) {
    const { postgresDatabase } = await import('./dialects/postgres.js')
    return postgresDatabase(url, config.databaseSchema)
  }
  const { sqliteDatabase } = await import('./dialects/sqlite.js')
  return sqliteDatabase(config.dbPath)
}

/** The store's modules over an open database whose schema is up to date. */
export function storeOver(database: Database, mapped?: { mapping: KeyMapping; shape: TableShape }): Store {
  const keyTable = mapped ? mappedKeys(database, mapped.mapping, mapped.shape) : keys(database)
  return {
    users: users(database),
    accounts: accounts(database),
    clients: clients(database, keyTable),
    consents: consents(database, keyTable),
    keys: keyTable,
    refresh: refreshTokens(database, keyTable.refreshTable),
    audit: audit(database),
    notes: notes(database),
    signins: signins(database),
    sessions: sessions(database),
    product: product(database, keyTable),
    devices: devices(database),
    admin: admin(database, keyTable),
    signingKeys: signingKeys(database),
    async ping() {
      const { rows } = await database.db.executeQuery<{ one: number }>({
        ...database.db.selectNoFrom((eb) => eb.lit(1).as('one')).compile(),
      })
      return rows.length === 1
    },
    close: () => database.close(),
  }
}

/** Opens the database, applies pending migrations, and answers the store. */
/**
 * Opens the database, applies pending migrations, checks the product's key table against
 * its mapping (when there is one), and answers the store.
 */
export async function createStore(
  config: Pick<Config, 'databaseUrl' | 'databaseSchema' | 'dbPath'> & { keys?: Config['keys'] },
): Promise<Store> {
  const database = await openDatabase(config)
  const mapping = config.keys?.mapping
  let shape: TableShape | undefined
  try {
    await migrateToLatest(database, config.databaseSchema)
    if (mapping) shape = await checkMapping(database, mapping)
  } catch (err) {
    await database.close()
    throw err
  }
  return storeOver(database, mapping && { mapping, shape: shape! })
}

/**
 * `keygate migrate`: applies pending migrations and names them; with `status`, lists every
 * migration as applied (with when) or pending, and applies nothing.
 */
export async function migrateCommand(config: Config, status: boolean, out: (line: string) => void): Promise<void> {
  const database = await openDatabase(config)
  try {
    if (status) {
      for (const m of await migrationStatus(database, config.databaseSchema))
        out(`${m.name}  ${m.appliedAt ? `applied ${m.appliedAt.toISOString()}` : 'pending'}`)
      return
    }
    const applied = await migrateToLatest(database, config.databaseSchema)
    out(applied.length ? `keygate: applied ${applied.join(', ')}` : 'keygate: the database is up to date')
  } finally {
    await database.close()
  }
}
