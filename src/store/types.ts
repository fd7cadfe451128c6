// The storage contract. Routes and services only see these interfaces, whose methods all
// return promises, so a PostgreSQL store can replace SQLite without touching them.

import { KeygateError } from '../shared/errors.js'
import type { AdminStore } from './admin.js'
import type { ProductStore } from './product-types.js'
import type { SigninBuckets, SigninLimits, SigninVerdict } from './signin-rule.js'
import type { SigningKeyStore } from './signing.js'

export type { Role } from '../config/roles.js'
export type {
  MembershipChange,
  ProductAccount,
  ProductIdentity,
  ProductStore,
  SyncOutcome,
} from './product-types.js'
export type { SigninBuckets, SigninLimits, SigninVerdict }

import type { Role } from '../config/roles.js'
export type AccountKind = 'personal' | 'team'
export type AuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post'
export type ClientSource = 'dcr' | 'cli' | 'config' | 'cimd'

export type User = {
  id: number
  email: string
  name: string
  passwordHash: string
  createdAt: number
  /** Set when an operator disabled the user: no sign-in, no keys. */
  disabledAt: number | null
  /**
   * The email is known to be verified: the identity provider or the product said so (or the
   * operator trusts what it says). keygate sends no mail: its own users' emails are not.
   */
  emailVerified: boolean
}
export type Account = {
  id: number
  name: string
  kind: AccountKind
  createdAt: number
  /** The product's id of the account (sign-in through the product); null for keygate's own. */
  externalId?: string | null
}
export type Membership = { account: Account; role: Role }

export type Client = {
  clientId: string
  clientName: string
  redirectUris: string[]
  tokenEndpointAuthMethod: AuthMethod
  clientSecretHash: string | null
  metadata: Record<string, unknown>
  source: ClientSource
  createdAt: number
  /** Set when an operator disabled the client: its keys revoked, its authorizations refused. */
  disabledAt: number | null
}

export type NewClient = Omit<Client, 'createdAt' | 'disabledAt'> & { fingerprint: string | null }

export type Consent = {
  userId: number
  clientId: string
  accountId: number
  scopes: string[]
  createdAt: number
  updatedAt: number
}

export type ApiKey = {
  /** The id in the table that holds the key (keygate's api_keys, or the product's own table), as text. */
  id: string
  /** keygate's account; null for a key the product made in an account keygate has not seen. */
  accountId: number | null
  /** Who made the key or approved the grant; null for a key the product made for someone keygate has not seen. */
  userId: number | null
  name: string
  displayPrefix: string
  scopes: string[]
  resource: string | null
  clientId: string | null
  grantId: string | null
  /** The grant the key came from (the authorization code's jti, or the device grant); null for keys made by hand. */
  familyId: string | null
  /**
   * Which installation of the client the key serves: null for a client registered by one
   * installation (dynamic registration); the redirect URI (or the device grant) of a client
   * many installations share. (user, client, installation) is the key's connection.
   */
  installation: string | null
  createdAt: number
  lastUsedAt: number | null
  expiresAt: number | null
  revokedAt: number | null
  /** 'product': a key in the product's table that keygate did not mint (no keygate facts). */
  origin: 'keygate' | 'product'
}

export type NewApiKey = {
  accountId: number
  userId: number
  name: string
  /** The token's hash as the key table stores it (KeyStore.hash). */
  keyHash: string
  displayPrefix: string
  scopes: string[]
  resource: string | null
  clientId: string | null
  grantId: string | null
  familyId: string | null
  /** The key's connection within its client (ApiKey.installation); absent: none. */
  installation?: string | null
  createdAt: number
  expiresAt: number | null
}

/** A key as the dashboard lists it: with its OAuth client's name and its creator's email. */
export type KeyListing = ApiKey & { clientName: string | null; creatorEmail: string | null }

/** A consent as the dashboard lists it. */
export type ConsentListing = Consent & {
  clientName: string
  redirectUris: string[]
  accountName: string
  lastUsedAt: number | null
}

export type AuditListing = AuditEvent & { actorEmail: string | null }

export type AuditEvent = {
  id: number
  createdAt: number
  event: string
  accountId: number | null
  actorUserId: number | null
  subject: string | null
  ip: string | null
  detail: Record<string, unknown>
}

export type NewAuditEvent = Omit<AuditEvent, 'id'>

export type Note = { id: number; accountId: number; title: string; body: string; createdAt: number }

export interface UserStore {
  create(user: { email: string; name: string; passwordHash: string; createdAt: number }): Promise<User>
  byEmail(email: string): Promise<User | undefined>
  byId(id: number): Promise<User | undefined>
}

export interface AccountStore {
  /** Creates an account and makes `ownerId` its owner, atomically. */
  create(account: { name: string; kind: AccountKind; ownerId: number; createdAt: number }): Promise<Account>
  byId(id: number): Promise<Account | undefined>
  byName(name: string): Promise<Account[]>
  addMember(accountId: number, userId: number, role: Role, createdAt: number): Promise<void>
  membershipsOf(userId: number): Promise<Membership[]>
  roleOf(userId: number, accountId: number): Promise<Role | undefined>
}

