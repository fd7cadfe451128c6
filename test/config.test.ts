import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config/index.js'
import { SECRET, tempDir } from './helper.js'

t.test('defaults', async (t) => {
  const dir = tempDir(t)
  const warnings: string[] = []
  const c = loadConfig({ KEYGATE_DB: join(dir, 'k.db') }, { warn: (m) => warnings.push(m) })
  t.equal(c.port, 3000)
  t.equal(c.issuer, 'http://localhost:3000')
  t.equal(c.resource, 'http://localhost:3000/mcp')
  t.equal(c.keyPrefix, 'kg_')
  t.same(c.scopes, ['read', 'write'])
  t.same(c.alwaysScopes, ['read'])
  t.ok(c.secretGenerated)
  t.equal(warnings.length, 1, 'warns once')
  t.match(warnings[0], /KEYGATE_SECRET is not set/)
  const file = join(dir, 'secret')
  t.ok(existsSync(file))
  const again = loadConfig({ KEYGATE_DB: join(dir, 'k.db') }, { warn: (m) => warnings.push(m) })
  t.equal(again.secret, readFileSync(file, 'utf8').trim(), 'the generated secret is reused')
  t.equal(warnings.length, 1, 'and not warned about again')
  t.equal(loadConfig({ PORT: '8080', KEYGATE_SECRET: SECRET }).issuer, 'http://localhost:8080')
})

t.test('the generated secret is made 0600 in a folder made 0700', async (t) => {
  const dir = join(tempDir(t), 'data', 'deeper')
  loadConfig({ KEYGATE_DB: join(dir, 'k.db') }, { warn: () => {} })
  t.equal(statSync(dir).mode & 0o777, 0o700, 'the data folder: owner only')
  t.equal(statSync(join(dir, 'secret')).mode & 0o777, 0o600, 'the secret: owner only')
})

t.test('issuer is stored without a trailing slash', async (t) => {
  t.equal(
    loadConfig({ KEYGATE_ISSUER: 'https://mcp.example.com/', KEYGATE_SECRET: SECRET }).issuer,
    'https://mcp.example.com',
  )
  t.equal(
    loadConfig({ KEYGATE_ISSUER: 'https://MCP.Example.com', KEYGATE_SECRET: SECRET }).issuer,
    'https://mcp.example.com',
  )
})

const HANDOFF: Record<string, string | undefined> = {
  KEYGATE_LOGIN: 'handoff',
  KEYGATE_HANDOFF_URL: 'https://app.example/keygate-handoff',
  KEYGATE_HANDOFF_ISSUER: 'https://app.example',
  KEYGATE_HANDOFF_SECRET: 'product-secret-0123456789-abcdefghijklmn',
}

