// People, accounts and memberships as the product says they are (KEYGATE_LOGIN=handoff):
// keyed by the product's ids (external ids beside keygate's own), brought in line on every
// sign-in in one transaction; and the single use of the product's assertions.

import { exceeds } from '../config/roles.js'
import { type Database, type Db, deleteSome, mapConstraint, onConflictDoNothing, transaction } from './database.js'
import { emailIs, insertWithId } from './identity.js'
import type { KeyTable } from './key-table.js'
import { toUser } from './rows.js'
import {
  ConflictError,
  type MembershipChange,
  type ProductAccount,
  type ProductIdentity,
  type ProductStore,
  type Role,
  type SyncOutcome,
} from './types.js'

/** Personal accounts live in their own namespace: no product account id can name one. */
const personalIssuer = (issuer: string) => `personal:${issuer}`

async function findAccount(db: Db, issuer: string, id: string) {
  return db
    .selectFrom('accounts')
    .selectAll()
    .where('external_issuer', '=', issuer)
    .where('external_id', '=', id)
    .executeTakeFirst()
}

type MembershipRow = { account_id: number; role: Role; external_id: string | null }

/**
 * Ends a membership the product no longer lists: not a member any more (the row stays, the
 * account's keys name it); the user's keys in that account revoked and their consents there
 * deleted, in the caller's transaction.
 */
async function endMembership(
  keyTable: KeyTable,
  trx: Db,
  userId: number,
  row: MembershipRow,
  now: number,
): Promise<MembershipChange> {
  await trx
    .updateTable('memberships')
    .set({ removed_at: now })
    .where('user_id', '=', userId)
    .where('account_id', '=', row.account_id)
    .execute()
  const revokedKeys = await keyTable.revokeOf(trx, { userId, accountId: row.account_id }, now)
  await trx.deleteFrom('consents').where('user_id', '=', userId).where('account_id', '=', row.account_id).execute()
  return {
    kind: 'removed',
    accountId: row.account_id,
    externalId: row.external_id ?? '',
    role: row.role,
    revokedKeys,
  }
}

/** The user's memberships in the product's accounts (its own and the personal ones it made). */
const productMemberships = (trx: Db, userId: number, issuer: string) =>
  trx
    .selectFrom('memberships as m')
    .innerJoin('accounts as a', 'a.id', 'm.account_id')
    .select(['m.account_id', 'm.role', 'm.removed_at', 'a.external_id as external_id'])
    .where('m.user_id', '=', userId)
    .where('a.external_issuer', 'in', [issuer, personalIssuer(issuer)])
    .execute()

const byProductId = (trx: Db, issuer: string, subject: string) =>
  trx
    .selectFrom('users')
    .selectAll()
    .where('external_issuer', '=', issuer)
    .where('external_id', '=', subject)
    .executeTakeFirst()