export interface ClientStore {
  /** Inserts the client; a public registration whose fingerprint exists returns that row. */
  register(client: NewClient, createdAt: number): Promise<Client>
  byId(clientId: string): Promise<Client | undefined>
  /** Inserts or replaces a client by client_id (pre-registered and metadata-document clients). */
  upsert(client: Omit<NewClient, 'fingerprint'>, now: number): Promise<Client>
  /** Deletes up to `limit` dynamically registered clients made before `before` that nothing refers to (never used). */
  deleteUnused(before: number, limit: number): Promise<number>
  list(): Promise<Client[]>
  /** Disables a client: its keys revoked, its consents and pending device grants deleted, in one transaction. */
  disable(clientId: string, now: number): Promise<{ revokedKeys: number } | undefined>
  /** Deletes a client with its consents, refresh tokens and device grants; its keys are revoked and deleted. */
  remove(clientId: string, now: number): Promise<{ revokedKeys: number } | undefined>
}

export interface ConsentStore {
  /** Inserts or updates the one consent row of (user, client). */
  upsert(consent: Omit<Consent, 'createdAt' | 'updatedAt'>, now: number): Promise<Consent>
  get(userId: number, clientId: string): Promise<Consent | undefined>
  listForUser(userId: number): Promise<ConsentListing[]>
  /** Deletes the consent and revokes every key of (user, client), atomically. */
  disconnect(userId: number, clientId: string, now: number): Promise<{ deleted: boolean; revokedKeys: number }>
  /** Deletes the consent if the client holds no live key for the user any more, atomically; true when deleted. */
  disconnectIfIdle(userId: number, clientId: string, now: number): Promise<Consent | undefined>
}

export type InsertKeyResult =
  | { ok: true; key: ApiKey }
  | { ok: false; reason: 'grant_used' | 'consent_gone' | 'role_forbids' }

/** The consent a code was issued under; a key is minted from the code only while it stands. */
export type ConsentCondition = {
  userId: number
  clientId: string
  accountId: number
  createdAt: number
  scopes: string[]
  /** What each role may grant (KEYGATE_ROLE_SCOPES); the user's role is read in the same transaction. */
  roleScopes: Record<Role, string[]> | null
}

/** True when the consent row is the one the code was issued under and still covers its scopes. */
export function consentStands(row: Consent | undefined, condition: ConsentCondition): boolean {
  return (
    row !== undefined &&
    row.createdAt === condition.createdAt &&
    row.accountId === condition.accountId &&
    condition.scopes.every((s) => row.scopes.includes(s))
  )
}

export type RefreshToken = {
  tokenHash: string
  familyId: string
  keyId: string
  clientId: string
  createdAt: number
  expiresAt: number
  rotatedAt: number | null
}

export interface RefreshStore {
  byHash(tokenHash: string): Promise<RefreshToken | undefined>
  /** Marks the token used; returns the rotation time (now on the first use, the earlier time after). */
  markRotated(tokenHash: string, now: number): Promise<{ first: boolean; rotatedAt: number }>
  /** Deletes up to `limit` tokens that expired, or were rotated before `rotatedBefore`. */
  deleteStale(now: number, rotatedBefore: number, limit: number): Promise<number>
}

export interface KeyStore {
  /**
   * Why the product's account or user id `id` cannot be stored in the key table, in words;
   * undefined when it can (always, for keygate's own table, which stores keygate's ids).
   */
  unfitId(field: 'account' | 'user', id: string): string | undefined
  /**
   * Inserts a key row. A grant_id that exists already is reported, not thrown. With
   * `consent`, the key is inserted only if that consent still stands, checked in the same
   * transaction (a code minted just before "Disconnect" does not redeem after it).
   */
  insert(
    key: NewApiKey,
    refresh?: { tokenHash: string; expiresAt: number },
    consent?: ConsentCondition,
    /** A new grant: in the same transaction, the keys it replaces are revoked (key-table.ts, replacedKeys). */
    replace?: { keep: number },
  ): Promise<InsertKeyResult>
  /** A token's hash as this key table stores it (keygate's SHA-256 hex, or the product's hash). */
  hash(token: string): string
  byHash(keyHash: string): Promise<ApiKey | undefined>
  byId(id: string): Promise<ApiKey | undefined>
  list(filter: { accountId?: number; userId?: number }): Promise<ApiKey[]>
  /** The dashboard's view of an account's keys (optionally only one creator's). */
  listForAccount(accountId: number, userId?: number): Promise<KeyListing[]>
  /** Sets revoked_at if not set; returns whether this call revoked it. */
  revoke(id: string, now: number): Promise<boolean>
  /** Revokes the key and, for an OAuth key, every key of its grant (refreshes included); returns how many. */
  revokeFamily(key: ApiKey, now: number): Promise<number>
  /** Revokes every live key of the key's connection (user, client, installation, account); returns how many. */
  revokeConnection(key: ApiKey, now: number): Promise<number>
  /** Deletes up to `limit` OAuth keys that expired before `expiredBefore` and no refresh token needs. */
  deleteExpired(expiredBefore: number, limit: number): Promise<number>
  /** Revokes the key minted from an authorization code (RFC 6749 §4.1.2). */
  revokeByGrant(grantId: string, now: number): Promise<ApiKey | undefined>
  /** Writes last_used_at unless it was written less than `minInterval` seconds ago. */
  touch(id: string, now: number, minInterval: number): Promise<void>
}

