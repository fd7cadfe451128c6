// Log hygiene: secrets never reach a log line. Headers are redacted by path; query strings
// lose the values of parameters that can carry secrets.
import type { FastifyRequest } from 'fastify'

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.client_secret',
  '*.code',
  '*.code_verifier',
  '*.refresh_token',
  '*.access_token',
  '*.token',
]

/**
 * What a redacted path is replaced with. A \`code\` that is an error's (ECONNREFUSED,
 * ERR_INVALID_URL, FST_ERR_…, PostgreSQL's 23505) is kept: an operator needs it, and an
 * authorization code (base64url, lower-case letters in it) never looks like one.
 */
export function censor(value: unknown, path: string[]): unknown {
  if (path.at(-1) === 'code' && typeof value === 'string' && /^[A-Z0-9_]{1,64}$/.test(value)) return value
  return '[redacted]'
}

const SECRET_PARAMS =
  /([?&](?:code|code_verifier|client_secret|password|refresh_token|access_token|token|api_key|key)=)[^&#]*/gi

// Keys and refresh tokens have a recognisable shape (prefix, 43 + 6 base62 characters, see
// crypto/api-key.ts): wherever one appears in a URL, path or any parameter, it is redacted.
const KEY_SHAPED = /[a-z][a-z0-9]{0,12}_[0-9A-Za-z]{49}(?![0-9A-Za-z])/g

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]').replace(KEY_SHAPED, '[redacted-key]')
}

export const logSerializers = {
  req(req: FastifyRequest) {
    return { id: req.id, method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }
  },
}
