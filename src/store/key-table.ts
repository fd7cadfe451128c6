// Where keys live, as the rest of the store sees it: the KeyStore the routes use, and the
// few statements other modules run on keys inside their own transactions (a disconnect, a
// membership the product ended, a lowered role). keys.ts is keygate's own api_keys table;
// mapped-keys.ts is the product's table under a mapping (KEYGATE_KEYS_TABLE).
import { exceeds } from '../config/roles.js'
import { compiledOnce, type Database, type Db, locking } from './database.js'
import { toConsent } from './rows.js'
import { type ApiKey, type ConsentCondition, consentStands, type KeyStore } from './types.js'

export interface KeyTable extends KeyStore {
  /** The table refresh tokens of these keys are kept in. */
  readonly refreshTable: 'refresh_tokens' | 'key_grant_refresh_tokens'
  /** Revokes the live keys keygate minted for a user (in an account, for a client); answers how many. */
  revokeOf(trx: Db, who: { userId: number; accountId?: number; clientId?: string }, now: number): Promise<number>
  /** The live keys keygate minted for a user in an account, with their scopes. */
  liveOf(trx: Db, userId: number, accountId: number): Promise<Array<{ id: string; scopes: string[] }>>
  /** Revokes these keys (ids from liveOf) unless revoked already; answers how many. */
  revokeIds(trx: Db, ids: string[], now: number): Promise<number>
  /** When each client's keys of a user were last used (the dashboard's "Connected apps"). */
  lastUsedByClient(userId: number): Promise<Map<string, number>>
  /** Revokes every live key of a client (disabled by an operator); answers how many. */
  revokeClient(trx: Db, clientId: string, now: number): Promise<number>
  /** Deletes keygate's rows of a client's keys (keygate's keys, or its facts beside the product's), refresh tokens first. */
  forgetClient(trx: Db, clientId: string): Promise<void>
  /**
   * The live (not revoked, not expired) keys a client holds for a user. In the product's
   * table, the grants of keys found no longer live are marked ended on the way (a write).
   */
  liveOfClient(trx: Db, userId: number, clientId: string, now: number): Promise<LiveKey[]>
}

export type LiveKey = {
  id: string
  familyId: string | null
  accountId: number
  installation: string | null
  createdAt: number
}

/**
 * The keys a new grant replaces (docs/oauth.md, "Token lifecycle"): the client's keys for the user in
 * another account than the one the grant is for (one consent names one account), and, in
 * the grant's own connection (user, client, installation), all but the newest `keep` other
 * grants.
 */
export function replacedKeys(
  live: LiveKey[],
  fresh: { familyId: string | null; accountId: number; installation: string | null },
  keep: number,
): string[] {
  const others = live.filter((l) => l.familyId !== fresh.familyId)
  const revoke = new Set(others.filter((l) => l.accountId !== fresh.accountId).map((l) => l.id))
  const same = others
    .filter((l) => l.accountId === fresh.accountId && l.installation === fresh.installation)
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
  const families = [...new Set(same.map((l) => l.familyId))]
  const dropped = new Set(families.slice(keep))
  for (const l of same) if (dropped.has(l.familyId)) revoke.add(l.id)
  return [...revoke]
}

/** Revokes every live key of the key's connection (the dashboard's Revoke on a connection's row). */
export async function revokeConnection(table: KeyTable, db: Db, key: ApiKey, now: number): Promise<number> {
  if (key.clientId === null || key.userId === null) return table.revokeFamily(key, now)
  const live = await table.liveOfClient(db, key.userId, key.clientId, now)
  const ids = live.filter((l) => l.accountId === key.accountId && l.installation === key.installation).map((l) => l.id)
  return table.revokeIds(db, [...new Set([key.id, ...ids])], now)
}

/** Why a key may not be minted under a consent any more; undefined when it may. */
export type ConsentRefusal = (
  trx: Db,
  consent: ConsentCondition,
) => Promise<'consent_gone' | 'role_forbids' | undefined>

/**
 * The check every mint runs in its transaction, its statement compiled once per key table.
 * The consent and its membership in one locking read (FOR UPDATE): a concurrent disconnect
 * (its DELETE), membership change or other mint under the same consent waits for this one,
 * or this waits for it, so a new key sees the keys it replaces. (SQLite: the transaction
 * holds the write lock already.) A membership the product ended, or a role that may no
 * longer grant these scopes, and nothing is minted.
 */
export function consentRefusal(database: Database): ConsentRefusal {
  const read = compiledOnce(['userId', 'clientId'], (p) =>
    locking(
      database,
      database.db
        .selectFrom('consents as c')
        .innerJoin('memberships as m', (join) =>
          join.onRef('m.user_id', '=', 'c.user_id').onRef('m.account_id', '=', 'c.account_id'),
        )
        .selectAll('c')
        .select(['m.role', 'm.removed_at'])
        .where('c.user_id', '=', p.userId)
        .where('c.client_id', '=', p.clientId),
      'update',
    ),
  )
  return async (trx, consent) => {
    const [current] = await read(trx, { userId: consent.userId, clientId: consent.clientId })
    if (!current || !consentStands(toConsent(current), consent) || current.removed_at !== null) return 'consent_gone'
    const allowed = consent.roleScopes?.[current.role]
    if (allowed && exceeds(allowed, consent.scopes)) return 'role_forbids'
    return undefined
  }
}
