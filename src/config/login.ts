// Who signs people in, and what the product may tell keygate: KEYGATE_LOGIN (local,
// handoff, oidc) and its settings, what each role may grant (KEYGATE_ROLE_SCOPES), the
// provisioning token. Part of the configuration (config.ts), parsed with it.
import { z } from 'zod'
import { sha256Hex } from '../crypto/compare.js'
import { fail, list, positiveInt } from './checks.js'
import type { Role } from './roles.js'

/** true: every email the provider or product sends counts as verified (its email_verified claim is not needed). */
const trust = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((v) => v === 'true' || v === '1')

/** The variables, merged into the configuration's one schema. */
export const loginEnv = {
  KEYGATE_LOGIN: z.enum(['local', 'handoff', 'oidc']).default('local'),
  KEYGATE_OIDC_ISSUER: z.string().optional(),
  KEYGATE_OIDC_CLIENT_ID: z.string().min(1).max(255).optional(),
  KEYGATE_OIDC_CLIENT_SECRET: z.string().optional(),
  KEYGATE_OIDC_SCOPES: z.string().default('openid email profile'),
  KEYGATE_OIDC_ACCOUNTS_CLAIM: z.string().min(1).max(100).optional(),
  KEYGATE_OIDC_TRUST_EMAIL: trust,
  KEYGATE_HANDOFF_URL: z.string().optional(),
  KEYGATE_HANDOFF_ISSUER: z.string().min(1).max(255).optional(),
  KEYGATE_HANDOFF_SECRET: z.string().optional(),
  KEYGATE_HANDOFF_JWKS_URL: z.string().optional(),
  KEYGATE_HANDOFF_JWKS_COOLDOWN_SECONDS: positiveInt.default(30),
  KEYGATE_HANDOFF_TRUST_EMAIL: trust,
  KEYGATE_LOGOUT_URL: z.string().optional(),
  KEYGATE_ROLE_SCOPES: z.string().optional(),
  KEYGATE_PROVISIONING_TOKEN: z.string().optional(),
}

type LoginEnv = z.infer<z.ZodObject<typeof loginEnv>>

export type RoleScopes = Record<Role, string[]>

/** How people sign in: keygate's own passwords, or the product's session (a signed assertion). */
export type Login =
  | { mode: 'local' }
  | {
      mode: 'handoff'
      /** The product's page that signs the assertion. */
      url: string
      /** The assertion's `iss`. */
      issuer: string
      /** Every email the product asserts counts as verified (KEYGATE_HANDOFF_TRUST_EMAIL). */
      trustEmail: boolean
      /** HS256 key (32+ bytes), or the product's JWKS for asymmetric keys. */
      verify: { secret: Uint8Array } | { jwksUrl: string; cooldownSeconds: number }
    }
  | {
      mode: 'oidc'
      /** The OpenID Provider's issuer (discovery at its /.well-known/openid-configuration). */
      issuer: string
      clientId: string
      /** Unset: a public client (PKCE, no secret). */
      clientSecret: string | undefined
      scopes: string
      /** The ID token or userinfo claim holding the person's accounts; unset: a personal account. */
      accountsClaim: string | undefined
      /** http issuers are allowed outside production (a local provider in development and tests). */
      allowHttp: boolean
      /** Every email the provider sends counts as verified (KEYGATE_OIDC_TRUST_EMAIL). */
      trustEmail: boolean
    }

export function absoluteUrl(name: string, value: string, production: boolean): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    fail(name, `not an absolute URL: ${value}`)
  }
  if (production && url.protocol !== 'https:') fail(name, 'must be https when NODE_ENV=production')
  return value
}

