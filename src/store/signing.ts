// The ID-token signing keys (src/oidc/keys.ts decides which signs and which are published).
import { changed, type Database, type Db, serialized } from './database.js'

export type SigningKeyRow = {
  kid: string
  alg: 'ES256' | 'RS256'
  publicJwk: string
  /** Encrypted (src/oidc/keys.ts). */
  privateJwk: string
  createdAt: number
  signFrom: number
  retireAt: number | null
}

export interface SigningKeyStore {
  /** Every key not yet retired at `now`. */
  live(now: number): Promise<SigningKeyRow[]>
  insert(key: SigningKeyRow): Promise<void>
  /**
   * Inserts `key` unless a key of its algorithm signs already at `now` without being retired.
   * Instances that start together make one key between them.
   */
  insertIfNone(key: SigningKeyRow, now: number): Promise<void>
  /** Sets when a key stops being published, unless it is set already; answers whether it was set. */
  retire(kid: string, at: number): Promise<boolean>
}

export function signingKeys(database: Database): SigningKeyStore {
  const { db } = database
  return {
    async live(now) {
      const rows = await db
        .selectFrom('signing_keys')
        .selectAll()
        .where((eb) => eb.or([eb('retire_at', 'is', null), eb('retire_at', '>', now)]))
        .orderBy('created_at')
        .execute()
      return rows.map((r) => ({
        kid: r.kid,
        alg: r.alg,
        publicJwk: r.public_jwk,
        privateJwk: r.private_jwk,
        createdAt: Number(r.created_at),
        signFrom: Number(r.sign_from),
        retireAt: r.retire_at === null ? null : Number(r.retire_at),
      }))
    },
    async insert(k) {
      await insert(db, k)
    },
    async insertIfNone(k, now) {
      await serialized(database, `signing_keys:${k.alg}`, async (trx) => {
        const signing = await trx
          .selectFrom('signing_keys')
          .select('kid')
          .where('alg', '=', k.alg)
          .where('retire_at', 'is', null)
          .where('sign_from', '<=', now)
          .executeTakeFirst()
        if (!signing) await insert(trx, k)
      })
    },
    async retire(kid, at) {
      return (
        changed(
          await db
            .updateTable('signing_keys')
            .set({ retire_at: at })
            .where('kid', '=', kid)
            .where('retire_at', 'is', null)
            .executeTakeFirst(),
        ) === 1
      )
    },
  }
}

async function insert(db: Db, k: SigningKeyRow): Promise<void> {
  await db
    .insertInto('signing_keys')
    .values({
      kid: k.kid,
      alg: k.alg,
      public_jwk: k.publicJwk,
      private_jwk: k.privateJwk,
      created_at: k.createdAt,
      sign_from: k.signFrom,
      retire_at: k.retireAt,
    })
    .execute()
}
