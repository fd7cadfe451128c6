// Every command's usage line and what it does: the help text, each command's --help, the
// usage line printed with a usage error, and the command suggested for a typo.

export type Usage = { command: string; args: string; does: string }

export const USAGE: Usage[] = [
  { command: 'serve', args: '', does: 'start the server (configured by KEYGATE_* variables)' },
  {
    command: 'user add',
    args: '--email E [--name N]',
    does: 'create a user and their personal account; the password is asked for (no echo), or read from piped standard input',
  },
  { command: 'user list', args: '', does: 'users and whether they are disabled' },
  { command: 'user disable', args: '--email E', does: 'no sign-in, sessions ended, keys revoked' },
  { command: 'user remove', args: '--email E', does: 'disabled, every membership ended, the email freed' },
  {
    command: 'user password',
    args: '--email E',
    does: 'a new password (local sign-in), asked for like user add; sessions ended',
  },
  { command: 'account add', args: '--name N --owner EMAIL', does: 'create a team account owned by EMAIL' },
  { command: 'account list', args: '', does: 'accounts with their member counts' },
  {
    command: 'member add',
    args: '--account A --email E [--role owner|admin|member]',
    does: 'add a user to an account (default role: member)',
  },
  {
    command: 'member remove',
    args: '--account A --email E',
    does: "end a membership: the member's keys there revoked",
  },
  {
    command: 'member role',
    args: '--account A --email E --role owner|admin|member',
    does: 'another role (keys the role may not grant are revoked)',
  },
  {
    command: 'key create',
    args: '--email E --account A --name N [--scopes "read write"]',
    does: 'create an API key (printed once)',
  },
  { command: 'key list', args: '[--account A]', does: 'list keys (never the keys themselves)' },
  { command: 'key revoke', args: 'ID', does: 'revoke a key: its next request gets 401' },
  {
    command: 'client add',
    args: '--name N --redirect-uri URI... [--confidential]',
    does: 'pre-register an OAuth client (its secret printed once)',
  },
  { command: 'client list', args: '', does: 'every client: id, name, source, status' },
  { command: 'client show', args: 'CLIENT_ID', does: 'one client in full' },
  {
    command: 'client disable',
    args: 'CLIENT_ID',
    does: 'its keys revoked, its consents deleted, its authorizations refused',
  },
  { command: 'client remove', args: 'CLIENT_ID', does: 'disabled and deleted with its consents and tokens' },
  {
    command: 'keys rotate',
    args: '[--alg ES256|RS256]',
    does: 'a new ID-token signing key: published now, signing after KEYGATE_SIGNING_KEY_GRACE',
  },
  { command: 'keys list', args: '', does: 'the published signing keys' },
  {
    command: 'migrate',
    args: '[--status]',
    does: 'apply pending database migrations (also done at start), or list them as applied or pending',
  },
  {
    command: 'stdio',
    args: '--url URL',
    does: 'serve MCP on stdin/stdout, relayed to a remote /mcp with KEYGATE_API_KEY or the key keygate login stored',
  },
  {
    command: 'login',
    args: '--url URL',
    does: 'sign in to a remote keygate from this machine (device flow) and store its key for keygate stdio',
  },
  { command: 'logout', args: '--url URL', does: 'revoke and forget the stored key for URL' },
  { command: 'help', args: '[COMMAND]', does: 'this text, or one command’s' },
  { command: 'version', args: '', does: 'the version (also --version)' },
]

export const NAMES = USAGE.map((u) => u.command)

export const usageLine = (u: Usage) => `keygate ${u.command}${u.args ? ` ${u.args}` : ''}`

function table(rows: Usage[]): string {
  return rows.map((u) => `  ${usageLine(u).slice('keygate '.length)}\n      ${u.does}`).join('\n')
}

export const HELP = `keygate: an OAuth 2.1 gateway that turns API keys into MCP access tokens

Usage: keygate <command> [options]     keygate <command> --help     keygate --version

Commands:
${table(USAGE)}

Accounts (A) are given by id or by name. Settings are KEYGATE_* variables: docs/configuration.md.`

/** The commands a name covers: one ("user add") or a group ("user"). */
export function usagesFor(name: string): Usage[] {
  const exact = USAGE.filter((u) => u.command === name)
  return exact.length > 0 ? exact : USAGE.filter((u) => u.command.startsWith(`${name} `))
}

export function helpFor(name: string): string {
  const rows = usagesFor(name)
  return rows.length === 1
    ? `usage: ${usageLine(rows[0]!)}\n\n${rows[0]!.does}`
    : `usage:\n${rows.map((u) => `  ${usageLine(u)}\n      ${u.does}`).join('\n')}`
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

/** The command most likely meant by a mistyped one, if one is close enough. */
export function suggest(typed: string): string | undefined {
  const candidates = [...NAMES, ...new Set(NAMES.map((n) => n.split(' ')[0]!))]
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const name of candidates) {
    const d = distance(typed, name)
    if (d < bestDistance) [best, bestDistance] = [name, d]
  }
  return bestDistance <= Math.max(2, Math.floor(typed.length / 3)) ? best : undefined
}
