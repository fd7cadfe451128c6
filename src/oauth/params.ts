// The parameters of every OAuth form and query, one zod schema each, in spec order.
//
// A parameter is one string of at most MAX_PARAM characters. Empty counts as absent
// (RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted");
// sent twice it is invalid_request (§3.1: "MUST NOT be included more than once"); one the
// schema does not name is ignored (§3.1, §3.2). Required parameters are required here, so
// that missing, repeated, wrong-typed and oversized parameters are all refused in one place;
// the routes' named checks then read typed values and check what they mean.
import { z } from 'zod'
import { OAuthError, type OAuthErrorCode, PageError } from '../shared/errors.js'
import { fieldsOf, textField, ticked } from '../shared/request-fields.js'

export const MAX_PARAM = 4096

type ParamOptions = {
  /** The error code of every issue with this parameter (default invalid_request). */
  error?: OAuthErrorCode
  /** The description when it is sent more than once. */
  repeated?: string
}

/** An optional parameter: string | undefined. */
export function param(name: string, options: ParamOptions = {}) {
  const error = options.error ?? 'invalid_request'
  return z
    .unknown()
    .optional()
    .transform((value, ctx): string | undefined => {
      if (value === undefined || value === '') return undefined
      const fail = (message: string) => {
        ctx.addIssue({ code: 'custom', message, params: { error } })
        return z.NEVER
      }
      if (typeof value !== 'string') return fail(options.repeated ?? `${name} must be a single string`)
      if (value.length > MAX_PARAM) return fail(`${name} is too long`)
      return value
    })
}

/** A required parameter: string; `missing` is the description (and `missingError` the code) when absent. */
export function required(
  name: string,
  options: ParamOptions & { missing?: string; missingError?: OAuthErrorCode } = {},
) {
  return param(name, options).transform((value, ctx): string => {
    if (value !== undefined) return value
    ctx.addIssue({
      code: 'custom',
      message: options.missing ?? `${name} is required`,
      params: { error: options.missingError ?? 'invalid_request' },
    })
    return z.NEVER
  })
}

// Client authentication in the body (RFC 6749 §2.3.1); Basic is read from the header.
const clientCredentials = { client_id: param('client_id'), client_secret: param('client_secret') }

/** POST /token, whatever the grant. */
export const tokenForm = z.object({
  grant_type: required('grant_type'),
  ...clientCredentials,
  code: param('code'),
  redirect_uri: param('redirect_uri'),
  code_verifier: param('code_verifier', { error: 'invalid_grant' }),
  refresh_token: param('refresh_token'),
  resource: param('resource', { error: 'invalid_target' }),
  scope: param('scope'),
})

/** grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5), read after the client is known. */
export const codeGrantForm = tokenForm.extend({
  code: required('code'),
  redirect_uri: required('redirect_uri'),
  code_verifier: required('code_verifier', { error: 'invalid_grant', missingError: 'invalid_grant' }),
})

/** grant_type=refresh_token (RFC 6749 §6). */
export const refreshGrantForm = tokenForm.extend({ refresh_token: required('refresh_token') })

/** POST /revoke (RFC 7009 §2.1). */
export const revokeForm = z.object({
  ...clientCredentials,
  token: required('token'),
  token_type_hint: param('token_type_hint'),
})

/** POST /introspect (RFC 7662 §2.1); the caller authenticates with Basic. */
export const introspectForm = z.object({ token: required('token'), token_type_hint: param('token_type_hint') })

const pageRepeated = (name: string) => ({ repeated: `${name} must not be repeated` })

/**
 * /authorize, phase one: the client and its redirect URI. Until both are known good, errors
 * are a page, never a redirect (RFC 6749 §4.1.2.1).
 */
export const authorizeClientParams = z.object({
  client_id: required('client_id', {
    ...pageRepeated('client_id'),
    missing: 'The request has no client_id. The application that sent you here is misconfigured.',
  }),
  redirect_uri: required('redirect_uri', {
    ...pageRepeated('redirect_uri'),
    missing: 'The request has no redirect_uri.',
  }),
})

/** /authorize, phase two: reported to the client by redirect (RFC 6749 §4.1.2.1). */
export const authorizeRequestParams = z.object({
  response_type: required('response_type', pageRepeated('response_type')),
  code_challenge: required('code_challenge', {
    ...pageRepeated('code_challenge'),
    missing: 'code_challenge is required (PKCE, RFC 7636)',
  }),
  code_challenge_method: param('code_challenge_method', pageRepeated('code_challenge_method')),
  // RFC 8707 allows several; this server is one resource, so several is invalid_target.
  resource: param('resource', {
    error: 'invalid_target',
    repeated: 'resource may be given once: this server is one resource',
  }),
  scope: param('scope', pageRepeated('scope')),
  nonce: param('nonce', pageRepeated('nonce')),
})

/**
 * The consent form (POST /authorize), beside the authorization request it carries. A page,
 * not an OAuth endpoint: a field that is not one string reads as '' and the checks after
 * refuse it (a stale form, no account chosen) with their own page.
 */
export const consentForm = z.object({
  csrf: textField(MAX_PARAM),
  decision: textField(MAX_PARAM),
  account_id: textField(MAX_PARAM),
  scope_choice: ticked,
})

/** state, echoed as sent when it is one string (cut to MAX_PARAM); anything else is dropped. */
export function stateOf(fields: Record<string, unknown>): string | undefined {
  return typeof fields.state === 'string' && fields.state !== '' ? fields.state.slice(0, MAX_PARAM) : undefined
}

type Issue = { message: string; params?: { error?: OAuthErrorCode } }

function firstIssue(error: z.ZodError): Issue {
  return error.issues[0] as Issue
}

/** Parses an OAuth form or query; the first issue, in schema order, is the RFC 6749 error. */
export function parseOAuth<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const fields = fieldsOf(input)
  if (!fields) throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded')
  const parsed = schema.safeParse(fields)
  if (parsed.success) return parsed.data
  const issue = firstIssue(parsed.error)
  throw new OAuthError(issue.params?.error ?? 'invalid_request', issue.message)
}

/** Parses /authorize's phase-one parameters; an issue is a page. */
export function parseForPage<T extends z.ZodType>(
  schema: T,
  fields: Record<string, unknown>,
  title: string,
): z.output<T> {
  const parsed = schema.safeParse(fields)
  if (parsed.success) return parsed.data
  throw new PageError(400, title, firstIssue(parsed.error).message)
}
