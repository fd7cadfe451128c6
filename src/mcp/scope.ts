// What a key may call on /mcp: a tool whose scopes it holds. A tools/call beyond them is a
// 403 insufficient_scope with a step-up challenge (RFC 6750 §3.1), before anything goes
// upstream; tools/list shows only the callable tools (server.ts).
import type { JSONRPCRequest } from '@modelcontextprotocol/server'
import type { FastifyInstance } from 'fastify'
import { challenge } from '../keys/bearer.js'
import { OAuthError } from '../shared/errors.js'
import type { ApiKey } from '../store/types.js'
import type { ToolDef } from './openapi.js'

/** The protocol's two eras: 2025 (initialize first) and 2026-07-28 (the _meta envelope). */
export type Era = 'legacy' | 'modern'

/** A tool the scopes allow: one of its scope sets is held whole. */
export const callable = (tool: ToolDef, scopes: string[]) =>
  tool.scopeSets.some((set) => set.every((s) => scopes.includes(s)))

/** The scopes a tools/call needs that the key lacks, or null when it may proceed. */
function missingScopes(tool: ToolDef | undefined, key: ApiKey): string[] | null {
  if (!tool || callable(tool, key.scopes)) return null
  return tool.scopeSets[0]!
}

/**
 * The 403 step-up challenge. Its scope: in the 2026-07-28 era what the call needs, as RFC 6750
 * §3.1 says (SEP-2350: the client keeps what it was granted and adds the challenge's); in the
 * 2025 era what the call needs together with what the key holds, as the 2025-11-25
 * specification recommends, so that a client that asks for exactly the challenge's scopes
 * keeps the others.
 */
function insufficientScope(app: FastifyInstance, key: ApiKey, needed: string[], era: Era): OAuthError {
  const all = app.config.scopes.filter((s) => (era === 'legacy' && key.scopes.includes(s)) || needed.includes(s))
  for (const s of needed) if (!all.includes(s)) all.push(s)
  const description = `this tool needs the ${needed.join(' ')} scope`
  return new OAuthError('insufficient_scope', description, 403, {
    'www-authenticate': challenge(app, { error: 'insufficient_scope', description, scope: all }),
  })
}

/** Every tools/call names a tool whose scopes the key holds (403 insufficient_scope, RFC 6750 §3.1). */
export function checkToolScope(
  app: FastifyInstance,
  key: ApiKey,
  requests: JSONRPCRequest[],
  tools: ToolDef[],
  era: Era,
): void {
  for (const request of requests) {
    if (request.method !== 'tools/call') continue
    const needed = missingScopes(
      tools.find((t) => t.name === request.params?.name),
      key,
    )
    if (needed) throw insufficientScope(app, key, needed, era)
  }
}
