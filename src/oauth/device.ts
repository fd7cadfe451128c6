// The device authorization grant (RFC 8628) for headless tools: POST /device_authorization
// hands a device a device code (kept only as its SHA-256) and a short user code; its user
// enters the user code at /device (src/web/device.ts), signs in and consents there; the
// device polls /token with the device code until the user decides. The approved grant
// mints one key exactly as an authorization code does: under the consent it was given, with
// the grant's id as the key's UNIQUE grant id, so a device code redeems once on any
// instance.
import { randomBytes, randomInt } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { sha256Hex } from '../crypto/compare.js'
import { limit } from '../plugins/rate-limit.js'
import { OAuthError } from '../shared/errors.js'
import type { Client } from '../store/types.js'
import { offeredScopes } from './authorize-request.js'
import { authenticateClient } from './client-auth.js'
import { DEVICE_GRANT } from './client-metadata.js'
import { param, parseOAuth, required, tokenForm } from './params.js'
import { namedResource } from './resource.js'
import { installationOf, issue, TOKEN_BODY_LIMIT, type TokenResponse } from './token.js'

/** RFC 8628 §6.1: consonants only (no vowels, so no words; no 0/O or 1/I look-alikes). */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'
export const USER_CODE_LENGTH = 8
/** Seconds between polls (RFC 8628 §3.2 default). */
export const POLL_INTERVAL = 5

const deviceAuthorizationForm = z.object({
  client_id: param('client_id'),
  client_secret: param('client_secret'),
  scope: param('scope'),
  resource: param('resource', { error: 'invalid_target' }),
})

export const deviceGrantForm = tokenForm.extend({ device_code: required('device_code') })

/** A user code as typed: case, spaces and dashes ignored; undefined unless 8 letters of the alphabet. */
export function normalizeUserCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]+/g, '')
  if (code.length !== USER_CODE_LENGTH) return undefined
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined
  return code
}

/** Why a typed code cannot be one, in words for the device page (undefined: it has the shape). */
export function userCodeProblem(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]+/g, '')
  const outside = [...new Set([...code].filter((c) => !USER_CODE_ALPHABET.includes(c)))]
  if (outside.length > 0) {
    const shown = outside.every((c) => /^[A-Z0-9]$/.test(c)) ? ` (${outside.join(', ')})` : ''
    return `Codes use only the consonants ${USER_CODE_ALPHABET}: no vowels, digits or other signs${shown}. Check the code on your device.`
  }
  if (code.length !== USER_CODE_LENGTH)
    return `A code has ${USER_CODE_LENGTH} letters, like BCDF-GHJK; this one has ${code.length}. Check the code on your device.`
  return undefined
}

export const formatUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`

function newUserCode(): string {
  let code = ''
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]
  return code
}

function checkDeviceClient(client: Client): void {
  const grants = client.metadata.grant_types
  if (!Array.isArray(grants) || !grants.includes(DEVICE_GRANT))
    throw new OAuthError('unauthorized_client', 'this client did not register the device authorization grant')
}

/** grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4, §3.5). */
export async function deviceGrant(app: FastifyInstance, req: FastifyRequest, client: Client): Promise<TokenResponse> {
  const form = parseOAuth(deviceGrantForm, req.body)
  checkDeviceClient(client)
  const grant = await app.store.devices.byDeviceCodeHash(sha256Hex(form.device_code))
  if (!grant) throw new OAuthError('invalid_grant', 'the device code is not known (or was used already)')
  if (grant.clientId !== client.clientId)
    throw new OAuthError('invalid_grant', 'the device code was issued to another client')
  const now = app.now()
  if (grant.expiresAt <= now) throw new OAuthError('expired_token', 'the device code has expired; start again')
  const poll = await app.store.devices.poll(grant.id, now)
  if (poll.outcome === 'slow_down')
    throw new OAuthError('slow_down', `polling too fast: wait ${poll.interval} seconds between requests`)
  if (grant.status === 'denied') throw new OAuthError('access_denied', 'the user denied the request')
  if (grant.status === 'pending' || !grant.decision)
    throw new OAuthError('authorization_pending', 'the user has not decided yet')
  const d = grant.decision
  const grantId = `device:${grant.id}`
  const response = await issue(app, client, {
    accountId: d.accountId,
    userId: d.userId,
    scopes: d.scopes,
    resource: grant.resource,
    grantId,
    familyId: grantId,
    installation: installationOf(client, grantId),
    consent: {
      userId: d.userId,
      clientId: client.clientId,
      accountId: d.accountId,
      createdAt: d.consentCreatedAt,
      scopes: d.scopes,
      roleScopes: app.config.roleScopes,
    },
  })
  // Another poll (on any instance) redeemed it first.
  if (!response) throw new OAuthError('invalid_grant', 'the device code was used already')
  await app.store.devices.remove(grant.id)
  return response
}

export default async function deviceAuthorizationRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/device_authorization',
    { bodyLimit: TOKEN_BODY_LIMIT, config: { kind: 'oauth', ...limit(app, 'token') } },
    async (req, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
      const form = parseOAuth(deviceAuthorizationForm, req.body)
      const client = await authenticateClient(app, req, form)
      checkDeviceClient(client)
      namedResource(app.config, form.resource)
      const now = app.now()
      const deviceCode = randomBytes(32).toString('base64url')
      for (let attempt = 0; attempt < 5; attempt++) {
        const userCode = newUserCode()
        const created = await app.store.devices.create({
          id: randomBytes(16).toString('base64url'),
          deviceCodeHash: sha256Hex(deviceCode),
          userCode,
          clientId: client.clientId,
          scopes: offeredScopes(app, form.scope),
          resource: app.config.resource,
          createdAt: now,
          expiresAt: now + app.config.deviceTtl,
          interval: POLL_INTERVAL,
        })
        if (!created) continue
        const verification = `${app.config.issuer}/device`
        return {
          device_code: deviceCode,
          user_code: formatUserCode(userCode),
          verification_uri: verification,
          verification_uri_complete: `${verification}?user_code=${formatUserCode(userCode)}`,
          expires_in: app.config.deviceTtl,
          interval: POLL_INTERVAL,
        }
      }
      throw new OAuthError('server_error', 'no free user code; try again', 503)
    },
  )
}
