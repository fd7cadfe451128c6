// The storage contract for people and accounts that come from the product (sign-in through
// the product, provisioning): its view of them, and what a sync changes.
import type { Role, User } from './types.js'

/** An account as the product names it, and the user's role in it. */
export type ProductAccount = { id: string; name: string; role: Role }

/** Who signed in, as the product says: its issuer, its id for the user, and their accounts (null: a personal one). */
export type ProductIdentity = {
  issuer: string
  subject: string
  email: string
  /** The provider or the product verified the email (or the operator trusts its emails). */
  emailVerified: boolean
  name: string
  accounts: ProductAccount[] | null
}

export type MembershipChange =
  | { kind: 'added'; accountId: number; externalId: string; role: Role }
  | {
      kind: 'role_changed'
      accountId: number
      externalId: string
      role: Role
      previousRole: Role
      /** Keys of the user in the account whose scopes the new role may not grant: revoked. */
      revokedKeys: number
    }
  | { kind: 'removed'; accountId: number; externalId: string; role: Role; revokedKeys: number }

export type SyncOutcome =
  | { ok: true; user: User; created: boolean; changes: MembershipChange[] }
  /** The email belongs to another person at the product: nothing was changed. */
  | { ok: false; reason: 'email_taken' }
  /** A person here has the email, and this identity's email is not known to be verified: not linked. */
  | { ok: false; reason: 'email_unverified' }

export interface ProductStore {
  /**
   * Brings the user, their accounts and memberships in line with the product, in one
   * transaction: a membership the product no longer lists ends, and the user's keys in that
   * account are revoked and their consents there deleted.
   */
  sync(identity: ProductIdentity, now: number, roleScopes: Record<Role, string[]> | null): Promise<SyncOutcome>
  /**
   * The person left the product: every membership of theirs in the product's accounts ends
   * (their keys there revoked, their consents deleted), in one transaction. Undefined when
   * keygate does not know them.
   */
  remove(issuer: string, subject: string, now: number): Promise<{ user: User; changes: MembershipChange[] } | undefined>
  /** Records an assertion's id as used; false when it was used already (any instance). */
  useAssertion(issuer: string, jti: string, expiresAt: number): Promise<boolean>
  /** Deletes up to `limit` used assertion ids whose assertion expired before `now`. */
  deleteUsedAssertions(now: number, limit: number): Promise<number>
}
