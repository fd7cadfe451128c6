// Two keygates over one store, key and upstream: one as it runs, one that hands every /mcp
// request to the SDK (mcpDispatch 'sdk'), for the direct paths' differential tests.
import type { LightMyRequestResponse } from 'fastify'
import type { Test as Tap } from 'tap'
import { buildApp } from '../../src/server/app.js'
import { build, createKey, createUser, type Test, tempDir } from '../helper.js'
import { startUpstream } from './upstream.js'

export async function dispatchPair(t: Test, env: Record<string, string> = {}) {
  const upstream = await startUpstream(t, tempDir(t))
  const gate = await build(t, {
    KEYGATE_UPSTREAM: upstream.url,
    KEYGATE_OPENAPI: upstream.openapiFile,
    KEYGATE_UPSTREAM_TIMEOUT_MS: '500',
    KEYGATE_UPSTREAM_MAX_BYTES: '100000',
    ...env,
  })
  const reference = await buildApp(gate.config, { store: gate.app.store, clock: gate.clock.now, mcpDispatch: 'sdk' })
  t.teardown(() => reference.close())
  const { user, account } = await createUser(gate.app, 'alice@example.com')
  const key = await createKey(gate.app, { userId: user.id, accountId: account.id })
  return { direct: gate.app, reference, key: key.token }
}

/**
 * The same answer: status, headers and bytes. The date, the request id and the seconds left
 * in the rate-limit window are the moment's, not the answer's: the two apps' windows start a
 * request apart, so across a slow call their seconds left can differ by one.
 */
export function sameAnswer(t: Tap, name: string, a: LightMyRequestResponse, b: LightMyRequestResponse): void {
  const headers = (h: Record<string, unknown>) => {
    const { date: _d, 'x-request-id': _r, 'x-ratelimit-reset': _s, ...rest } = h
    return rest
  }
  t.equal(a.statusCode, b.statusCode, `${name}: status`)
  t.same(headers(a.headers), headers(b.headers), `${name}: headers`)
  const reset = [a, b].map((r) => Number(r.headers['x-ratelimit-reset']))
  t.ok(Math.abs(reset[0]! - reset[1]!) <= 1, `${name}: the same rate-limit window, within a second`)
  t.equal(a.body, b.body, `${name}: body`)
}
