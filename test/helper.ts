// Test helpers: one build(t) with a throw-away SQLite file and a controlled clock, plus
// small fixtures that drive the real routes (sign-in, registration, consent) through
// app.inject.
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { type Config, loadConfig } from '../src/config/index.js'
import { hashPassword } from '../src/crypto/password.js'
import { mintToken } from '../src/keys/format.js'
import { cookieName, signSession } from '../src/pages/session.js'
import { buildApp } from '../src/server/app.js'
import type { NewApiKey } from '../src/store/types.js'

export type Test = { teardown(fn: () => unknown): void }

/** scrypt's N in tests: cheap; never allowed with NODE_ENV=production. */
export const TEST_SCRYPT_COST = 1024

export const SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz'

export class TestClock {
  ms = Date.parse('2026-11-23T12:00:00Z')
  now = () => this.ms
  advance(seconds: number) {
    this.ms += seconds * 1000
  }
}

/**
 * A clock for keygate processes (KEYGATE_TEST_CLOCK_FILE): every process started with
 * `env` reads the time this file holds, so moving it moves all of them at once.
 */
export class FileClock {
  readonly path: string
  ms = Date.parse('2026-11-23T12:00:00Z')
  constructor(t: Test) {
    this.path = join(tempDir(t), 'clock')
    this.write()
  }
  get env() {
    return { KEYGATE_TEST_CLOCK_FILE: this.path }
  }
  now = () => this.ms
  advance(seconds: number) {
    this.ms += seconds * 1000
    this.write()
  }
  private write() {
    writeFileSync(this.path, String(this.ms))
  }
}

/**
 * Set to a postgres:// or mysql:// URL to run every store-touching test against that
 * database (npm run test:pg, npm run test:mysql).
 */
export const TEST_DATABASE_URL = process.env.KEYGATE_TEST_DATABASE_URL
export const TEST_DIALECT: 'sqlite' | 'postgres' | 'mysql' = !TEST_DATABASE_URL
  ? 'sqlite'
  : TEST_DATABASE_URL.startsWith('mysql:')
    ? 'mysql'
    : 'postgres'

/** The PostgreSQL schema or MySQL database of a test directory: one per test, dropped when the test ends. */
export function schemaFor(dir: string): string {
  return `kgt_${createHash('sha256').update(dir).digest('hex').slice(0, 20)}`
}

/** Runs statements on the test database's server, outside keygate (set-up and clean-up). */
export async function onTestServer(statements: string[], schema?: string): Promise<void> {
  if (TEST_DIALECT === 'mysql') {
    const { default: mysql } = await import('mysql2/promise')
    const connection = await mysql.createConnection({ uri: TEST_DATABASE_URL, ...(schema ? { database: schema } : {}) })
    try {
      for (const statement of statements) await connection.query(statement)
    } finally {
      await connection.end()
    }
    return
  }
  const { default: pg } = await import('pg')
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  })
  await client.connect()
  try {
    for (const statement of statements) await client.query(statement)
  } finally {
    await client.end()
  }
}

export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-test-'))
  t.teardown(async () => {
    rmSync(dir, { recursive: true, force: true })
    if (TEST_DIALECT === 'postgres') await onTestServer([`DROP SCHEMA IF EXISTS ${schemaFor(dir)} CASCADE`])
    if (TEST_DIALECT === 'mysql') await onTestServer([`DROP DATABASE IF EXISTS ${schemaFor(dir)}`])
  })
  return dir
}

/** The environment of a test instance: a SQLite file in `dir`, or a schema (database) of its own. */
export function testEnv(dir: string, env: Record<string, string> = {}): Record<string, string> {
  const store: Record<string, string> = TEST_DATABASE_URL
    ? { KEYGATE_DATABASE_URL: TEST_DATABASE_URL, KEYGATE_DATABASE_SCHEMA: schemaFor(dir) }
    : {}
  return {
    KEYGATE_DB: join(dir, 'keygate.db'),
    KEYGATE_SECRET: SECRET,
    KEYGATE_ISSUER: 'http://localhost:3000',
    // Sign-in is ~100 times cheaper than in production (which refuses this cost).
    KEYGATE_SCRYPT_COST: String(TEST_SCRYPT_COST),
    ...store,
    ...env,
  }
}

