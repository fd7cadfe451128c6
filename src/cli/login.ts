// `keygate login|logout --url https://host/mcp`: a stdio client's key without pasting one.
// login finds the server's authorization server the way an MCP client does (the 401's
// resource_metadata, then RFC 9728 and RFC 8414 metadata), registers itself if it has no
// client there yet, runs the device flow (RFC 8628: prints where to go and the code, polls)
// and keeps the key for that URL in a file only the user can read. `keygate stdio` uses it
// when KEYGATE_API_KEY is not set; logout revokes it (RFC 7009) and forgets it.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { CLI_CLIENT_ID } from '../oauth/first-party.js'
import { type Io, parse, UsageError } from './common.js'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

export type Credential = {
  issuer: string
  clientId: string
  tokenEndpoint: string
  revocationEndpoint: string | null
  accessToken: string
  refreshToken: string | null
  /** Unix seconds; null when the key does not expire. */
  expiresAt: number | null
}

type CredentialsFile = { version: 1; servers: Record<string, Credential> }

export function credentialsPath(env: NodeJS.ProcessEnv): string {
  if (env.KEYGATE_CREDENTIALS) return env.KEYGATE_CREDENTIALS
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config')
  return join(base, 'keygate', 'credentials.json')
}

function readCredentials(path: string): CredentialsFile {
  if (!existsSync(path)) return { version: 1, servers: {} }
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as CredentialsFile
  return parsed && typeof parsed.servers === 'object' ? parsed : { version: 1, servers: {} }
}

/** Written to a temporary file (mode 0600) and renamed over the old one: never half-written, never readable by others. */
function writeCredentials(path: string, file: CredentialsFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 })
  chmodSync(temporary, 0o600)
  renameSync(temporary, path)
}

export function storedCredential(env: NodeJS.ProcessEnv, url: URL): Credential | undefined {
  return readCredentials(credentialsPath(env)).servers[url.href]
}

export function saveCredential(env: NodeJS.ProcessEnv, url: URL, credential: Credential | undefined): void {
  const path = credentialsPath(env)
  const file = readCredentials(path)
  if (credential) file.servers[url.href] = credential
  else delete file.servers[url.href]
  writeCredentials(path, file)
}

