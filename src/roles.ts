// What a role may grant (KEYGATE_ROLE_SCOPES): the consent page, the dashboard and the
// token endpoint ask here, and a lowered role revokes the keys that exceed it.
import type { Config } from './config.js'
import type { Role } from './store/types.js'

/** The scopes a member with `role` may grant. */
export function scopesFor(config: Pick<Config, 'roleScopes' | 'scopes'>, role: Role): string[] {
  return config.roleScopes ? config.roleScopes[role] : config.scopes
}

/** True when `role` may grant every one of `scopes`. */
export function roleAllows(config: Pick<Config, 'roleScopes' | 'scopes'>, role: Role, scopes: string[]): boolean {
  const allowed = scopesFor(config, role)
  return scopes.every((s) => allowed.includes(s))
}