export function parseLogin(e: LoginEnv, production: boolean): Login {
  if (e.KEYGATE_LOGIN === 'local') return { mode: 'local' }
  if (e.KEYGATE_LOGIN === 'oidc') {
    if (!e.KEYGATE_OIDC_ISSUER) fail('KEYGATE_OIDC_ISSUER', 'is required when KEYGATE_LOGIN=oidc')
    if (!e.KEYGATE_OIDC_CLIENT_ID) fail('KEYGATE_OIDC_CLIENT_ID', 'is required when KEYGATE_LOGIN=oidc')
    const scopes = list(/\s+/)(e.KEYGATE_OIDC_SCOPES)
    if (!scopes.includes('openid')) fail('KEYGATE_OIDC_SCOPES', 'must include openid')
    return {
      mode: 'oidc',
      // As the provider writes it (some end with "/"): discovery checks it byte for byte.
      issuer: absoluteUrl('KEYGATE_OIDC_ISSUER', e.KEYGATE_OIDC_ISSUER, production),
      clientId: e.KEYGATE_OIDC_CLIENT_ID,
      clientSecret: e.KEYGATE_OIDC_CLIENT_SECRET || undefined,
      scopes: scopes.join(' '),
      accountsClaim: e.KEYGATE_OIDC_ACCOUNTS_CLAIM,
      allowHttp: !production,
      trustEmail: e.KEYGATE_OIDC_TRUST_EMAIL,
    }
  }
  if (!e.KEYGATE_HANDOFF_URL) fail('KEYGATE_HANDOFF_URL', 'is required when KEYGATE_LOGIN=handoff')
  if (!e.KEYGATE_HANDOFF_ISSUER) fail('KEYGATE_HANDOFF_ISSUER', 'is required when KEYGATE_LOGIN=handoff')
  const url = absoluteUrl('KEYGATE_HANDOFF_URL', e.KEYGATE_HANDOFF_URL, production)
  if ((e.KEYGATE_HANDOFF_SECRET === undefined) === (e.KEYGATE_HANDOFF_JWKS_URL === undefined))
    fail('KEYGATE_HANDOFF_SECRET', 'set exactly one of KEYGATE_HANDOFF_SECRET and KEYGATE_HANDOFF_JWKS_URL')
  if (e.KEYGATE_HANDOFF_SECRET !== undefined) {
    const secret = new TextEncoder().encode(e.KEYGATE_HANDOFF_SECRET)
    if (secret.length < 32) fail('KEYGATE_HANDOFF_SECRET', 'must be at least 32 bytes')
    return {
      mode: 'handoff',
      url,
      issuer: e.KEYGATE_HANDOFF_ISSUER,
      trustEmail: e.KEYGATE_HANDOFF_TRUST_EMAIL,
      verify: { secret },
    }
  }
  const jwksUrl = absoluteUrl('KEYGATE_HANDOFF_JWKS_URL', e.KEYGATE_HANDOFF_JWKS_URL!, production)
  return {
    mode: 'handoff',
    url,
    issuer: e.KEYGATE_HANDOFF_ISSUER,
    trustEmail: e.KEYGATE_HANDOFF_TRUST_EMAIL,
    verify: { jwksUrl, cooldownSeconds: e.KEYGATE_HANDOFF_JWKS_COOLDOWN_SECONDS },
  }
}

const ROLES = ['owner', 'admin', 'member'] as const

/**
 * "owner=read write;admin=read write;member=read" → what each role may grant. A role not
 * listed may grant the always-granted scopes only; every role may grant those.
 */
export function parseRoleScopes(raw: string | undefined, scopes: string[], always: string[]): RoleScopes | null {
  if (raw === undefined || raw.trim() === '') return null
  const out: RoleScopes = { owner: [...always], admin: [...always], member: [...always] }
  for (const entry of list(/;/)(raw)) {
    const eq = entry.indexOf('=')
    const role = entry.slice(0, eq).trim() as Role
    if (eq < 1 || !ROLES.includes(role))
      fail('KEYGATE_ROLE_SCOPES', `entries must look like role=scope scope, with a role of ${ROLES.join(', ')}`)
    const granted = list(/\s+/)(entry.slice(eq + 1))
    const unknown = granted.find((s) => !scopes.includes(s))
    if (unknown) fail('KEYGATE_ROLE_SCOPES', `${unknown} is not in KEYGATE_SCOPES`)
    out[role] = scopes.filter((s) => always.includes(s) || granted.includes(s))
  }
  return out
}

/** SHA-256 of the provisioning token (the token itself is not kept); only with sign-in through the product. */
export function parseProvisioningToken(token: string | undefined, login: Login): string | undefined {
  if (token === undefined) return undefined
  if (login.mode === 'local') fail('KEYGATE_PROVISIONING_TOKEN', 'is used with KEYGATE_LOGIN=handoff or oidc only')
  if (Buffer.byteLength(token) < 32) fail('KEYGATE_PROVISIONING_TOKEN', 'must be at least 32 bytes long')
  return sha256Hex(token)
}