t.test('bad values stop start-up with one line naming the variable', async (t) => {
  const cases: Array<[Record<string, string | undefined>, string]> = [
    [{ PORT: 'abc' }, 'PORT: '],
    [{ PORT: '70000' }, 'PORT: '],
    [{ KEYGATE_ISSUER: 'not a url' }, 'KEYGATE_ISSUER: not an absolute URL: not a url'],
    [
      { KEYGATE_ISSUER: 'http://mcp.example.com' },
      'KEYGATE_ISSUER: must be https (http is allowed only for localhost) (OAuth 2.1 §1.5)',
    ],
    [
      { KEYGATE_ISSUER: 'https://mcp.example.com/a%20b' },
      'KEYGATE_ISSUER: its path may hold only letters, digits and . _ ~ - between slashes',
    ],
    [
      { KEYGATE_ISSUER: 'https://mcp.example.com/?a=1' },
      'KEYGATE_ISSUER: must not have a query or fragment (RFC 8414 §2)',
    ],
    [{ KEYGATE_SECRET: 'short' }, 'KEYGATE_SECRET: must be at least 32 bytes long'],
    [{ KEYGATE_PREVIOUS_SECRETS: `${SECRET},short` }, 'KEYGATE_PREVIOUS_SECRETS: must be at least 32 bytes long'],
    [
      { KEYGATE_KEY_PREFIX: 'KG-' },
      'KEYGATE_KEY_PREFIX: must be 1-10 lowercase letters or digits followed by "_" (like kg_)',
    ],
    [{ KEYGATE_SCOPES: '' }, 'KEYGATE_SCOPES: must list at least one scope'],
    [{ KEYGATE_SCOPES: 'read "bad"' }, 'KEYGATE_SCOPES: invalid scope token: "bad"'],
    [{ KEYGATE_ALWAYS_SCOPES: 'admin' }, 'KEYGATE_ALWAYS_SCOPES: admin is not in KEYGATE_SCOPES'],
    [{ KEYGATE_LOG_LEVEL: 'loud' }, 'KEYGATE_LOG_LEVEL: '],
    [{ KEYGATE_TRUST_PROXY: 'yes' }, 'KEYGATE_TRUST_PROXY: '],
    [{ KEYGATE_DATABASE_URL: 'mongodb://localhost/db' }, 'KEYGATE_DATABASE_URL: must be a postgres:// or mysql:// URL'],
    [
      { KEYGATE_DATABASE_SCHEMA: 'Keygate; DROP TABLE users' },
      'KEYGATE_DATABASE_SCHEMA: must be a lowercase SQL identifier',
    ],
    [{ KEYGATE_RESOURCE_SERVERS: 'no-colon' }, 'KEYGATE_RESOURCE_SERVERS: entries must look like id:secret'],
    [
      { KEYGATE_RESOURCE_SERVERS: 'api:short' },
      'KEYGATE_RESOURCE_SERVERS: the secret of api must be at least 32 bytes long',
    ],
    [{ KEYGATE_MCP_RESPONSE: 'xml' }, 'KEYGATE_MCP_RESPONSE: '],
    [{ KEYGATE_REGISTRATION: 'maybe' }, 'KEYGATE_REGISTRATION: '],
    [{ KEYGATE_UPSTREAM: 'not a url' }, 'KEYGATE_UPSTREAM: not an absolute URL: not a url'],
    [{ KEYGATE_ACCESS_TTL: '-5' }, 'KEYGATE_ACCESS_TTL: '],
    [{ KEYGATE_REDIS_URL: 'http://127.0.0.1:6379' }, 'KEYGATE_REDIS_URL: must be a redis:// or rediss:// URL'],
    [{ KEYGATE_REQUEST_TIMEOUT_MS: '0' }, 'KEYGATE_REQUEST_TIMEOUT_MS: '],
    [{ KEYGATE_LOGIN_EMAIL_CEILING: 'many' }, 'KEYGATE_LOGIN_EMAIL_CEILING: '],
    [{ KEYGATE_RATE_LIMIT_MCP_AUTH_FAILURES: '-1' }, 'KEYGATE_RATE_LIMIT_MCP_AUTH_FAILURES: '],
    [{ KEYGATE_DEVICE_TTL: '4000' }, 'KEYGATE_DEVICE_TTL: '],
    [{ KEYGATE_ID_TOKEN_TTL: '0' }, 'KEYGATE_ID_TOKEN_TTL: '],
    [{ KEYGATE_SIGNING_KEY_GRACE: 'soon' }, 'KEYGATE_SIGNING_KEY_GRACE: '],
    [{ KEYGATE_REGISTRATION_TTL: '-1' }, 'KEYGATE_REGISTRATION_TTL: '],
    [
      { KEYGATE_REGISTRATION_REDIRECT_HOSTS: 'claude.ai,https://evil.example' },
      'KEYGATE_REGISTRATION_REDIRECT_HOSTS: https://evil.example is not a host name (or *.example.com)',
    ],
    [{ KEYGATE_KEY_FORMAT: 'loose' }, 'KEYGATE_KEY_FORMAT: '],
    [{ KEYGATE_KEY_PEPPER: 'a-pepper-of-many-characters' }, 'KEYGATE_KEY_PEPPER: is only used with KEYGATE_KEYS_TABLE'],
    [{ KEYGATE_SCRYPT_COST: '1000' }, 'KEYGATE_SCRYPT_COST: must be a power of two from 2 to 1048576'],
    [{ KEYGATE_SCRYPT_COST: String(2 ** 21) }, 'KEYGATE_SCRYPT_COST: must be a power of two from 2 to 1048576'],
    [
      { NODE_ENV: 'production', KEYGATE_ISSUER: 'https://mcp.example.com', KEYGATE_TEST_CLOCK_FILE: '/tmp/clock' },
      'KEYGATE_TEST_CLOCK_FILE: is for tests only: refused when NODE_ENV=production',
    ],
    [
      { NODE_ENV: 'production', KEYGATE_ISSUER: 'https://mcp.example.com', KEYGATE_SCRYPT_COST: '1024' },
      'KEYGATE_SCRYPT_COST: must be at least 16384 when NODE_ENV=production',
    ],
    [{ KEYGATE_LOGIN: 'ldap' }, 'KEYGATE_LOGIN: '],
    [{ KEYGATE_LOGIN: 'handoff' }, 'KEYGATE_HANDOFF_URL: is required when KEYGATE_LOGIN=handoff'],
    [
      { KEYGATE_LOGIN: 'handoff', KEYGATE_HANDOFF_URL: 'https://app.example/h' },
      'KEYGATE_HANDOFF_ISSUER: is required when KEYGATE_LOGIN=handoff',
    ],
    [{ ...HANDOFF, KEYGATE_HANDOFF_URL: '/relative' }, 'KEYGATE_HANDOFF_URL: not an absolute URL: /relative'],
    [
      { ...HANDOFF, KEYGATE_HANDOFF_SECRET: undefined },
      'KEYGATE_HANDOFF_SECRET: set exactly one of KEYGATE_HANDOFF_SECRET and KEYGATE_HANDOFF_JWKS_URL',
    ],
    [
      { ...HANDOFF, KEYGATE_HANDOFF_JWKS_URL: 'https://app.example/jwks' },
      'KEYGATE_HANDOFF_SECRET: set exactly one of KEYGATE_HANDOFF_SECRET and KEYGATE_HANDOFF_JWKS_URL',
    ],
    [{ ...HANDOFF, KEYGATE_HANDOFF_SECRET: 'short' }, 'KEYGATE_HANDOFF_SECRET: must be at least 32 bytes'],
    [
      {
        ...HANDOFF,
        NODE_ENV: 'production',
        KEYGATE_ISSUER: 'https://mcp.example.com',
        KEYGATE_HANDOFF_URL: 'http://app.example/h',
      },
      'KEYGATE_HANDOFF_URL: must be https when NODE_ENV=production',
    ],
    [
      { ...HANDOFF, KEYGATE_HANDOFF_TRUST_EMAIL: 'yes' },
      'KEYGATE_HANDOFF_TRUST_EMAIL: Invalid option: expected one of',
    ],
    [{ KEYGATE_OIDC_TRUST_EMAIL: 'always' }, 'KEYGATE_OIDC_TRUST_EMAIL: Invalid option: expected one of'],
    [{ KEYGATE_LOGOUT_URL: 'nope' }, 'KEYGATE_LOGOUT_URL: not an absolute URL: nope'],
    [{ KEYGATE_LOGIN: 'oidc' }, 'KEYGATE_OIDC_ISSUER: is required when KEYGATE_LOGIN=oidc'],
    [
      { KEYGATE_LOGIN: 'oidc', KEYGATE_OIDC_ISSUER: 'https://idp.example' },
      'KEYGATE_OIDC_CLIENT_ID: is required when KEYGATE_LOGIN=oidc',
    ],
    [
      {
        KEYGATE_LOGIN: 'oidc',
        KEYGATE_OIDC_ISSUER: 'https://idp.example',
        KEYGATE_OIDC_CLIENT_ID: 'kg',
        KEYGATE_OIDC_SCOPES: 'email',
      },
      'KEYGATE_OIDC_SCOPES: must include openid',
    ],
    [
      {
        NODE_ENV: 'production',
        KEYGATE_ISSUER: 'https://mcp.example.com',
        KEYGATE_LOGIN: 'oidc',
        KEYGATE_OIDC_ISSUER: 'http://idp.example',
        KEYGATE_OIDC_CLIENT_ID: 'kg',
      },
      'KEYGATE_OIDC_ISSUER: must be https when NODE_ENV=production',
    ],
  ]
  for (const [env, message] of cases) {
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
    t.throws(
      () => loadConfig({ KEYGATE_SECRET: SECRET, ...env }, { generateSecret: false }),
      { constructor: ConfigError, message: new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) },
      message,
    )
  }
  t.equal(loadConfig({ KEYGATE_SECRET: SECRET }, { generateSecret: false }).scryptCost, 16384, 'the default cost')
  t.equal(
    loadConfig({ KEYGATE_SECRET: SECRET, KEYGATE_SCRYPT_COST: '1024' }, { generateSecret: false }).scryptCost,
    1024,
    'a cheap cost outside production (tests)',
  )
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), {
    message: /^KEYGATE_SECRET: is required when NODE_ENV=production/,
  })
})

t.test('the test clock: the time a file holds, read at every call; anything else in it is an error', async (t) => {
  const { writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { clockFor } = await import('../src/plugins/context.js')
  t.equal(clockFor(undefined), Date.now, 'unset: the system clock')
  const { tempDir } = await import('./helper.js')
  const file = join(tempDir(t), 'clock')
  writeFileSync(file, '1796700000000\n')
  const clock = clockFor(file)
  t.equal(clock(), 1796700000000)
  writeFileSync(file, '1796700005000')
  t.equal(clock(), 1796700005000, 'moved by the file')
  writeFileSync(file, 'soon')
  t.throws(() => clock(), { message: /does not hold a time in ms/ })
})
