// ID-token signing keys at rest: made at first start, the private half encrypted under the
// server secret; a secret rotation that lists the old secret keeps the key, one that does
// not retires it (still published while its tokens live) and makes a new one.
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { tempDir, testConfig } from '../helper.js'
import { rawRows } from '../support/raw.js'

const OLD = 'old-secret-0123456789-abcdefghijklmnopqrstuvwxyz'
const NEW = 'new-secret-0123456789-abcdefghijklmnopqrstuvwxyz'

t.test('made at first start, sealed at rest, and kept or replaced when the secret changes', async (t) => {
  const dir = tempDir(t)
  const start = async (env: Record<string, string>) => {
    const app = await buildApp(testConfig(dir, env))
    await app.ready()
    return app
  }
  const first = await start({ KEYGATE_SECRET: OLD })
  const jwks = (await first.inject({ url: '/jwks' })).json()
  t.equal(jwks.keys.length, 1, 'an ES256 key from the first start')
  t.equal(jwks.keys[0].alg, 'ES256')
  const kid = jwks.keys[0].kid
  const [row] = await rawRows(first.config, 'SELECT private_jwk FROM signing_keys')
  t.notMatch(String(row!.private_jwk), /"d"|"kty"/, 'the private key is not stored in the clear')
  await first.close()

  const listed = await start({ KEYGATE_SECRET: NEW, KEYGATE_PREVIOUS_SECRETS: OLD })
  t.equal((await listed.signingKeys.signer('ES256')).kid, kid, 'the old secret listed: the same key signs')
  await listed.close()

  const unlisted = await start({ KEYGATE_SECRET: NEW })
  const signer = await unlisted.signingKeys.signer('ES256')
  t.not(signer.kid, kid, 'sealed under a secret no longer known: a new key signs')
  const published = (await unlisted.inject({ url: '/jwks' })).json().keys.map((k: { kid: string }) => k.kid)
  t.same(published.sort(), [kid, signer.kid].sort(), 'the old one stays published while its tokens live')
  await unlisted.close()
})
