// ID-token signing keys at rest: made at first start, the private half encrypted under the
// server secret; a secret rotation that lists the old secret keeps the key, one that does
// not retires it (still published while its tokens live) and makes a new one.
import t from 'tap'
import { keyring } from '../../src/crypto/secrets.js'
import { signingKeys } from '../../src/oauth/signing-keys.js'
import { buildApp } from '../../src/server/app.js'
import { createStore } from '../../src/store/index.js'
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

// Instances that start together each find no key and make one: before, each inserted its own,
// and an instance whose first read saw only its own kept signing with it while the others
// chose another (found as a rotation test failure: the "old" key differed between instances).
t.test('instances that make the first key together make one, and all sign with it', async (t) => {
  const dir = tempDir(t)
  const config = testConfig(dir)
  const store = await createStore(config)
  t.teardown(() => store.close())
  const ring = keyring('signing-key-encryption', config.secret, config.previousSecrets)
  const now = () => Math.floor(Date.now() / 1000)
  const instances = Array.from({ length: 6 }, () => signingKeys(store.signingKeys, ring, now, config.idTokenTtl))
  const signers = await Promise.all(instances.map((i) => i.signer('ES256')))
  const live = await store.signingKeys.live(now())
  t.equal(live.filter((k) => k.alg === 'ES256').length, 1, 'one key made')
  t.same(new Set(signers.map((s) => s.kid)), new Set([live[0]!.kid]), 'every instance signs with it')
})