export interface AuditStore {
  record(event: NewAuditEvent): Promise<void>
  /** Counts events of one kind about one subject since a time (sign-in throttling). */
  count(event: string, subject: string, since: number): Promise<number>
  list(accountId: number, options: { before?: number; limit: number }): Promise<AuditListing[]>
}

export interface NoteStore {
  list(accountId: number): Promise<Note[]>
  get(accountId: number, id: number): Promise<Note | undefined>
  create(note: Omit<Note, 'id'>): Promise<Note>
  remove(accountId: number, id: number): Promise<boolean>
}

export interface SigninStore {
  /** Counts one sign-in attempt on both buckets before the password is checked, unless the limits refuse it. Atomic. */
  attempt(buckets: SigninBuckets, now: number, limits: SigninLimits): Promise<SigninVerdict>
  /** After a correct password: clears the address bucket and takes the attempt back from the email bucket. */
  succeeded(buckets: SigninBuckets): Promise<void>
  /** Deletes up to `limit` buckets whose window started before `before`. */
  deleteStale(before: number, limit: number): Promise<number>
}

export interface SessionStore {
  /** Milliseconds since the epoch before which the user's sessions are void; 0 when never set. */
  validAfter(userId: number): Promise<number>
  /** Voids every session of the user issued up to `nowMs` (sign out everywhere). */
  endAll(userId: number, nowMs: number): Promise<void>
}

/** A device authorization grant (RFC 8628): requested by a device, decided by its user. */
export type DeviceGrant = {
  id: string
  clientId: string
  /** Requested scopes. */
  scopes: string[]
  resource: string
  userCode: string
  createdAt: number
  expiresAt: number
  interval: number
  status: 'pending' | 'approved' | 'denied'
  /** Set when approved: who, in which account, what they granted, under which consent. */
  decision: { userId: number; accountId: number; scopes: string[]; consentCreatedAt: number } | null
}

export type NewDeviceGrant = Pick<
  DeviceGrant,
  'id' | 'clientId' | 'scopes' | 'resource' | 'userCode' | 'createdAt' | 'expiresAt' | 'interval'
> & {
  deviceCodeHash: string
}

export interface DeviceStore {
  /** Stores a new grant; false when its user code is taken (the caller draws another). */
  create(grant: NewDeviceGrant): Promise<boolean>
  byDeviceCodeHash(hash: string): Promise<DeviceGrant | undefined>
  /** The pending, unexpired grant of a user code. */
  pendingByUserCode(userCode: string, now: number): Promise<DeviceGrant | undefined>
  /** Decides a pending grant; false when it was not pending any more (decided elsewhere, or expired). */
  decide(
    id: string,
    decision:
      | { approved: true; userId: number; accountId: number; scopes: string[]; consentCreatedAt: number }
      | { approved: false },
    now: number,
  ): Promise<boolean>
  /**
   * Records a poll (RFC 8628 §3.5): 'ok', or 'slow_down' when it came sooner than the
   * interval, which then grows by 5 seconds for this and later polls. Atomic across instances.
   */
  poll(id: string, now: number): Promise<{ outcome: 'ok' } | { outcome: 'slow_down'; interval: number }>
  /** Deletes a grant (redeemed). */
  remove(id: string): Promise<void>
  /** Deletes up to `limit` grants that expired before `before`. */
  deleteExpired(before: number, limit: number): Promise<number>
}

export interface Store {
  admin: AdminStore
  signingKeys: SigningKeyStore
  devices: DeviceStore
  product: ProductStore
  users: UserStore
  accounts: AccountStore
  clients: ClientStore
  consents: ConsentStore
  keys: KeyStore
  refresh: RefreshStore
  audit: AuditStore
  notes: NoteStore
  signins: SigninStore
  sessions: SessionStore
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>
  close(): Promise<void>
}

/**
 * A constraint the database enforced. Routes translate the ones they expect into their own
 * errors; one that reaches the error handler is a 500 (its message is logged, never shown).
 */
export class StoreError extends KeygateError {
  constructor(message: string) {
    super(500, message)
  }
}
/** The database refused a row because of a foreign key (a user outside the account). */
export class ForeignKeyError extends StoreError {}
/** The product's key table refused a key's values (a foreign key of its own, a type, a length). */
export class ProductTableRefused extends StoreError {}
/** A unique column already holds the value. */
export class ConflictError extends StoreError {}