export function testConfig(dir: string, env: Record<string, string> = {}): Config {
  return loadConfig(testEnv(dir, env), { generateSecret: false })
}

/** An app whose log lines (JSON, at `level`) are collected in `lines`. */
export async function loggedApp(t: Test, level = 'info', env: Record<string, string> = {}) {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  const app = await buildApp(testConfig(tempDir(t), { KEYGATE_LOG_LEVEL: level, ...env }), { logger: { stream } })
  t.teardown(() => app.close())
  return { app, lines }
}

export type Built = { app: FastifyInstance; config: Config; clock: TestClock; dir: string }

export async function build(t: Test, env: Record<string, string> = {}): Promise<Built> {
  const dir = tempDir(t)
  const config = testConfig(dir, env)
  const clock = new TestClock()
  const app = await buildApp(config, { clock: clock.now })
  t.teardown(() => app.close())
  return { app, config, clock, dir }
}

const hashes = new Map<string, Promise<string>>()

export async function createUser(app: FastifyInstance, email: string, password = 'correct horse battery') {
  // Some tests pass a store without an app (its instances run in other processes).
  const cost = (app.config as Config | undefined)?.scryptCost ?? TEST_SCRYPT_COST
  const cached = `${cost}:${password}`
  if (!hashes.has(cached)) hashes.set(cached, hashPassword(password, cost))
  const user = await app.store.users.create({
    email,
    name: email.split('@')[0]!,
    passwordHash: await hashes.get(cached)!,
    createdAt: app.now(),
  })
  const account = await app.store.accounts.create({
    name: `${user.name} personal`,
    kind: 'personal',
    ownerId: user.id,
    createdAt: app.now(),
  })
  return { user, account, password }
}

/** Merges Set-Cookie headers of a response into a Cookie header value. */
export function cookiesOf(res: LightMyRequestResponse, previous = ''): string {
  const jar = new Map(
    previous
      .split('; ')
      .filter(Boolean)
      .map((c) => c.split('=', 2) as [string, string]),
  )
  for (const c of res.cookies as Array<{ name: string; value: string }>) jar.set(c.name, c.value)
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
}

export function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html)
  if (!m) throw new Error('no csrf field in page')
  return m[1]!
}

/**
 * A signed-in session's Cookie header, signed directly: for tests that are not about
 * signing in (those use signIn, through /login).
 */
export async function sessionCookie(app: FastifyInstance, email: string): Promise<string> {
  const user = await app.store.users.byEmail(email)
  if (!user) throw new Error(`no user ${email}`)
  const token = await signSession(app, {
    userId: user.id,
    csrf: randomBytes(24).toString('base64url'),
    issuedMs: app.nowMs(),
  })
  return `${cookieName(app)}=${token}`
}

/** Signs in through /login and returns the Cookie header for later requests. */
export async function signIn(app: FastifyInstance, email: string, password = 'correct horse battery'): Promise<string> {
  const page = await app.inject({ method: 'GET', url: '/login' })
  let cookie = cookiesOf(page)
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie },
    payload: { csrf: csrfOf(page.body), email, password, return_to: '/dashboard' },
  })
  if (res.statusCode !== 303) throw new Error(`sign-in failed: ${res.statusCode}`)
  cookie = cookiesOf(res, cookie)
  return cookie
}

export const REDIRECT_URI = 'https://client.example/callback'

export async function registerClient(
  app: FastifyInstance,
  body: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const res = await app.inject({
    method: 'POST',
    url: '/register',
    payload: { client_name: 'Test Client', redirect_uris: [REDIRECT_URI], ...body },
  })
  if (res.statusCode !== 201) throw new Error(`registration failed: ${res.body}`)
  return res.json()
}

export function pkce() {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export function authorizeQuery(clientId: string, challenge: string, extra: Record<string, string> = {}): string {
  return new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st-123',
    scope: 'read write',
    resource: 'http://localhost:3000/mcp',
    ...extra,
  }).toString()
}

