// One family of errors, rendered by the one error handler in app.ts. Every error keygate
// answers with is a KeygateError: a status, headers, `expose` (a 5xx never shows its
// message) and a name. Each kind of route answers in its own shape (RouteKind): OAuth
// endpoints RFC 6749 §5.2 JSON, pages an HTML page, /mcp a JSON-RPC error, the demo API
// RFC 9457 problem details. A route declares its kind; an error that is not keygate's own
// (a Fastify 4xx, an unexpected failure) is rendered in the shape of the route's kind.

import { STATUS_CODES } from 'node:http'

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'server_error'
  | 'not_found'
  | 'too_many_requests'
  | 'invalid_token'
  | 'insufficient_scope'
  // RFC 8628 §3.5
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'

/** How a route answers, errors included; declared by every route as `config.kind`. */
export type RouteKind = 'oauth' | 'page' | 'mcp' | 'api'

export type ErrorOptions = {
  headers?: Record<string, string>
  /** Whether the message may be shown; by default only below 500 (node-oidc-provider's rule). */
  expose?: boolean
}

export class KeygateError extends Error {
  readonly status: number
  readonly headers: Record<string, string>
  readonly expose: boolean

  constructor(status: number, message: string, options: ErrorOptions = {}) {
    super(message)
    this.name = new.target.name
    this.status = status
    this.headers = options.headers ?? {}
    this.expose = options.expose ?? status < 500
  }
}

/** An OAuth endpoint's error (RFC 6749 §5.2), also the Bearer challenges of /mcp (RFC 6750 §3). */
export class OAuthError extends KeygateError {
  readonly code: OAuthErrorCode

  constructor(code: OAuthErrorCode, description: string, status = 400, headers: Record<string, string> = {}) {
    super(status, description, { headers })
    this.code = code
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.code, error_description: this.message }
  }
}

/** An error shown to a person in the browser as an HTML page (never a redirect). */
export class PageError extends KeygateError {
  readonly title: string

  constructor(status: number, title: string, message: string) {
    super(status, message)
    this.title = title
  }
}

export type RequestId = string | number | null

/** A JSON-RPC 2.0 error answer from /mcp (§5.1), with the id of the request when it is known. */
export class JsonRpcError extends KeygateError {
  readonly code: number
  readonly id: RequestId

  constructor(status: number, code: number, message: string, id: RequestId = null, options: ErrorOptions = {}) {
    super(status, message, options)
    this.code = code
    this.id = id
  }

  toJSON(): { jsonrpc: '2.0'; error: { code: number; message: string }; id: RequestId } {
    return { jsonrpc: '2.0', error: { code: this.code, message: this.message }, id: this.id }
  }
}

/**
 * An error of a plain JSON API (the demo API, /healthz, /metrics), shaped as a product's
 * REST API would answer: RFC 9457 problem details, served as application/problem+json.
 * `type` is about:blank, so `title` is the status's own phrase (RFC 9457 §4.2.1).
 */
export class ApiError extends KeygateError {
  toJSON(): { type: string; title: string; status: number; detail: string } {
    const detail = this.expose ? this.message : 'internal server error'
    return { type: 'about:blank', title: STATUS_CODES[this.status] ?? 'Error', status: this.status, detail }
  }
}
