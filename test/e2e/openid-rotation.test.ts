// Signing-key rotation across two keygate processes sharing one database: `keygate keys
// rotate` publishes the new key on both at once; ID tokens signed before keep verifying; after
// the grace period both sign with the new key; once the old key's last token has expired,
// both publish the new key only.
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose'
import t from 'tap'
import { main } from '../../src/cli/index.js'
import { createStore } from '../../src/store/index.js'
import { createUser, FileClock, pkce, tempDir, testConfig, testEnv } from '../helper.js'
import { Browser } from '../support/http.js'
import { startInstances } from '../support/instances.js'

// Time is the test's: every process (both instances and the CLI) reads the clock file, so the
// grace and the tokens' lifetime pass when the test moves it, however slow the machine. The ID
// tokens outlive the grace, so the token signed before the rotation is still valid when the
// new key starts signing.
const GRACE = 10
const TTL = 12

t.test(
  'a rotated key is published first, signs after the grace period, and the old one leaves after its tokens',
  async (t) => {
    const dir = tempDir(t)
    const clock = new FileClock(t)
    const env = { KEYGATE_SIGNING_KEY_GRACE: String(GRACE), KEYGATE_ID_TOKEN_TTL: String(TTL), ...clock.env }
    const instances = await startInstances(t, dir, 2, env)
    const a = instances[0]!
    const b = instances[1]!
    const store = await createStore(testConfig(dir, env))
    t.teardown(() => store.close())
    await createUser({ store, now: () => Math.floor(clock.now() / 1000) } as never, 'alice@example.com')
    const browser = new Browser(a.base)
    await browser.signIn('alice@example.com')
    const rp = (await (
      await fetch(`${a.base}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'RP', redirect_uris: ['https://rp.example/cb'] }),
      })
    ).json()) as { client_id: string }

    const idToken = async (at: string) => {
      const { verifier, challenge } = pkce()
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: rp.client_id,
        redirect_uri: 'https://rp.example/cb',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        scope: 'openid',
        nonce: Math.random().toString(36),
      })
      const back = await browser.approve(`${at}/authorize?${query}`, { scope_choice: 'openid' })
      const res = await fetch(`${at}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.searchParams.get('code')!,
          code_verifier: verifier,
          client_id: rp.client_id,
          redirect_uri: 'https://rp.example/cb',
        }).toString(),
      })
      return ((await res.json()) as { id_token: string }).id_token
    }
    const jwks = async (at: string) => (await (await fetch(`${at}/jwks`)).json()) as JSONWebKeySet
    const kids = async (at: string) => (await jwks(at)).keys.map((k) => k.kid!).sort()
    const verifies = async (token: string, at: string) =>
      jwtVerify(token, createLocalJWKSet(await jwks(at)), {
        algorithms: ['ES256'],
        issuer: a.base,
        currentDate: new Date(clock.now()),
      }).then(
        () => true,
        () => false,
      )

    const before = await idToken(a.base)
    const oldKid = decodeProtectedHeader(before).kid!
    const initial = await kids(a.base)
    t.same(await kids(b.base), initial, 'both instances publish the same keys')
    t.same(initial, [oldKid], 'the two instances, started together, made one key between them')

    const out: string[] = []
    t.equal(
      await main(['keys', 'rotate'], { out: (l) => out.push(l), err: (l) => out.push(l), env: testEnv(dir, env) }),
      0,
    )
    const newKid = /^new ES256 key (\S+):/.exec(out[0]!)![1]!
    t.same(await kids(a.base), [...initial, newKid].sort(), 'published at once on A')
    t.same(await kids(b.base), [...initial, newKid].sort(), 'and on B')
    t.ok(await verifies(before, b.base), 'a token signed before the rotation still verifies')
    clock.advance(GRACE - 1)
    const during = await idToken(b.base)
    t.equal(decodeProtectedHeader(during).kid, oldKid, 'a second before the grace ends the old key still signs')

    clock.advance(1)
    const after = await idToken(b.base)
    t.equal(decodeProtectedHeader(after).kid, newKid, 'after the grace period the new key signs, on either instance')
    t.equal(decodeProtectedHeader(await idToken(a.base)).kid, newKid)
    t.ok(await verifies(after, a.base))
    t.ok(await verifies(before, a.base), 'the old key is still published while its tokens live')

    // The old key is retired when the last token it could sign expires: rotation + grace + TTL.
    clock.advance(TTL - 1)
    t.same(await kids(a.base), [...initial, newKid].sort(), 'a second before, the old key is still published')
    clock.advance(1)
    t.same(await kids(a.base), [newKid], 'once its last token expired, only the new key is published')
    t.same(await kids(b.base), [newKid])
  },
)
