// Users, accounts and memberships on SQLite.

import { type AccountRow, toAccount, toUser, type UserRow } from '../rows.js'
import type { AccountStore, Membership, Role, UserStore } from '../types.js'
import { type Db, mapConstraint } from './db.js'

export function sqliteUsers(db: Db): UserStore {
  const insert = db.prepare<[string, string, string, number], UserRow>(
    'INSERT INTO users (email, name, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING *',
  )
  const byEmail = db.prepare<[string], UserRow>('SELECT * FROM users WHERE email = ?')
  const byId = db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?')
  return {
    async create(u) {
      return toUser(mapConstraint(() => insert.get(u.email, u.name, u.passwordHash, u.createdAt)!))
    },
    async byEmail(email) {
      const row = byEmail.get(email)
      return row && toUser(row)
    },
    async byId(id) {
      const row = byId.get(id)
      return row && toUser(row)
    },
  }
}

export function sqliteAccounts(db: Db): AccountStore {
  const insert = db.prepare<[string, string, number], AccountRow>(
    'INSERT INTO accounts (name, kind, created_at) VALUES (?, ?, ?) RETURNING *',
  )
  const addMember = db.prepare<[number, number, Role, number]>(
    'INSERT INTO memberships (user_id, account_id, role, created_at) VALUES (?, ?, ?, ?)',
  )
  const byId = db.prepare<[number], AccountRow>('SELECT * FROM accounts WHERE id = ?')
  const byName = db.prepare<[string], AccountRow>('SELECT * FROM accounts WHERE name = ? ORDER BY id')
  const memberships = db.prepare<[number], AccountRow & { role: Role }>(
    `SELECT a.*, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
     WHERE m.user_id = ? ORDER BY a.kind = 'team', a.name, a.id`,
  )
  const roleOf = db.prepare<[number, number], { role: Role }>(
    'SELECT role FROM memberships WHERE user_id = ? AND account_id = ?',
  )
  const createWithOwner = db.transaction((name: string, kind: string, ownerId: number, at: number) => {
    const row = insert.get(name, kind, at)!
    addMember.run(ownerId, row.id, 'owner', at)
    return row
  })
  return {
    async create(a) {
      return toAccount(mapConstraint(() => createWithOwner(a.name, a.kind, a.ownerId, a.createdAt)))
    },
    async byId(id) {
      const row = byId.get(id)
      return row && toAccount(row)
    },
    async byName(name) {
      return byName.all(name).map(toAccount)
    },
    async addMember(accountId, userId, role, createdAt) {
      mapConstraint(() => addMember.run(userId, accountId, role, createdAt))
    },
    async membershipsOf(userId) {
      return memberships.all(userId).map((r): Membership => ({ account: toAccount(r), role: r.role }))
    },
    async roleOf(userId, accountId) {
      return roleOf.get(userId, accountId)?.role
    },
  }
}
