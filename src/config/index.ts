// Configuration: the only module that reads the environment. One zod schema, parsed once
// at start-up; a bad value stops keygate with one line naming the variable.

import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { sha256Hex } from '../crypto/compare.js'
import { DEFAULT_SCRYPT_COST } from '../crypto/password.js'
import { type Brand, brandEnv, parseBrand } from './brand.js'
import { ConfigError, fail, list, positiveInt } from './checks.js'
import { type KeyMapping, type KeysSettings, keysEnv, parseKeys } from './keys.js'
import {
  absoluteUrl,
  type Login,
  loginEnv,
  parseLogin,
  parseProvisioningToken,
  parseRoleScopes,
  type RoleScopes,
} from './login.js'
import { parseScopes, type ScopeInfo } from './scopes.js'

export type { Brand, KeyMapping, KeysSettings, Login, RoleScopes }
export { ConfigError }

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

const port = z.coerce.number().int().min(0).max(65535)
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')

export const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('localhost'),
  KEYGATE_ISSUER: z.string().optional(),
  KEYGATE_DB: z.string().min(1).default('./data/keygate.db'),
  KEYGATE_DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?|mysql):\/\//, 'must be a postgres:// or mysql:// URL')
    .optional(),
  KEYGATE_DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase SQL identifier')
    .optional(),
  KEYGATE_METRICS: bool.default(false),
  KEYGATE_SECRET: z.string().optional(),
  KEYGATE_PREVIOUS_SECRETS: z.string().default(''),
  KEYGATE_KEY_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,9}_$/, 'must be 1-10 lowercase letters or digits followed by "_" (like kg_)')
    .default('kg_'),
  KEYGATE_SCOPES: z.string().default('read write'),
  KEYGATE_ALWAYS_SCOPES: z.string().default('read'),
  KEYGATE_SCOPES_FILE: z.string().min(1).optional(),
  KEYGATE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  KEYGATE_LOGIN_MAX_FAILURES: positiveInt.default(5),
  KEYGATE_LOGIN_WINDOW_SECONDS: positiveInt.default(900),
  KEYGATE_LOGIN_EMAIL_CEILING: positiveInt.default(20),
  KEYGATE_LOGIN_SLOW_SECONDS: positiveInt.default(30),
  KEYGATE_SCRYPT_COST: positiveInt
    .refine((n) => n >= 2 && (n & (n - 1)) === 0 && n <= 2 ** 20, 'must be a power of two from 2 to 1048576')
    .default(DEFAULT_SCRYPT_COST),
  KEYGATE_SESSION_TTL_SECONDS: positiveInt.default(60 * 60 * 12),
  KEYGATE_TEST_CLOCK_FILE: z.string().min(1).optional(),
  KEYGATE_UPSTREAM: z.string().optional(),
  KEYGATE_OPENAPI: z.string().optional(),
  KEYGATE_UPSTREAM_TIMEOUT_MS: positiveInt.default(10_000),
  KEYGATE_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  KEYGATE_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
  KEYGATE_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(5_000),
  KEYGATE_UPSTREAM_MAX_BYTES: positiveInt.default(1024 * 1024),
  KEYGATE_MCP_MAX_BODY_BYTES: positiveInt.default(1024 * 1024),
  KEYGATE_MCP_RESPONSE: z.enum(['json', 'sse']).default('json'),
  KEYGATE_ALLOWED_HOSTS: z.string().default(''),
  KEYGATE_ALLOWED_ORIGINS: z.string().default(''),
  KEYGATE_TRUST_PROXY: bool.default(false),
  KEYGATE_ACCESS_TTL: positiveInt.optional(),
  KEYGATE_DEVICE_TTL: positiveInt.max(3600).default(600),
  KEYGATE_ID_TOKEN_TTL: positiveInt.max(86400).default(600),
  KEYGATE_SIGNING_KEY_GRACE: positiveInt.default(3600),
  KEYGATE_REFRESH_TTL: positiveInt.default(30 * 86400),
  KEYGATE_REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).default(60),
  KEYGATE_CLEANUP_INTERVAL_SECONDS: positiveInt.default(600),
  KEYGATE_RESOURCE_SERVERS: z.string().default(''),
  KEYGATE_CLIENTS_FILE: z.string().optional(),
  KEYGATE_REGISTRATION: z.enum(['open', 'closed']).default('open'),
  KEYGATE_REGISTRATION_REDIRECT_HOSTS: z.string().default(''),
  KEYGATE_REGISTRATION_TTL: positiveInt.default(30 * 86400),
  KEYGATE_CIMD_ALLOW_PRIVATE: bool.default(false),
  KEYGATE_CIMD_TIMEOUT_MS: positiveInt.default(3000),
  KEYGATE_RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
  KEYGATE_RATE_LIMIT_REGISTER: positiveInt.default(60),
  KEYGATE_RATE_LIMIT_TOKEN: positiveInt.default(600),
  KEYGATE_RATE_LIMIT_AUTHORIZE: positiveInt.default(300),
  KEYGATE_RATE_LIMIT_LOGIN: positiveInt.default(60),
  KEYGATE_RATE_LIMIT_MCP: positiveInt.default(1200),
  KEYGATE_RATE_LIMIT_MCP_AUTH_FAILURES: positiveInt.default(60),
  KEYGATE_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  // Who signs people in (login.ts).
  ...loginEnv,
  ...keysEnv,
  // The product's face (brand.ts).
  ...brandEnv,
})

