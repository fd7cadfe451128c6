// What a role may grant (KEYGATE_ROLE_SCOPES): the consent page, the dashboard and the
// token endpoint ask here, and a lowered role revokes the keys that exceed it.
import type { Config } from './index.js'

/** A member's role in an account. */
export type Role = 'owner' | 'admin' | 'member'

/** The scopes a member with `role` may grant. */
export function scopesFor(config: Pick<Config, 'roleScopes' | 'scopes'>, role: Role): string[] {
  return config.roleScopes ? config.roleScopes[role] : config.scopes
}

/**
 * OpenID Connect's scopes: who the person is, for the app's own sign-in (src/oidc/). Never
 * required, never offered unless asked for, and not API access: no role limits them.
 */
export const IDENTITY_SCOPES = ['openid', 'profile', 'email']

/** What the consent page says of them; each is ticked, and may be unticked. */
export const IDENTITY_SCOPE_INFO: Record<string, { name: string; description: string; default: 'on' }> = {
  openid: { name: 'openid', description: 'Sign you in to the app as yourself (your user id here)', default: 'on' },
  profile: { name: 'profile', description: 'Your name', default: 'on' },
  email: { name: 'email', description: 'Your email address', default: 'on' },
}

/** True when some of `scopes` is API access that `allowed` does not include. */
export function exceeds(allowed: readonly string[], scopes: readonly string[]): boolean {
  return scopes.some((s) => !IDENTITY_SCOPES.includes(s) && !allowed.includes(s))
}

/** True when `role` may grant every one of `scopes`. */
export function roleAllows(config: Pick<Config, 'roleScopes' | 'scopes'>, role: Role, scopes: string[]): boolean {
  return !exceeds(scopesFor(config, role), scopes)
}
