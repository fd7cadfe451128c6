// Client metadata (RFC 7591 §2), one schema for the three ways a client arrives: dynamic
// registration (register.ts), the operator's clients file (preregistered.ts) and client ID
// metadata documents (cimd.ts). Display-only fields a client cannot use are dropped, not
// fatal (RFC 7591 §2 lets the server replace or ignore them: mcp-use sends client_uri: "");
// only https URLs are ever kept for display. Names lose control, format (bidi overrides,
// zero-width) and other invisible characters, so no name can reorder the text around it.
import { z } from 'zod'
import { cleanName } from '../shared/text.js'
import type { AuthMethod } from '../store/types.js'
import { checkRedirectUriForRegistration, LOOPBACK_HOSTS } from './redirect-uri.js'

/** https on a host that is not loopback: where a web application may be redirected. */
function isWebRedirect(uri: string): boolean {
  const url = new URL(uri)
  return url.protocol === 'https:' && !LOOPBACK_HOSTS.has(url.hostname)
}

export const MAX_REDIRECT_URIS = 10
export const MAX_NAME = 200
const MAX_TEXT = 200
const MAX_URL = 2000
export const AUTH_METHODS = [
  'none',
  'client_secret_basic',
  'client_secret_post',
] as const satisfies readonly AuthMethod[]
/** RFC 8628 §3.4. */
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const GRANT_TYPES = ['authorization_code', 'refresh_token', DEVICE_GRANT]

/** An absolute https URL with a host and no userinfo, or undefined: only such URLs are shown as links. */
export function httpsUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_URL || /[\s<>"'`\\]/.test(value)) return undefined
  try {
    const url = new URL(value)
    return url.protocol === 'https:' && url.hostname && !url.username && !url.password ? value : undefined
  } catch {
    return undefined
  }
}

/** JSON null is treated as absent (some clients send nulls). */
const absentIfNull = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === null ? undefined : v), schema.optional())

const text = (name: string, max = MAX_TEXT) =>
  absentIfNull(z.string({ error: `${name} must be a string` }).max(max, `${name} must be at most ${max} characters`))

const strings = (name: string, max: number) =>
  absentIfNull(
    z
      .array(z.string(), { error: `${name} must be an array of strings` })
      .max(max, `${name} may hold at most ${max} entries`),
  )

/** Display-only URLs: kept when https, dropped otherwise (never fatal). */
const displayUrl = z.unknown().transform(httpsUrl).optional()

/** client_name: cleaned; a name with nothing visible left counts as absent. */
export const clientName = text('client_name', MAX_NAME).transform((v) =>
  v === undefined ? undefined : cleanName(v) || undefined,
)

export const redirectUris = z
  .unknown()
  .superRefine((value, ctx) => {
    if (value === undefined || value === null)
      return void ctx.addIssue({ code: 'custom', message: 'redirect_uris is required' })
    if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string')) {
      return void ctx.addIssue({ code: 'custom', message: 'redirect_uris must be a non-empty array of strings' })
    }
    if (value.length > MAX_REDIRECT_URIS)
      return void ctx.addIssue({
        code: 'custom',
        message: `redirect_uris may hold at most ${MAX_REDIRECT_URIS} entries`,
      })
    for (const uri of value as string[]) {
      try {
        checkRedirectUriForRegistration(uri)
      } catch (err) {
        return void ctx.addIssue({ code: 'custom', message: (err as Error).message })
      }
    }
  })
  .transform((value) => [...new Set(value as string[])])

/** A registration's redirect URIs: required unless the client uses only the device grant (checked below). */
const registeredRedirectUris = z
  .unknown()
  .optional()
  .transform((value, ctx): string[] | undefined => {
    if (value === undefined || value === null) return undefined
    const parsed = redirectUris.safeParse(value)
    if (parsed.success) return parsed.data
    ctx.addIssue({ code: 'custom', message: parsed.error.issues[0]!.message })
    return z.NEVER
  })

