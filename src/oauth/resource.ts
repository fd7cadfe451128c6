// The one protected resource keygate guards: its /mcp (RFC 8707, RFC 9728). A client that
// found it through the root metadata document names it by the issuer (that document's
// `resource`, RFC 9728 §3.3): both names mean the same resource, and keys always carry /mcp.
import type { Config } from '../config/index.js'
import { OAuthError } from '../shared/errors.js'

/** The resource a client named, as keygate records it; anything else is invalid_target. */
export function namedResource(config: Pick<Config, 'issuer' | 'resource'>, named: string | undefined): string {
  // Absent: the MCP resource (one Claude Code version omitted it).
  if (named === undefined || named === config.resource || named === config.issuer) return config.resource
  throw new OAuthError('invalid_target', `resource must be ${config.resource}`)
}
