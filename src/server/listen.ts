// Boots the app: logger, timeouts, listen, graceful close on SIGTERM/SIGINT.
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/index.js'
import { buildApp } from './app.js'
import { banner } from './banner.js'

export async function startServer(
  config: Config,
  print: (line: string) => void = console.log,
): Promise<FastifyInstance> {
  const app = await buildApp(config, { logger: true })
  let closing = false
  // While shutting down, answers close their connection, so keep-alive sockets do not hold
  // the process open once their in-flight request is done.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close')
  })
  const close = (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGTERM', () => close('SIGTERM'))
  process.once('SIGINT', () => close('SIGINT'))
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    // The store is open (a pool, on a database server) and timers are set: closed, so that
    // the process ends rather than staying up with nothing listening.
    await app.close().catch(() => undefined)
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const users = config.login.mode === 'local' ? (await app.store.admin.listUsers()).length : 0
  for (const line of banner(config, `http://${host}:${port}`, users)) print(line)
  return app
}