async function syncOnce(
  database: Database,
  keyTable: KeyTable,
  p: ProductIdentity,
  now: number,
  roleScopes: Record<Role, string[]> | null,
): Promise<SyncOutcome> {
  return transaction(database, async (trx) => {
    // The user: by the product's id; else a user of that email not yet tied to anyone at the
    // product (someone who signed in with a password before the switch keeps their keys), but
    // only when the email is known to be verified: anyone can claim an address at a provider
    // that does not check it, and would become that person here.
    let user = await byProductId(trx, p.issuer, p.subject)
    const byEmail = await trx.selectFrom('users').selectAll().where(emailIs(database, p.email)).executeTakeFirst()
    if (byEmail && byEmail.id !== user?.id && (user || byEmail.external_id !== null))
      return { ok: false, reason: 'email_taken' }
    if (!user && byEmail && !p.emailVerified) return { ok: false, reason: 'email_unverified' }
    const verified = p.emailVerified ? 1 : 0
    let created = false
    if (!user && byEmail) {
      await trx
        .updateTable('users')
        .set({ external_issuer: p.issuer, external_id: p.subject, name: p.name, email_verified: verified })
        .where('id', '=', byEmail.id)
        .execute()
      user = { ...byEmail, external_issuer: p.issuer, external_id: p.subject, name: p.name, email_verified: verified }
    } else if (!user) {
      user = await insertWithId(database, trx, 'users', {
        email: p.email,
        name: p.name,
        password_hash: '',
        created_at: now,
        external_issuer: p.issuer,
        external_id: p.subject,
        email_verified: verified,
      })
      created = true
    } else if (user.email !== p.email || user.name !== p.name || Number(user.email_verified) !== verified) {
      // The provider's word on the email is its latest: an address changed and not yet verified is not.
      await trx
        .updateTable('users')
        .set({ email: p.email, name: p.name, email_verified: verified })
        .where('id', '=', user.id)
        .execute()
      user = { ...user, email: p.email, name: p.name, email_verified: verified }
    }

    // The accounts the product lists (or the user's personal one), made or renamed.
    const listed: Array<ProductAccount & { issuer: string; kind: 'personal' | 'team' }> = p.accounts
      ? p.accounts.map((a) => ({ ...a, issuer: p.issuer, kind: 'team' }))
      : [
          {
            id: p.subject,
            name: `${p.name} personal`,
            role: 'owner',
            issuer: personalIssuer(p.issuer),
            kind: 'personal',
          },
        ]
    const wanted = new Map<number, { role: Role; account: ProductAccount }>()
    for (const a of listed) {
      let account = await findAccount(trx, a.issuer, a.id)
      if (!account) {
        account = await insertWithId(database, trx, 'accounts', {
          name: a.name,
          kind: a.kind,
          created_at: now,
          external_issuer: a.issuer,
          external_id: a.id,
        })
      } else if (account.name !== a.name) {
        await trx.updateTable('accounts').set({ name: a.name }).where('id', '=', account.id).execute()
      }
      wanted.set(account.id, { role: a.role, account: a })
    }

    // Memberships in the product's accounts brought in line; keygate's own accounts untouched.
    const current = await productMemberships(trx, user.id, p.issuer)
    const changes: MembershipChange[] = []
    for (const [accountId, { role, account }] of wanted) {
      const row = current.find((m) => m.account_id === accountId)
      if (!row) {
        await trx
          .insertInto('memberships')
          .values({ user_id: user.id, account_id: accountId, role, created_at: now })
          .execute()
        changes.push({ kind: 'added', accountId, externalId: account.id, role })
      } else if (row.removed_at !== null || row.role !== role) {
        await trx
          .updateTable('memberships')
          .set({ role, removed_at: null })
          .where('user_id', '=', user.id)
          .where('account_id', '=', accountId)
          .execute()
        if (row.removed_at !== null) changes.push({ kind: 'added', accountId, externalId: account.id, role })
        else {
          // A role that may grant less: the user's keys there that exceed it are revoked.
          const allowed = roleScopes?.[role]
          let revokedKeys = 0
          if (allowed) {
            const live = await keyTable.liveOf(trx, user.id, accountId)
            const over = live.filter((k) => exceeds(allowed, k.scopes))
            revokedKeys = await keyTable.revokeIds(
              trx,
              over.map((k) => k.id),
              now,
            )
          }
          changes.push({
            kind: 'role_changed',
            accountId,
            externalId: account.id,
            role,
            previousRole: row.role,
            revokedKeys,
          })
        }
      }
    }
    for (const row of current)
      if (!wanted.has(row.account_id) && row.removed_at === null)
        changes.push(await endMembership(keyTable, trx, user.id, row, now))
    return { ok: true, user: toUser(user), created, changes }
  })
}

export function product(database: Database, keyTable: KeyTable): ProductStore {
  const { db } = database
  return {
    async sync(identity, now, roleScopes) {
      // Two first sign-ins of one person at once: the loser of the insert finds the winner's row.
      try {
        return await syncOnce(database, keyTable, identity, now, roleScopes)
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err
        return syncOnce(database, keyTable, identity, now, roleScopes)
      }
    },
    async remove(issuer, subject, now) {
      return transaction(database, async (trx) => {
        const user = await byProductId(trx, issuer, subject)
        if (!user) return undefined
        const changes: MembershipChange[] = []
        for (const row of await productMemberships(trx, user.id, issuer))
          if (row.removed_at === null) changes.push(await endMembership(keyTable, trx, user.id, row, now))
        return { user: toUser(user), changes }
      })
    },
    async useAssertion(issuer, jti, expiresAt) {
      const result = await mapConstraint(() =>
        onConflictDoNothing(database, db.insertInto('used_assertions').values({ issuer, jti, expires_at: expiresAt }), [
          'issuer',
          'jti',
        ]).executeTakeFirst(),
      )
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1
    },
    async deleteUsedAssertions(now, limit) {
      return deleteSome(db, 'used_assertions', 'jti', (eb) => eb('expires_at', '<', now), limit)
    },
  }
}