export function parseUrl(args: string[]): URL {
  const { values, positionals } = parse(args, { url: { type: 'string' } })
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
  if (typeof values.url !== 'string' || !values.url)
    throw new UsageError('--url is required, like --url https://mcp.example.com/mcp')
  let url: URL
  try {
    url = new URL(values.url)
  } catch {
    throw new UsageError(`--url ${values.url} is not an absolute URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError('--url must be http(s)')
  return url
}

type Json = Record<string, unknown>

async function json(res: Response, what: string): Promise<Json> {
  const text = await res.text()
  try {
    return JSON.parse(text) as Json
  } catch {
    throw new Error(`${what} answered HTTP ${res.status} without JSON`)
  }
}

const wellKnown = (base: string, name: string) => {
  const url = new URL(base)
  const path = url.pathname === '/' ? '' : url.pathname
  return `${url.origin}/.well-known/${name}${path}`
}

/** The MCP server's authorization server metadata, found as an MCP client finds it. */
async function discover(url: URL): Promise<{ resource: string; as: Json }> {
  const probe = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  })
  const challenge = probe.headers.get('www-authenticate') ?? ''
  const pointed = /resource_metadata="([^"]+)"/.exec(challenge)?.[1]
  if (probe.status !== 401)
    throw new Error(`${url.href} answered HTTP ${probe.status}, not 401: is it an MCP server with OAuth?`)
  const prm = await json(
    await fetch(pointed ?? wellKnown(url.href, 'oauth-protected-resource')),
    'the resource metadata',
  )
  const issuer = (prm.authorization_servers as string[] | undefined)?.[0]
  if (typeof issuer !== 'string') throw new Error('the resource metadata names no authorization server')
  const as = await json(await fetch(wellKnown(issuer, 'oauth-authorization-server')), 'the authorization server')
  if (typeof as.device_authorization_endpoint !== 'string')
    throw new Error(`${issuer} does not offer the device flow (no device_authorization_endpoint)`)
  return { resource: typeof prm.resource === 'string' ? prm.resource : url.href, as }
}

async function register(as: Json): Promise<string> {
  if (typeof as.registration_endpoint !== 'string')
    throw new Error('the server does not register clients: ask its operator for a client id and set KEYGATE_CLIENT_ID')
  const res = await fetch(as.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'keygate CLI',
      grant_types: [DEVICE_GRANT, 'refresh_token'],
      token_endpoint_auth_method: 'none',
    }),
  })
  const body = await json(res, 'registration')
  if (res.status !== 201 || typeof body.client_id !== 'string')
    throw new Error(`registration refused: ${String(body.error_description ?? body.error ?? res.status)}`)
  return body.client_id
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
})

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000))

function credentialFrom(
  tokens: Json,
  base: Omit<Credential, 'accessToken' | 'refreshToken' | 'expiresAt'>,
): Credential {
  return {
    ...base,
    accessToken: String(tokens.access_token),
    refreshToken: typeof tokens.refresh_token === 'string' ? tokens.refresh_token : null,
    expiresAt: typeof tokens.expires_in === 'number' ? Math.floor(Date.now() / 1000) + tokens.expires_in : null,
  }
}

export async function runLogin(args: string[], io: Io): Promise<number> {
  const url = parseUrl(args)
  const { resource, as } = await discover(url)
  const issuer = String(as.issuer)
  const known = storedCredential(io.env, url)
  // keygate's own client id first (the consent page names it as this server's tool); a
  // server that does not know it (another keygate version, another server) registers one.
  let clientId = known?.issuer === issuer ? known.clientId : (io.env.KEYGATE_CLIENT_ID ?? CLI_CLIENT_ID)
  const start = () => fetch(String(as.device_authorization_endpoint), form({ client_id: clientId, resource }))
  let started = await start()
  let device = await json(started, 'the device authorization endpoint')
  if (started.status !== 200 && device.error === 'invalid_client' && clientId === CLI_CLIENT_ID) {
    clientId = await register(as)
    started = await start()
    device = await json(started, 'the device authorization endpoint')
  }
  if (started.status !== 200)
    throw new Error(`the device flow could not start: ${String(device.error_description ?? device.error)}`)
  io.out(`To sign in, open ${String(device.verification_uri)} and enter the code ${String(device.user_code)}`)
  io.out(`  (or open ${String(device.verification_uri_complete ?? device.verification_uri)})`)
  io.out('Waiting for approval…')
  let interval = Number(device.interval ?? 5)
  const deadline = Date.now() + Number(device.expires_in ?? 600) * 1000
  while (Date.now() < deadline) {
    await sleep(interval)
    const res = await fetch(
      String(as.token_endpoint),
      form({ grant_type: DEVICE_GRANT, device_code: String(device.device_code), client_id: clientId }),
    )
    const tokens = await json(res, 'the token endpoint')
    if (res.status === 200) {
      saveCredential(
        io.env,
        url,
        credentialFrom(tokens, {
          issuer,
          clientId,
          tokenEndpoint: String(as.token_endpoint),
          revocationEndpoint: typeof as.revocation_endpoint === 'string' ? as.revocation_endpoint : null,
        }),
      )
      io.out(`Signed in. The key for ${url.href} is in ${credentialsPath(io.env)}.`)
      return 0
    }
    if (tokens.error === 'authorization_pending') continue
    if (tokens.error === 'slow_down') {
      interval += 5
      continue
    }
    if (tokens.error === 'access_denied') throw new Error('the request was denied')
    if (tokens.error === 'expired_token') break
    throw new Error(`sign-in failed: ${String(tokens.error_description ?? tokens.error)}`)
  }
  throw new Error('the code expired before it was approved: run keygate login again')
}

export async function runLogout(args: string[], io: Io): Promise<number> {
  const url = parseUrl(args)
  const credential = storedCredential(io.env, url)
  if (!credential) throw new Error(`not signed in to ${url.href}`)
  if (credential.revocationEndpoint) {
    const res = await fetch(
      credential.revocationEndpoint,
      form({ token: credential.accessToken, token_type_hint: 'access_token', client_id: credential.clientId }),
    )
    if (res.status !== 200) throw new Error(`the server did not revoke the key (HTTP ${res.status}); it was kept`)
  }
  saveCredential(io.env, url, undefined)
  io.out(`Signed out of ${url.href}: the key is revoked and forgotten.`)
  return 0
}

/**
 * The stored key for a URL, refreshed first when it expired and a refresh token is kept;
 * undefined when there is none.
 */
/**
 * The stored key for `url`, refreshed first when it expires within 30 s, or at once with
 * `refresh` (the server refused it: it expired by the server's clock, or ended early).
 */
export async function keyFor(io: Io, url: URL, refresh = false): Promise<string | undefined> {
  const credential = storedCredential(io.env, url)
  if (!credential) return undefined
  const now = Math.floor(Date.now() / 1000)
  const due = credential.expiresAt !== null && credential.expiresAt <= now + 30
  if (!credential.refreshToken || !(due || refresh)) return credential.accessToken
  const res = await fetch(
    credential.tokenEndpoint,
    form({ grant_type: 'refresh_token', refresh_token: credential.refreshToken, client_id: credential.clientId }),
  )
  if (res.status !== 200) return credential.accessToken
  const refreshed = credentialFrom(await json(res, 'the token endpoint'), credential)
  saveCredential(io.env, url, refreshed)
  return refreshed.accessToken
}
