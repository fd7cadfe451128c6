// The PostgreSQL store, for several instances on several machines: one pool, the same
// contract and the same atomicity as the SQLite store, one module per concern.
import type { Store } from '../types.js'
import { openPool } from './db.js'
import { pgAccounts, pgUsers } from './identity.js'
import { pgClients, pgConsents, pgKeys, pgRefresh } from './oauth.js'
import { pgAudit, pgNotes, pgSessions, pgSignins } from './records.js'

export async function createPgStore(url: string, schema?: string): Promise<Store> {
  const pool = await openPool(url, schema)
  return {
    users: pgUsers(pool),
    accounts: pgAccounts(pool),
    clients: pgClients(pool),
    consents: pgConsents(pool),
    keys: pgKeys(pool),
    refresh: pgRefresh(pool),
    audit: pgAudit(pool),
    notes: pgNotes(pool),
    signins: pgSignins(pool),
    sessions: pgSessions(pool),
    async ping() {
      return (await pool.query('SELECT 1')).rowCount === 1
    },
    async close() {
      if (pool.ending) return // closing twice is harmless, as with SQLite
      await pool.end()
    },
  }
}
