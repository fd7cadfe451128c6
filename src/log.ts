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

const SECRET_PARAMS = /([?&](?:code|code_verifier|client_secret|password|refresh_token|access_token|token|api_key|key)=)[^&#]*/gi

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]')
}

export const logSerializers = {
  req(req: FastifyRequest) {
    return { id: req.id, method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }
  },
}
