// The embedded SQLite store: one file, WAL, shared safely by several processes on one machine.
import type { Store } from '../types.js'
import { openDatabase } from './db.js'
import { sqliteAccounts, sqliteUsers } from './identity.js'
import { sqliteClients, sqliteConsents, sqliteKeys, sqliteRefresh } from './oauth.js'
import { sqliteAudit, sqliteNotes, sqliteSessions, sqliteSignins } from './records.js'

export async function createSqliteStore(path: string): Promise<Store> {
  const db = await openDatabase(path)
  const ping = db.prepare('SELECT 1')
  return {
    users: sqliteUsers(db),
    accounts: sqliteAccounts(db),
    clients: sqliteClients(db),
    consents: sqliteConsents(db),
    keys: sqliteKeys(db),
    refresh: sqliteRefresh(db),
    audit: sqliteAudit(db),
    notes: sqliteNotes(db),
    signins: sqliteSignins(db),
    sessions: sqliteSessions(db),
    async ping() {
      return ping.get() !== undefined
    },
    async close() {
      db.close()
    },
  }
}
