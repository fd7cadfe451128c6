// The keygate command line. Each command prints its result on stdout. A command called
// wrongly prints one line and its usage on stderr and exits 2; one that could not be done
// prints one line and exits 1. `--help` anywhere prints help and does nothing else.

import { type Config, loadConfig } from '../config/index.js'
import { clockFor } from '../plugins/context.js'
import { VERSION } from '../shared/version.js'
import { createStore } from '../store/index.js'
import { ConflictError, ForeignKeyError } from '../store/types.js'
import { adminCommands } from './admin.js'
import { type Command, type Io, setClock, UsageError } from './common.js'
import { peopleCommands } from './people.js'
import { readPassword } from './prompt.js'
import { HELP, helpFor, NAMES, suggest, usageLine, usagesFor } from './usage.js'

export type { Io }
export { HELP }

const defaultIo: Io = { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }

const commands: Record<string, Command> = { ...adminCommands, ...peopleCommands }

/** Commands that take their own arguments and run without a store opened here. */
const standalone: Record<string, (args: string[], io: Io) => Promise<number>> = {
  async serve(args, io) {
    if (args.length > 0)
      throw new UsageError(`serve takes no arguments (got ${args[0]}): it is configured by KEYGATE_*`)
    const { startServer } = await import('../server/listen.js')
    await startServer(loadConfig(io.env, { warn: io.err }), io.out)
    return 0
  },
  async migrate(args, io) {
    if (args.length > 1 || (args[0] !== undefined && args[0] !== '--status'))
      throw new UsageError(`unknown option ${args[0]} for migrate`)
    const { migrateCommand } = await import('../store/index.js')
    await migrateCommand(loadConfig(io.env, { warn: io.err }), args[0] === '--status', io.out)
    return 0
  },
  async stdio(args, io) {
    const { runStdioBridge } = await import('./stdio.js')
    return runStdioBridge(args, io)
  },
  async login(args, io) {
    const { runLogin } = await import('./login.js')
    return runLogin(args, io)
  },
  async logout(args, io) {
    const { runLogout } = await import('./login.js')
    return runLogout(args, io)
  },
}

function describe(err: unknown): string {
  if (err instanceof ConflictError) return 'that already exists'
  if (err instanceof ForeignKeyError) return 'the user is not a member of that account'
  return (err as Error).message
}

/** The command named by the first one or two words, and the arguments after it. */
function resolve(argv: string[]): { name: string; args: string[] } | undefined {
  const [first = '', second = ''] = argv
  if (NAMES.includes(`${first} ${second}`)) return { name: `${first} ${second}`, args: argv.slice(2) }
  if (first in standalone) return { name: first, args: argv.slice(1) }
  return undefined
}

const wantsHelp = (args: string[]) => {
  const end = args.indexOf('--')
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')
}

function unknown(argv: string[]): UsageError {
  const typed = argv.slice(0, 2).join(' ')
  const meant = suggest(typed) ?? suggest(argv[0] ?? '')
  return new UsageError(
    `unknown command "${typed}"${meant ? `; did you mean "keygate ${meant}"?` : ''} (keygate --help lists them)`,
  )
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const [first] = argv
  if (first === undefined || first === '--help' || first === '-h') {
    io.out(HELP)
    return 0
  }
  if (first === 'help' || first === 'version') {
    if (wantsHelp(argv.slice(1))) {
      io.out(helpFor(first))
      return 0
    }
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    io.out(`keygate ${VERSION}`)
    return 0
  }
  if (first === 'help') {
    const topic = argv.slice(1).join(' ')
    if (!topic) io.out(HELP)
    else if (usagesFor(topic).length > 0) io.out(helpFor(topic))
    else {
      io.err(`keygate: ${unknown(argv.slice(1)).message}`)
      return 2
    }
    return 0
  }
  const found = resolve(argv)
  if (!found) {
    // A group name with --help ("keygate user --help") lists the group.
    if (wantsHelp(argv) && usagesFor(first).length > 0) {
      io.out(helpFor(first))
      return 0
    }
    io.err(`keygate: ${unknown(argv).message}`)
    return 2
  }
  if (wantsHelp(found.args)) {
    io.out(helpFor(found.name))
    return 0
  }
  try {
    const own = standalone[found.name]
    if (own) return await own(found.args, io)
    const config: Config = loadConfig(io.env, { warn: io.err })
    setClock(clockFor(config.testClockFile))
    const store = await createStore(config)
    try {
      await commands[found.name]!(found.args, { config, store, io: { password: () => readPassword(), ...io } })
    } finally {
      await store.close()
    }
    return 0
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`keygate: ${err.message}`)
      for (const u of usagesFor(found.name)) io.err(`usage: ${usageLine(u)}`)
      return 2
    }
    io.err(`keygate: ${describe(err)}`)
    return 1
  }
}
