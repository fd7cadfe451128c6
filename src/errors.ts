// One error type for OAuth endpoints (RFC 6749 §5.2 JSON) and one for browser pages, both
// rendered by the single error handler in app.ts.

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

export class OAuthError extends Error {
  readonly code: OAuthErrorCode
  readonly status: number
  readonly headers: Record<string, string>

  constructor(code: OAuthErrorCode, description: string, status = 400, headers: Record<string, string> = {}) {
    super(description)
    this.code = code
    this.status = status
    this.headers = headers
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.code, error_description: this.message }
  }
}

/** An error shown to a person in the browser as an HTML page (never a redirect). */
export class PageError extends Error {
  readonly status: number
  readonly title: string

  constructor(status: number, title: string, message: string) {
    super(message)
    this.status = status
    this.title = title
  }
}