/** Runs GET /authorize and approves the consent; returns the redirect Location. */
export async function approve(
  app: FastifyInstance,
  cookie: string,
  query: string,
  form: Record<string, string | string[]> = {},
) {
  const page = await app.inject({ method: 'GET', url: `/authorize?${query}`, headers: { cookie } })
  if (page.statusCode !== 200)
    throw new Error(`consent page: ${page.statusCode} ${page.headers.location ?? page.body.slice(0, 300)}`)
  const fields: Record<string, string | string[]> = {
    csrf: csrfOf(page.body),
    decision: 'approve',
    scope_choice: 'write',
  }
  for (const m of page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    if (m[1] !== 'csrf')
      fields[m[1]!] = m[2]!
        .replaceAll('&amp;', '&')
        .replaceAll('&quot;', '"')
        .replaceAll('&#39;', "'")
        .replaceAll('&lt;', '<')
        .replaceAll('&gt;', '>')
  }
  const res = await app.inject({
    method: 'POST',
    url: '/authorize',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(
      Object.entries({ ...fields, ...form }).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
    ).toString(),
  })
  return res
}

/** Full flow to a code: register, sign in, approve. */
export async function codeFor(
  app: FastifyInstance,
  opts: {
    email?: string
    form?: Record<string, string | string[]>
    client?: Record<string, any>
    query?: Record<string, string>
  } = {},
) {
  const email = opts.email ?? 'alice@example.com'
  if (!(await app.store.users.byEmail(email))) await createUser(app, email)
  const client = opts.client ?? (await registerClient(app))
  const cookie = await sessionCookie(app, email)
  const { verifier, challenge } = pkce()
  const res = await approve(app, cookie, authorizeQuery(client.client_id, challenge, opts.query), opts.form)
  if (res.statusCode !== 302) throw new Error(`approve: ${res.statusCode} ${res.body.slice(0, 300)}`)
  const location = new URL(res.headers.location as string)
  return { code: location.searchParams.get('code')!, verifier, client, cookie, location }
}

export function tokenRequest(app: FastifyInstance, form: Record<string, string>, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(form).toString(),
  })
}

/** Exchanges a code from codeFor at /token (the redirect URI it was issued for). */
export function exchangeCode(app: FastifyInstance, code: string, verifier: string, clientId: string) {
  return tokenRequest(app, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
  })
}

/** Asserts no JSON null anywhere in a value (ChatGPT and the SDK break on them). */
export function findNull(value: unknown, path = '$'): string | null {
  if (value === null) return path
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as object)) {
      const found = findNull(v, `${path}.${k}`)
      if (found) return found
    }
  }
  return null
}

/** A key made the way the CLI or dashboard makes one; returns the raw key and its row. */
/**
 * A key to insert through the store, with a fresh token: read-only, unbound, never
 * expiring unless `extra` says otherwise; `grantId` also names its connection.
 */
export function newKey(
  owner: { userId: number; accountId: number },
  extra: Partial<NewApiKey> = {},
): { token: string; key: NewApiKey } {
  const k = mintToken('kg_')
  const grantId = extra.grantId ?? null
  return {
    token: k.token,
    key: {
      ...owner,
      name: 'k',
      keyHash: k.hash,
      displayPrefix: k.displayPrefix,
      scopes: ['read'],
      resource: null,
      clientId: null,
      grantId,
      familyId: grantId,
      createdAt: 0,
      expiresAt: null,
      ...extra,
    },
  }
}

export async function createKey(
  app: FastifyInstance,
  owner: { userId: number; accountId: number },
  extra: { scopes?: string[]; resource?: string | null; expiresAt?: number | null; clientId?: string | null } = {},
) {
  const key = mintToken(app.config.keyPrefix)
  const result = await app.store.keys.insert({
    accountId: owner.accountId,
    userId: owner.userId,
    name: 'test key',
    keyHash: key.hash,
    displayPrefix: key.displayPrefix,
    scopes: extra.scopes ?? ['read', 'write'],
    resource: extra.resource ?? null,
    clientId: extra.clientId ?? null,
    grantId: null,
    familyId: null,
    createdAt: app.now(),
    expiresAt: extra.expiresAt ?? null,
  })
  if (!result.ok) throw new Error('key insert failed')
  return { token: key.token, key: result.key }
}
