// What every CLI command shares: argument parsing, the error that prints one line, finding
// users and accounts, the command type and its input and output.
import { type ParseArgsConfig, parseArgs } from 'node:util'
import type { Config } from '../config/index.js'
import type { Account, Store } from '../store/types.js'

/** The command was called wrongly: exit 2, with the command's usage line. */
export class UsageError extends Error {}

/** The command was called rightly and could not be done (no such user, already revoked): exit 1. */
export class CommandError extends Error {}

export type Io = {
  out: (line: string) => void
  err: (line: string) => void
  env: NodeJS.ProcessEnv
  /** A password: typed at a prompt without echo, or standard input's first line (prompt.ts). */
  password?: () => Promise<string>
}

export type Command = (args: string[], ctx: { config: Config; store: Store; io: Required<Io> }) => Promise<void>

let clock: () => number = Date.now
/** The clock the commands read (the configured one: see clockFor in plugins/context.ts). */
export const setClock = (c: () => number) => {
  clock = c
}
export const nowMs = () => clock()
export const now = () => Math.floor(clock() / 1000)

export type Options = Record<string, string | boolean | string[] | undefined>

export function parse(argv: string[], options: ParseArgsConfig['options']): { values: Options; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    return { values: values as Options, positionals }
  } catch (err) {
    throw new UsageError((err as Error).message.split(/\. |\n/)[0]!)
  }
}

export function required(values: Options, name: string): string {
  const v = values[name]
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`)
  return v.trim()
}

export async function findUser(store: Store, email: string) {
  const user = await store.users.byEmail(email)
  if (!user) throw new CommandError(`no user with email ${email}`)
  return user
}

export async function findAccount(store: Store, ref: string): Promise<Account> {
  if (/^\d+$/.test(ref)) {
    const account = await store.accounts.byId(Number(ref))
    if (account) return account
  }
  const byName = await store.accounts.byName(ref)
  if (byName.length === 0) throw new CommandError(`no account ${ref}`)
  if (byName.length > 1)
    throw new CommandError(`several accounts are named ${ref}: use the id (${byName.map((a) => a.id).join(', ')})`)
  return byName[0]!
}

export function checkPassword(password: string): string {
  if (password.length < 8) throw new UsageError('the password must be at least 8 characters')
  if (password.length > 1024) throw new UsageError('the password must be at most 1024 characters')
  return password
}