export type Config = {
  production: boolean
  /** The product's name, logo, colour and links on every page (brand.ts). */
  brand: Brand
  login: Login
  /** Where keys live: keygate's api_keys, or the product's table (mapping); which tokens /mcp hashes. */
  keys: KeysSettings
  /** The product's sign-out page, offered after signing out of keygate. */
  logoutUrl: string | undefined
  /** What each role may grant; null: every role may grant every scope. */
  roleScopes: RoleScopes | null
  /** SHA-256 of the product's provisioning token (the token is not kept); unset: no provisioning API. */
  provisioningTokenHash: string | undefined
  port: number
  host: string
  /** Issuer URL, never with a trailing slash (RFC 8414 §3.3 compares it byte for byte). */
  issuer: string
  /** The MCP resource: ISSUER + "/mcp" (RFC 9728 resource, RFC 8707 audience). */
  resource: string
  dbPath: string
  /** A postgres:// or mysql:// URL; when set, that database is the store instead of SQLite. */
  databaseUrl: string | undefined
  /**
   * Where keygate's tables live, created if missing: a PostgreSQL schema (default: the
   * search_path) or a MySQL database (default: the URL's).
   */
  databaseSchema: string | undefined
  metrics: boolean
  secret: string
  previousSecrets: string[]
  secretGenerated: boolean
  keyPrefix: string
  scopes: string[]
  alwaysScopes: string[]
  /** Every scope with its words and its default on the consent page (scopes.ts). */
  scopeCatalogue: ScopeInfo[]
  logLevel: string
  loginMaxFailures: number
  loginWindowSeconds: number
  /** Attempts per email (from any address) per window before they are slowed. */
  loginEmailCeiling: number
  /** Past the ceiling: one attempt per email every this many seconds. */
  loginSlowSeconds: number
  /** scrypt's N for new password hashes. */
  scryptCost: number
  sessionTtlSeconds: number
  /** Tests only (refused in production): a file holding the time in ms that keygate reads as now. */
  testClockFile: string | undefined
  upstream: string | undefined
  openapi: string | undefined
  upstreamTimeoutMs: number
  /** A client must send its whole request (headers and body) within this; else 408 and close. */
  requestTimeoutMs: number
  /** A client must send its request headers within this. */
  headersTimeoutMs: number
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number
  upstreamMaxBytes: number
  mcpMaxBodyBytes: number
  mcpResponse: 'json' | 'sse'
  allowedHosts: string[]
  allowedOrigins: string[]
  trustProxy: boolean
  /** Lifetime of OAuth-minted keys in seconds; undefined = they do not expire (no refresh tokens). */
  accessTtl: number | undefined
  /** Lifetime in seconds of a device code (RFC 8628). */
  deviceTtl: number
  /** Lifetime in seconds of an ID token (OpenID Connect). */
  idTokenTtl: number
  /** Seconds between a rotated signing key's publication and its first signature. */
  signingKeyGrace: number
  /** The issuer's path ('' at the root): every route is served under it. */
  issuerPath: string
  refreshTtl: number
  refreshGraceSeconds: number
  cleanupIntervalSeconds: number
  /** Resource servers allowed to call /introspect: id → SHA-256 hex of the secret. */
  resourceServers: Map<string, string>
  clientsFile: string | undefined
  registrationOpen: boolean
  /** Open registration accepts redirect URIs on these hosts only (`*.example.com` for subdomains); empty: any. Loopback always. */
  registrationRedirectHosts: string[]
  /** Seconds after which a dynamically registered client that was never used is deleted. */
  registrationTtl: number
  cimdAllowPrivate: boolean
  cimdTimeoutMs: number
  rateLimits: {
    windowSeconds: number
    register: number
    token: number
    authorize: number
    login: number
    mcp: number
    mcpAuthFailures: number
  }
  /** Redis for rate-limit counters shared by every instance; undefined = per process. */
  redisUrl: string | undefined
}

