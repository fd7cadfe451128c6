// What operators (CLI) and account owners (dashboard) change by hand: users disabled or
// removed, passwords set, members added, removed or given another role. Each change and
// what it takes with it (keys revoked, consents deleted) is one transaction.

import { exceeds } from '../config/roles.js'
import { changed, type Database, type Db, transaction } from './database.js'
import type { KeyTable } from './key-table.js'
import { toAccount, toUser } from './rows.js'
import type { Account, Role, User } from './types.js'

export type MemberListing = { user: User; role: Role; createdAt: number }

export type MemberChange =
  | { ok: true; previousRole: Role; revokedKeys: number }
  | { ok: false; reason: 'not_member' | 'last_owner' }

export interface AdminStore {
  listUsers(): Promise<User[]>
  listAccounts(): Promise<Array<Account & { members: number }>>
  /** The account's members now (memberships ended are not listed). */
  membersOf(accountId: number): Promise<MemberListing[]>
  /** No sign-in, no keys: disabled_at set, keys revoked, consents and device approvals deleted. */
  disableUser(userId: number, now: number): Promise<{ revokedKeys: number } | undefined>
  /**
   * Disabled, every membership ended, and the email freed for someone else. The row stays for
   * the audit log. Refused (nothing changed) while the user is the only owner of a team account.
   */
  removeUser(
    userId: number,
    now: number,
  ): Promise<{ ok: true; revokedKeys: number } | { ok: false; lastOwnerOf: Account[] } | undefined>
  setPassword(userId: number, passwordHash: string): Promise<boolean>
  /** Adds a member, or brings back one whose membership ended; false when they are a member already. */
  addMember(accountId: number, userId: number, role: Role, now: number): Promise<boolean>
  /** Ends a membership: the member's keys in the account revoked, their consents there deleted. */
  removeMember(accountId: number, userId: number, now: number): Promise<MemberChange>
  /** Another role; keys that exceed what the new role may grant are revoked. */
  setRole(
    accountId: number,
    userId: number,
    role: Role,
    now: number,
    roleScopes: Record<Role, string[]> | null,
  ): Promise<MemberChange>
}

async function membership(trx: Db, accountId: number, userId: number) {
  return trx
    .selectFrom('memberships')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('removed_at', 'is', null)
    .executeTakeFirst()
}

/**
 * Locks the accounts' rows for the rest of the transaction (in id order, so two transactions
 * never wait on each other), before their owners are counted: two owners demoting or removing
 * each other at once would otherwise each count two owners and leave none. SQLite's
 * transactions take the one write lock already.
 */
async function lockAccounts(database: Database, trx: Db, accountIds: number[]): Promise<void> {
  if (database.dialect === 'sqlite' || accountIds.length === 0) return
  await trx
    .selectFrom('accounts')
    .select('id')
    .where(
      'id',
      'in',
      [...accountIds].sort((a, b) => a - b),
    )
    .orderBy('id')
    .forUpdate()
    .execute()
}

/**
 * The account's owners now, counted from their rows locked (a locking read: on MySQL a plain
 * read would answer from the transaction's snapshot, taken before the account's lock).
 */
async function owners(database: Database, trx: Db, accountId: number): Promise<number> {
  const query = trx
    .selectFrom('memberships')
    .select('user_id')
    .where('account_id', '=', accountId)
    .where('role', '=', 'owner')
    .where('removed_at', 'is', null)
  return (await (database.dialect === 'sqlite' ? query : query.forUpdate()).execute()).length
}

