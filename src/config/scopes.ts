// The scope catalogue: each scope's name, the words the consent page and the dashboard show
// for it, and its default on the consent page ('always': granted, not a choice; 'on': ticked;
// 'off': opt-in, unticked until the person ticks it). One place: KEYGATE_SCOPES_FILE, or
// KEYGATE_SCOPES with KEYGATE_ALWAYS_SCOPES (every other scope 'on').
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { fail, list } from './checks.js'

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/ // RFC 6749 §3.3 scope-token

export type ScopeDefault = 'always' | 'on' | 'off'
export type ScopeInfo = { name: string; description: string; default: ScopeDefault }

export type Scopes = { scopes: string[]; alwaysScopes: string[]; catalogue: ScopeInfo[] }

/** Words for the two scopes every keygate starts with. */
const BUILT_IN: Record<string, string> = {
  read: 'See your data',
  write: 'Create, change and delete your data',
}

const fileSchema = z
  .array(
    z
      .object({
        name: z.string().regex(SCOPE_TOKEN, 'must be an RFC 6749 scope token'),
        description: z.string().max(200).default(''),
        default: z.enum(['always', 'on', 'off']).default('on'),
      })
      .strict(),
  )
  .min(1, 'must list at least one scope')

export function parseScopes(env: NodeJS.ProcessEnv, raw: string, alwaysRaw: string): Scopes {
  const path = env.KEYGATE_SCOPES_FILE
  if (path) {
    if (env.KEYGATE_SCOPES !== undefined || env.KEYGATE_ALWAYS_SCOPES !== undefined)
      fail('KEYGATE_SCOPES_FILE', 'holds the scopes: unset KEYGATE_SCOPES and KEYGATE_ALWAYS_SCOPES')
    let json: unknown
    try {
      json = JSON.parse(readFileSync(path, 'utf8'))
    } catch (err) {
      fail('KEYGATE_SCOPES_FILE', `${path}: ${(err as Error).message}`)
    }
    const parsed = fileSchema.safeParse(json)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      fail('KEYGATE_SCOPES_FILE', `${path}: ${issue.path.join('.') || '(the file)'}: ${issue.message}`)
    }
    const catalogue = parsed.data
    const names = catalogue.map((s) => s.name)
    const twice = names.find((n, i) => names.indexOf(n) !== i)
    if (twice) fail('KEYGATE_SCOPES_FILE', `${path}: ${twice} is listed twice`)
    return {
      scopes: names,
      alwaysScopes: catalogue.filter((s) => s.default === 'always').map((s) => s.name),
      catalogue,
    }
  }
  const scopes = [...new Set(list(/\s+/)(raw))]
  if (scopes.length === 0) fail('KEYGATE_SCOPES', 'must list at least one scope')
  const bad = scopes.find((s) => !SCOPE_TOKEN.test(s))
  if (bad) fail('KEYGATE_SCOPES', `invalid scope token: ${bad}`)
  const alwaysScopes = [...new Set(list(/\s+/)(alwaysRaw))]
  const unknown = alwaysScopes.find((s) => !scopes.includes(s))
  if (unknown) fail('KEYGATE_ALWAYS_SCOPES', `${unknown} is not in KEYGATE_SCOPES`)
  const catalogue = scopes.map(
    (name): ScopeInfo => ({
      name,
      description: BUILT_IN[name] ?? '',
      default: alwaysScopes.includes(name) ? 'always' : 'on',
    }),
  )
  return { scopes, alwaysScopes, catalogue }
}