function parseIssuer(raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    fail('KEYGATE_ISSUER', `not an absolute URL: ${raw}`)
  }
  if (url.search || url.hash) fail('KEYGATE_ISSUER', 'must not have a query or fragment (RFC 8414 §2)')
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    fail('KEYGATE_ISSUER', 'must be https (http is allowed only for localhost) (OAuth 2.1 §1.5)')
  }
  if (url.username || url.password) fail('KEYGATE_ISSUER', 'must not contain credentials')
  // A path (https://example.com/oauth/2.1): everything is served under it (src/app.ts, issuerPath).
  const path = url.pathname.replace(/\/+$/, '')
  if (path !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(path))
    fail('KEYGATE_ISSUER', 'its path may hold only letters, digits and . _ ~ - between slashes')
  return url.origin + path
}

function checkSecret(variable: string, secret: string): string {
  if (Buffer.byteLength(secret) < 32) fail(variable, 'must be at least 32 bytes long')
  return secret
}

/** Reads or creates the development secret beside the database file. */
function developmentSecret(dbPath: string, warn: (msg: string) => void): string {
  const file = resolve(dirname(dbPath), 'secret')
  if (existsSync(file)) return checkSecret(file, readFileSync(file, 'utf8').trim())
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const secret = randomBytes(32).toString('base64url')
  writeFileSync(file, `${secret}\n`, { mode: 0o600 })
  warn(`KEYGATE_SECRET is not set: generated one into ${file}. Set KEYGATE_SECRET in production.`)
  return secret
}

/** "id:secret,id2:secret2" → id → SHA-256 of the secret (the secret is not kept). */
function parseResourceServers(raw: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const entry of list(/,/)(raw)) {
    const colon = entry.indexOf(':')
    const id = entry.slice(0, colon)
    const secret = entry.slice(colon + 1)
    if (colon < 1 || !/^[\w.-]{1,100}$/.test(id))
      fail('KEYGATE_RESOURCE_SERVERS', 'entries must look like id:secret (id of letters, digits, "_", "-", ".")')
    if (Buffer.byteLength(secret) < 32)
      fail('KEYGATE_RESOURCE_SERVERS', `the secret of ${id} must be at least 32 bytes long`)
    out.set(id, sha256Hex(secret))
  }
  return out
}

