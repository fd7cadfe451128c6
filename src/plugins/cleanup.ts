// The periodic clean-up of expired rows: refresh tokens that expired or were rotated
// long ago, OAuth keys expired for a week that no refresh token needs, and sign-in
// throttle buckets whose window has passed, used assertion ids past their expiry, device codes past theirs, and
// dynamically registered clients never used within KEYGATE_REGISTRATION_TTL. Bounded (a
// batch per run) and off the request path; any instance may run it, the deletes are
// idempotent.
import type { FastifyInstance } from 'fastify'

const BATCH = 1000
const KEEP_EXPIRED_KEYS_SECONDS = 7 * 86400

export async function cleanExpired(app: FastifyInstance): Promise<{
  refreshTokens: number
  keys: number
  signinBuckets: number
  assertions: number
  devices: number
  clients: number
}> {
  const now = app.now()
  const refreshTokens = await app.store.refresh.deleteStale(now, now - app.config.refreshGraceSeconds - 86400, BATCH)
  const keys = await app.store.keys.deleteExpired(now - KEEP_EXPIRED_KEYS_SECONDS, BATCH)
  const signinBuckets = await app.store.signins.deleteStale(now - app.config.loginWindowSeconds, BATCH)
  // An expired assertion is refused for its expiry: its id need not be kept past it.
  const assertions = await app.store.product.deleteUsedAssertions(now, BATCH)
  const devices = await app.store.devices.deleteExpired(now, BATCH)
  // Dynamically registered clients never used within the registration TTL.
  const clients = await app.store.clients.deleteUnused(now - app.config.registrationTtl, BATCH)
  return { refreshTokens, keys, signinBuckets, assertions, devices, clients }
}

export function scheduleCleanup(app: FastifyInstance): void {
  const timer = setInterval(() => {
    cleanExpired(app).then(
      (n) =>
        n.refreshTokens + n.keys + n.signinBuckets + n.assertions + n.devices + n.clients > 0 &&
        app.log.info(n, 'expired rows cleaned up'),
      (err: unknown) => app.log.error({ err }, 'clean-up of expired rows failed'),
    )
  }, app.config.cleanupIntervalSeconds * 1000)
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))
}
