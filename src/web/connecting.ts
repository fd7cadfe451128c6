// Which app a sign-in is for: a sign-in that starts from an authorization request or a
// device code says "Sign in to <product> to connect <app>" (and the handoff tells the
// product the same). Only clients keygate already knows are named: nothing is fetched here.
import type { FastifyInstance } from 'fastify'
import { normalizeUserCode } from '../oauth/device.js'
import { cleanName } from '../shared/text.js'

export type Connecting = { app: string | null; device: boolean }

export async function connectingApp(app: FastifyInstance, returnTo: string): Promise<Connecting | null> {
  const url = new URL(returnTo, 'http://keygate.invalid')
  const path = url.pathname.slice(app.config.issuerPath.length)
  const nameOf = async (clientId: string | null | undefined) => {
    if (!clientId || clientId.length > 2048) return null
    const client = await app.store.clients.byId(clientId)
    return client && !client.disabledAt ? cleanName(client.clientName) : null
  }
  if (path === '/authorize') return { app: await nameOf(url.searchParams.get('client_id')), device: false }
  if (path === '/device') {
    const code = normalizeUserCode(url.searchParams.get('user_code') ?? '')
    const grant = code ? await app.store.devices.pendingByUserCode(code, app.now()) : undefined
    return { app: await nameOf(grant?.clientId), device: true }
  }
  return null
}