const grantTypes = strings('grant_types', 5)
  .refine((g) => g === undefined || g.every((x) => GRANT_TYPES.includes(x)), {
    error: (iss) =>
      `grant_type ${(iss.input as string[]).find((x) => !GRANT_TYPES.includes(x))} is not supported (supported: ${GRANT_TYPES.join(', ')})`,
  })
  .refine(
    (g) => g === undefined || g.includes('authorization_code') || g.includes(DEVICE_GRANT),
    `grant_types must include authorization_code or ${DEVICE_GRANT}`,
  )
  // Omitted stays omitted: the client gets the default grants (defaultGrants), which follow the configuration.
  .transform((g) => (g === undefined ? undefined : [...new Set(g)]))

/** The registration request body (RFC 7591 §2, §3.1), in the order its checks are reported. */
export const registrationSchema = z
  .object(
    {
      redirect_uris: registeredRedirectUris,
      // RFC 7591 defaults to client_secret_basic, but MCP clients that omit the field are
      // public clients and would not expect a secret: default to "none".
      token_endpoint_auth_method: absentIfNull(
        z.enum(AUTH_METHODS, { error: `token_endpoint_auth_method must be one of: ${AUTH_METHODS.join(', ')}` }),
      ).transform((m) => m ?? 'none'),
      grant_types: grantTypes,
      response_types: strings('response_types', 5)
        .refine((t) => t === undefined || t.every((x) => x === 'code'), 'response_types may only contain "code"')
        .transform(() => ['code']),
      client_name: clientName,
      client_uri: displayUrl,
      logo_uri: displayUrl,
      tos_uri: displayUrl,
      policy_uri: displayUrl,
      scope: text('scope', 1000),
      contacts: strings('contacts', 10).refine(
        (c) => c === undefined || c.every((x) => x.length <= MAX_TEXT),
        `contacts entries must be at most ${MAX_TEXT} characters`,
      ),
      software_id: text('software_id'),
      software_version: text('software_version'),
      application_type: absentIfNull(
        z.enum(['web', 'native'], { error: 'application_type must be "web" or "native"' }),
      ),
      // OpenID Connect Dynamic Client Registration §2.
      id_token_signed_response_alg: absentIfNull(
        z.enum(['ES256', 'RS256'], { error: 'id_token_signed_response_alg must be ES256 or RS256' }),
      ),
    },
    { error: 'the request body must be a JSON object' },
  )
  .superRefine((m, ctx) => {
    if (m.redirect_uris === undefined && (m.grant_types ?? ['authorization_code']).includes('authorization_code'))
      ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'redirect_uris is required' })
    // SEP-837, OpenID Connect Registration §2: a web application is redirected to https on a
    // host of its own, never to loopback or an app's scheme (those are a native
    // application's). A native one may use all three (RFC 8252 §7); one that says neither is
    // judged by the redirect URIs alone, as before.
    const local = m.redirect_uris?.find((uri) => !isWebRedirect(uri))
    if (m.application_type === 'web' && local)
      ctx.addIssue({
        code: 'custom',
        path: ['redirect_uris'],
        message: `${local} is not a web application's redirect URI (https on a host that is not loopback); a client redirected to loopback or an app scheme registers application_type "native"`,
      })
  })

/**
 * The grants of a client whose registration omitted grant_types: the code flow, and refresh
 * tokens when keys expire (ChatGPT and Cursor register without grant_types and still refresh).
 */
export function defaultGrants(keysExpire: boolean): string[] {
  return keysExpire ? ['authorization_code', 'refresh_token'] : ['authorization_code']
}

/** The grants a client has: what it registered, else the default ones. */
export function grantsOf(metadata: Record<string, unknown>, keysExpire: boolean): string[] {
  const registered = metadata.grant_types
  return Array.isArray(registered) ? (registered as string[]) : defaultGrants(keysExpire)
}

export type RegistrationMetadata = z.output<typeof registrationSchema>

/** The first problem, with the RFC 7591 §3.2.2 error code its field calls for. */
export function firstProblem(error: z.ZodError): {
  code: 'invalid_redirect_uri' | 'invalid_client_metadata'
  message: string
} {
  const issue = error.issues[0]!
  return {
    code: issue.path[0] === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata',
    message: issue.message,
  }
}

/** The accepted metadata in wire form, absent fields omitted (never a JSON null). */
export function wireMetadata(m: RegistrationMetadata): Record<string, unknown> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined))
}
