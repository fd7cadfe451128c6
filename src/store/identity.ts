// Users, accounts and memberships.
import { type ExpressionBuilder, type Insertable, type Kysely, type Selectable, sql } from 'kysely'
import { type Database, type Db, holdsNul, lookupOnce, mapConstraint, transaction } from './database.js'
import { toAccount, toUser } from './rows.js'
import type { Tables, UserRow } from './tables.js'
import type { AccountStore, Membership, Role, UserStore } from './types.js'

type WithId = 'users' | 'accounts' | 'notes' | 'api_keys'

/** Inserts a row with an identity column and answers it (MySQL has no RETURNING: read back by its id). */
export async function insertWithId<T extends WithId>(
  database: Database,
  db: Db,
  table: T,
  values: Insertable<Tables[T]>,
): Promise<Selectable<Tables[T]>> {
  // Kysely cannot type a query over a table chosen by a type parameter; the casts are that.
  const d = db as unknown as Kysely<Record<string, { id: number }>>
  const query = d.insertInto(table).values(values as never)
  if (database.dialect !== 'mysql') return (await query.returningAll().executeTakeFirstOrThrow()) as never
  const { insertId } = await query.executeTakeFirstOrThrow()
  return (await d
    .selectFrom(table)
    .selectAll()
    .where('id', '=', Number(insertId) as never)
    .executeTakeFirstOrThrow()) as never
}

/**
 * The user whose email is `email`, without regard to case: SQLite's and MySQL's columns
 * compare so (NOCASE, a case-insensitive collation); PostgreSQL's unique index is on
 * lower(email).
 */
export const emailIs = (database: Database, email: string) => (eb: ExpressionBuilder<Tables, 'users'>) =>
  database.dialect === 'postgres'
    ? eb(eb.fn('lower', ['email']), '=', eb.fn('lower', [eb.val(email)]))
    : eb('email', '=', email)

export function users(database: Database): UserStore {
  const { db } = database
  const byId = lookupOnce<UserRow>(database, db.selectFrom('users').selectAll().where('id', '=', 0))
  return {
    async create(u) {
      const row = await mapConstraint(() =>
        insertWithId(database, db, 'users', {
          email: u.email,
          name: u.name,
          password_hash: u.passwordHash,
          created_at: u.createdAt,
        }),
      )
      return toUser(row)
    },
    async byEmail(email) {
      if (holdsNul(email)) return undefined
      const row = await db.selectFrom('users').selectAll().where(emailIs(database, email)).executeTakeFirst()
      return row && toUser(row)
    },
    async byId(id) {
      const row = await byId(id)
      return row && toUser(row)
    },
  }
}

export function accounts(database: Database): AccountStore {
  const { db } = database
  const addMember = (d: Db, userId: number, accountId: number, role: Role, createdAt: number) =>
    d
      .insertInto('memberships')
      .values({ user_id: userId, account_id: accountId, role, created_at: createdAt })
      .execute()
  return {
    async create(a) {
      return transaction(database, async (trx) => {
        const row = await insertWithId(database, trx, 'accounts', {
          name: a.name,
          kind: a.kind,
          created_at: a.createdAt,
        })
        await addMember(trx, a.ownerId, row.id, 'owner', a.createdAt)
        return toAccount(row)
      })
    },
    async byId(id) {
      const row = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst()
      return row && toAccount(row)
    },
    async byName(name) {
      return (await db.selectFrom('accounts').selectAll().where('name', '=', name).orderBy('id').execute()).map(
        toAccount,
      )
    },
    async addMember(accountId, userId, role, createdAt) {
      await mapConstraint(() => addMember(db, userId, accountId, role, createdAt))
    },
    async membershipsOf(userId) {
      const rows = await db
        .selectFrom('memberships as m')
        .innerJoin('accounts as a', 'a.id', 'm.account_id')
        .selectAll('a')
        .select('m.role')
        .where('m.user_id', '=', userId)
        .where('m.removed_at', 'is', null)
        .orderBy(sql`a.kind = 'team'`)
        .orderBy('a.name')
        .orderBy('a.id')
        .execute()
      return rows.map((r): Membership => ({ account: toAccount(r), role: r.role }))
    },
    async roleOf(userId, accountId) {
      const row = await db
        .selectFrom('memberships')
        .select('role')
        .where('user_id', '=', userId)
        .where('account_id', '=', accountId)
        .where('removed_at', 'is', null)
        .executeTakeFirst()
      return row?.role
    },
  }
}