export function admin(database: Database, keyTable: KeyTable): AdminStore {
  const { db } = database

  async function disable(trx: Db, userId: number, now: number): Promise<number | undefined> {
    const user = await trx.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()
    if (!user) return undefined
    await trx
      .updateTable('users')
      .set({ disabled_at: now })
      .where('id', '=', userId)
      .where('disabled_at', 'is', null)
      .execute()
    const revokedKeys = await keyTable.revokeOf(trx, { userId }, now)
    await trx.deleteFrom('consents').where('user_id', '=', userId).execute()
    await trx.deleteFrom('device_grants').where('user_id', '=', userId).execute()
    return revokedKeys
  }

  return {
    async listUsers() {
      return (await db.selectFrom('users').selectAll().orderBy('id').execute()).map(toUser)
    },
    async listAccounts() {
      const rows = await db
        .selectFrom('accounts as a')
        .selectAll('a')
        .select((eb) =>
          eb
            .selectFrom('memberships as m')
            .select((m) => m.fn.countAll().as('n'))
            .whereRef('m.account_id', '=', 'a.id')
            .where('m.removed_at', 'is', null)
            .as('members'),
        )
        .orderBy('a.id')
        .execute()
      return rows.map((r) => ({ ...toAccount(r), members: Number(r.members) }))
    },
    async membersOf(accountId) {
      const rows = await db
        .selectFrom('memberships as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .selectAll('u')
        .select(['m.role', 'm.created_at as member_since'])
        .where('m.account_id', '=', accountId)
        .where('m.removed_at', 'is', null)
        .orderBy('u.email')
        .execute()
      return rows.map((r) => ({ user: toUser(r), role: r.role, createdAt: Number(r.member_since) }))
    },
    async disableUser(userId, now) {
      return transaction(database, async (trx) => {
        const revokedKeys = await disable(trx, userId, now)
        return revokedKeys === undefined ? undefined : { revokedKeys }
      })
    },
    async removeUser(userId, now) {
      return transaction(database, async (trx) => {
        // The team accounts the user owns, locked; those where they are the only owner refuse.
        const owned = await trx
          .selectFrom('memberships as m')
          .innerJoin('accounts as a', 'a.id', 'm.account_id')
          .selectAll('a')
          .where('m.user_id', '=', userId)
          .where('m.role', '=', 'owner')
          .where('m.removed_at', 'is', null)
          .where('a.kind', '=', 'team')
          .orderBy('a.id')
          .execute()
        await lockAccounts(
          database,
          trx,
          owned.map((a) => a.id),
        )
        const lastOwnerOf = []
        for (const a of owned) if ((await owners(database, trx, a.id)) <= 1) lastOwnerOf.push(toAccount(a))
        if (lastOwnerOf.length > 0) return { ok: false as const, lastOwnerOf }
        const revokedKeys = await disable(trx, userId, now)
        if (revokedKeys === undefined) return undefined
        await trx
          .updateTable('memberships')
          .set({ removed_at: now })
          .where('user_id', '=', userId)
          .where('removed_at', 'is', null)
          .execute()
        // The address may be given to someone else; the row stays for the audit log's sake.
        await trx
          .updateTable('users')
          .set({ email: `removed-${userId}@invalid`, password_hash: '' })
          .where('id', '=', userId)
          .execute()
        return { ok: true as const, revokedKeys }
      })
    },
    async setPassword(userId, passwordHash) {
      return (
        changed(
          await db
            .updateTable('users')
            .set({ password_hash: passwordHash })
            .where('id', '=', userId)
            .executeTakeFirst(),
        ) === 1
      )
    },
    async addMember(accountId, userId, role, now) {
      return transaction(database, async (trx) => {
        const row = await trx
          .selectFrom('memberships')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('user_id', '=', userId)
          .executeTakeFirst()
        if (row && row.removed_at === null) return false
        if (row)
          await trx
            .updateTable('memberships')
            .set({ role, removed_at: null })
            .where('account_id', '=', accountId)
            .where('user_id', '=', userId)
            .execute()
        else
          await trx
            .insertInto('memberships')
            .values({ account_id: accountId, user_id: userId, role, created_at: now })
            .execute()
        return true
      })
    },
    async removeMember(accountId, userId, now) {
      return transaction(database, async (trx): Promise<MemberChange> => {
        await lockAccounts(database, trx, [accountId])
        const row = await membership(trx, accountId, userId)
        if (!row) return { ok: false, reason: 'not_member' }
        if (row.role === 'owner' && (await owners(database, trx, accountId)) <= 1)
          return { ok: false, reason: 'last_owner' }
        await trx
          .updateTable('memberships')
          .set({ removed_at: now })
          .where('account_id', '=', accountId)
          .where('user_id', '=', userId)
          .execute()
        const revokedKeys = await keyTable.revokeOf(trx, { userId, accountId }, now)
        await trx.deleteFrom('consents').where('user_id', '=', userId).where('account_id', '=', accountId).execute()
        return { ok: true, previousRole: row.role, revokedKeys }
      })
    },
    async setRole(accountId, userId, role, now, roleScopes) {
      return transaction(database, async (trx): Promise<MemberChange> => {
        await lockAccounts(database, trx, [accountId])
        const row = await membership(trx, accountId, userId)
        if (!row) return { ok: false, reason: 'not_member' }
        if (row.role === 'owner' && role !== 'owner' && (await owners(database, trx, accountId)) <= 1)
          return { ok: false, reason: 'last_owner' }
        await trx
          .updateTable('memberships')
          .set({ role })
          .where('account_id', '=', accountId)
          .where('user_id', '=', userId)
          .execute()
        const allowed = roleScopes?.[role]
        let revokedKeys = 0
        if (allowed) {
          const live = await keyTable.liveOf(trx, userId, accountId)
          const over = live.filter((k) => exceeds(allowed, k.scopes))
          revokedKeys = await keyTable.revokeIds(
            trx,
            over.map((k) => k.id),
            now,
          )
        }
        return { ok: true, previousRole: row.role, revokedKeys }
      })
    },
  }
}
