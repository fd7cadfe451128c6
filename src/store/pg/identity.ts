// Users, accounts and memberships on PostgreSQL.
import type pg from 'pg'
import { type AccountRow, toAccount, toUser, type UserRow } from '../rows.js'
import type { AccountStore, Membership, Role, UserStore } from '../types.js'
import { all, holdsNul, mapConstraint, one, transaction } from './db.js'

export function pgUsers(pool: pg.Pool): UserStore {
  return {
    async create(u) {
      return toUser(
        (await mapConstraint(() =>
          one<UserRow>(
            pool,
            'INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
            [u.email, u.name, u.passwordHash, u.createdAt],
          ),
        ))!,
      )
    },
    async byEmail(email) {
      if (holdsNul(email)) return undefined
      const row = await one<UserRow>(pool, 'SELECT * FROM users WHERE lower(email) = lower($1)', [email])
      return row && toUser(row)
    },
    async byId(id) {
      const row = await one<UserRow>(pool, 'SELECT * FROM users WHERE id = $1', [id])
      return row && toUser(row)
    },
  }
}

export function pgAccounts(pool: pg.Pool): AccountStore {
  return {
    async create(a) {
      return mapConstraint(() =>
        transaction(pool, async (c) => {
          const row = (await one<AccountRow>(
            c,
            'INSERT INTO accounts (name, kind, created_at) VALUES ($1, $2, $3) RETURNING *',
            [a.name, a.kind, a.createdAt],
          ))!
          await c.query('INSERT INTO memberships (user_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)', [
            a.ownerId,
            row.id,
            'owner',
            a.createdAt,
          ])
          return toAccount(row)
        }),
      )
    },
    async byId(id) {
      const row = await one<AccountRow>(pool, 'SELECT * FROM accounts WHERE id = $1', [id])
      return row && toAccount(row)
    },
    async byName(name) {
      return (await all<AccountRow>(pool, 'SELECT * FROM accounts WHERE name = $1 ORDER BY id', [name])).map(toAccount)
    },
    async addMember(accountId, userId, role, createdAt) {
      await mapConstraint(() =>
        pool.query('INSERT INTO memberships (user_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)', [
          userId,
          accountId,
          role,
          createdAt,
        ]),
      )
    },
    async membershipsOf(userId) {
      const rows = await all<AccountRow & { role: Role }>(
        pool,
        `SELECT a.*, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id
        WHERE m.user_id = $1 ORDER BY a.kind = 'team', a.name, a.id`,
        [userId],
      )
      return rows.map((r): Membership => ({ account: toAccount(r), role: r.role }))
    },
    async roleOf(userId, accountId) {
      return (
        await one<{ role: Role }>(pool, 'SELECT role FROM memberships WHERE user_id = $1 AND account_id = $2', [
          userId,
          accountId,
        ])
      )?.role
    },
  }
}
