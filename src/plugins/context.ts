// Shared resources as one named plugin: configuration, the store, the clock and the
// signing keyrings. Closed with the app.
import { readFileSync } from 'node:fs'
import fp from 'fastify-plugin'
import type { Config } from '../config/index.js'
import { type Keyring, keyring } from '../crypto/secrets.js'
import type { Store } from '../store/types.js'

export type Clock = () => number

/**
 * The clock keygate reads: the system's, or with KEYGATE_TEST_CLOCK_FILE (tests across
 * processes; refused in production) the time in milliseconds that the file holds, read at
 * every call so that a test moves every process's time at once.
 */
export function clockFor(file: string | undefined): Clock {
  if (file === undefined) return Date.now
  return () => {
    const ms = Number(readFileSync(file, 'utf8').trim())
    if (!Number.isSafeInteger(ms)) throw new Error(`KEYGATE_TEST_CLOCK_FILE: ${file} does not hold a time in ms`)
    return ms
  }
}

export type Keyrings = { code: Keyring; session: Keyring; signin: Keyring; keyEncryption: Keyring }

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    store: Store
    /** Current time in Unix seconds; tests pass a controlled clock. */
    now: () => number
    /** Current time in milliseconds (session epochs need finer grain than seconds). */
    nowMs: () => number
    keyrings: Keyrings
  }
}

export type ContextOptions = { config: Config; store: Store; clock: Clock; closeStore: boolean }

export default fp<ContextOptions>(
  async (app, { config, store, clock, closeStore }) => {
    app.decorate('config', config)
    app.decorate('store', store)
    app.decorate('now', () => Math.floor(clock() / 1000))
    app.decorate('nowMs', () => clock())
    app.decorate('keyrings', {
      code: keyring('authorization-code', config.secret, config.previousSecrets),
      session: keyring('session', config.secret, config.previousSecrets),
      signin: keyring('signin-throttle', config.secret, []),
      keyEncryption: keyring('signing-key-encryption', config.secret, config.previousSecrets),
    })
    if (closeStore) app.addHook('onClose', async () => store.close())
  },
  { name: 'keygate-context' },
)
