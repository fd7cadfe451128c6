// What every CLI command shares: argument parsing, the error that prints one line, finding
// users and accounts, and the command type.
import { type ParseArgsConfig, parseArgs } from 'node:util'
import type { Io } from './cli.js'
import type { Config } from './config.js'
import type { Account, Store } from './store/types.js'

export class UsageError extends Error {}

export type Command = (args: string[], ctx: { config: Config; store: Store; io: Io }) => Promise<void>

export const now = () => Math.floor(Date.now() / 1000)

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
  if (!user) throw new UsageError(`no user with email ${email}`)
  return user
}

export async function findAccount(store: Store, ref: string): Promise<Account> {
  if (/^\d+$/.test(ref)) {
    const account = await store.accounts.byId(Number(ref))
    if (account) return account
  }
  const byName = await store.accounts.byName(ref)
  if (byName.length === 0) throw new UsageError(`no account ${ref}`)
  if (byName.length > 1)
    throw new UsageError(`several accounts are named ${ref}: use the id (${byName.map((a) => a.id).join(', ')})`)
  return byName[0]!
}
