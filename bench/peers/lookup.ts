// The key lookup every peer does, as keygate 0.1.0 did it: SHA-256 of the bearer token, one
// prepared statement against keygate's own SQLite table. Peers with auth use it, so that
// they and keygate check the same key against the same rows.
import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'

export type KeyRow = { account_id: number; scopes: string; revoked_at: number | null; expires_at: number | null }

export function keyLookup(dbPath: string): (token: string | undefined) => KeyRow | undefined {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true })
  const statement = db.prepare('SELECT account_id, scopes, revoked_at, expires_at FROM api_keys WHERE key_hash = ?')
  return (token) => {
    if (!token) return undefined
    const row = statement.get(createHash('sha256').update(token).digest('hex')) as KeyRow | undefined
    if (!row || row.revoked_at !== null) return undefined
    if (row.expires_at !== null && row.expires_at <= Date.now() / 1000) return undefined
    return row
  }
}

export const bearer = (header: string | undefined) => /^Bearer (\S+)$/.exec(header ?? '')?.[1]