export type LoadOptions = { warn?: (msg: string) => void; generateSecret?: boolean }

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  const parsed = envSchema.safeParse(env)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    fail(String(issue.path[0] ?? 'environment'), issue.message)
  }
  const e = parsed.data
  const production = e.NODE_ENV === 'production'
  const issuer = parseIssuer(e.KEYGATE_ISSUER ?? `http://localhost:${e.PORT}`)
  const warn = options.warn ?? ((msg: string) => console.warn(msg))
  let secret: string
  let secretGenerated = false
  if (e.KEYGATE_SECRET !== undefined) {
    secret = checkSecret('KEYGATE_SECRET', e.KEYGATE_SECRET)
  } else if (production) {
    fail('KEYGATE_SECRET', 'is required when NODE_ENV=production (32+ bytes, e.g. `openssl rand -base64 32`)')
  } else if (options.generateSecret === false) {
    fail('KEYGATE_SECRET', 'is not set')
  } else {
    secret = developmentSecret(e.KEYGATE_DB, warn)
    secretGenerated = true
  }
  const previousSecrets = list(/,/)(e.KEYGATE_PREVIOUS_SECRETS).map((s) => checkSecret('KEYGATE_PREVIOUS_SECRETS', s))
  const {
    scopes,
    alwaysScopes,
    catalogue: scopeCatalogue,
  } = parseScopes(env, e.KEYGATE_SCOPES, e.KEYGATE_ALWAYS_SCOPES)
  // A cheap cost is for tests only: in production it would make stolen hashes cheap to crack.
  // A clock others can set is for tests across processes only.
  if (production && e.KEYGATE_TEST_CLOCK_FILE !== undefined)
    fail('KEYGATE_TEST_CLOCK_FILE', 'is for tests only: refused when NODE_ENV=production')
  if (production && e.KEYGATE_SCRYPT_COST < DEFAULT_SCRYPT_COST)
    fail('KEYGATE_SCRYPT_COST', `must be at least ${DEFAULT_SCRYPT_COST} when NODE_ENV=production`)
  if (e.KEYGATE_HEADERS_TIMEOUT_MS > e.KEYGATE_REQUEST_TIMEOUT_MS)
    fail('KEYGATE_HEADERS_TIMEOUT_MS', 'must not exceed KEYGATE_REQUEST_TIMEOUT_MS')
  // The product's API may be reached over http on a private network, also in production.
  if (e.KEYGATE_UPSTREAM !== undefined) absoluteUrl('KEYGATE_UPSTREAM', e.KEYGATE_UPSTREAM, false)
  const login = parseLogin(e, production)
  const roleScopes = parseRoleScopes(e.KEYGATE_ROLE_SCOPES, scopes, alwaysScopes)
  const provisioningTokenHash = parseProvisioningToken(e.KEYGATE_PROVISIONING_TOKEN, login)
  const logoutUrl =
    e.KEYGATE_LOGOUT_URL === undefined ? undefined : absoluteUrl('KEYGATE_LOGOUT_URL', e.KEYGATE_LOGOUT_URL, production)
  return {
    production,
    brand: parseBrand(e, production),
    login,
    keys: parseKeys(e, login, e.KEYGATE_ACCESS_TTL),
    logoutUrl,
    roleScopes,
    provisioningTokenHash,
    port: e.PORT,
    host: e.HOST,
    issuer,
    resource: `${issuer}/mcp`,
    dbPath: e.KEYGATE_DB,
    databaseUrl: e.KEYGATE_DATABASE_URL,
    databaseSchema: e.KEYGATE_DATABASE_SCHEMA,
    metrics: e.KEYGATE_METRICS,
    secret,
    previousSecrets,
    secretGenerated,
    keyPrefix: e.KEYGATE_KEY_PREFIX,
    scopes,
    alwaysScopes,
    scopeCatalogue,
    logLevel: e.KEYGATE_LOG_LEVEL,
    loginMaxFailures: e.KEYGATE_LOGIN_MAX_FAILURES,
    loginWindowSeconds: e.KEYGATE_LOGIN_WINDOW_SECONDS,
    loginEmailCeiling: e.KEYGATE_LOGIN_EMAIL_CEILING,
    loginSlowSeconds: e.KEYGATE_LOGIN_SLOW_SECONDS,
    scryptCost: e.KEYGATE_SCRYPT_COST,
    sessionTtlSeconds: e.KEYGATE_SESSION_TTL_SECONDS,
    testClockFile: e.KEYGATE_TEST_CLOCK_FILE,
    upstream: e.KEYGATE_UPSTREAM?.replace(/\/+$/, ''),
    openapi: e.KEYGATE_OPENAPI,
    upstreamTimeoutMs: e.KEYGATE_UPSTREAM_TIMEOUT_MS,
    requestTimeoutMs: e.KEYGATE_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: e.KEYGATE_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: e.KEYGATE_KEEP_ALIVE_TIMEOUT_MS,
    upstreamMaxBytes: e.KEYGATE_UPSTREAM_MAX_BYTES,
    mcpMaxBodyBytes: e.KEYGATE_MCP_MAX_BODY_BYTES,
    mcpResponse: e.KEYGATE_MCP_RESPONSE,
    allowedHosts: list(/,/)(e.KEYGATE_ALLOWED_HOSTS).map((h) => h.toLowerCase()),
    allowedOrigins: list(/,/)(e.KEYGATE_ALLOWED_ORIGINS),
    trustProxy: e.KEYGATE_TRUST_PROXY,
    accessTtl: e.KEYGATE_ACCESS_TTL,
    deviceTtl: e.KEYGATE_DEVICE_TTL,
    idTokenTtl: e.KEYGATE_ID_TOKEN_TTL,
    signingKeyGrace: e.KEYGATE_SIGNING_KEY_GRACE,
    issuerPath: new URL(issuer).pathname.replace(/\/+$/, ''),
    refreshTtl: e.KEYGATE_REFRESH_TTL,
    refreshGraceSeconds: e.KEYGATE_REFRESH_GRACE_SECONDS,
    cleanupIntervalSeconds: e.KEYGATE_CLEANUP_INTERVAL_SECONDS,
    resourceServers: parseResourceServers(e.KEYGATE_RESOURCE_SERVERS),
    clientsFile: e.KEYGATE_CLIENTS_FILE,
    registrationOpen: e.KEYGATE_REGISTRATION === 'open',
    registrationRedirectHosts: list(/,/)(e.KEYGATE_REGISTRATION_REDIRECT_HOSTS).map((h) => {
      const host = h.toLowerCase()
      if (!/^(\*\.)?[a-z0-9.-]+(:\d+)?$/.test(host))
        fail('KEYGATE_REGISTRATION_REDIRECT_HOSTS', `${h} is not a host name (or *.example.com)`)
      return host
    }),
    registrationTtl: e.KEYGATE_REGISTRATION_TTL,
    cimdAllowPrivate: e.KEYGATE_CIMD_ALLOW_PRIVATE,
    cimdTimeoutMs: e.KEYGATE_CIMD_TIMEOUT_MS,
    rateLimits: {
      windowSeconds: e.KEYGATE_RATE_LIMIT_WINDOW_SECONDS,
      register: e.KEYGATE_RATE_LIMIT_REGISTER,
      token: e.KEYGATE_RATE_LIMIT_TOKEN,
      authorize: e.KEYGATE_RATE_LIMIT_AUTHORIZE,
      login: e.KEYGATE_RATE_LIMIT_LOGIN,
      mcp: e.KEYGATE_RATE_LIMIT_MCP,
      mcpAuthFailures: e.KEYGATE_RATE_LIMIT_MCP_AUTH_FAILURES,
    },
    redisUrl: e.KEYGATE_REDIS_URL,
  }
}
