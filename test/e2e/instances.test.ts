// Several keygate processes sharing one secret and one database behave as one: on the
// SQLite file (npm test), on PostgreSQL (npm run test:pg) and on MariaDB (npm run test:mysql).
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import t from 'tap'
import { keyring } from '../../src/crypto/secrets.js'
import { hashToken } from '../../src/keys/format.js'
import { signCode } from '../../src/oauth/code.js'
import { createStore } from '../../src/store/index.js'
import { createUser, newKey, pkce, SECRET, TEST_DATABASE_URL, tempDir, testConfig } from '../helper.js'
import { Browser, freePort } from '../support/http.js'
import { startInstances } from '../support/instances.js'
import { callTool } from '../support/mcp.js'
import { Database } from '../support/sqlite.js'

const CALLBACK = 'http://127.0.0.1:9/callback'

async function register(base: string) {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Multi', redirect_uris: [CALLBACK] }),
  })
  return (await res.json()) as { client_id: string }
}

function token(base: string, clientId: string, code: string, verifier: string) {
  return fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: CALLBACK,
    }),
  })
}

t.test('three instances act as one', async (t) => {
  const dir = tempDir(t)
  const [a, b, c] = await startInstances(t, dir, 3)
  const store = await createStore(testConfig(dir))
  t.teardown(() => store.close())
  await createUser({ store, now: () => Math.floor(Date.now() / 1000) } as never, 'alice@example.com')
  const browser = new Browser(a!.base)
  await browser.signIn('alice@example.com')
  const client = await register(a!.base)

  // A session cookie from A works on B.
  const dash = await browser.request(`${b!.base}/dashboard`)
  t.equal(dash.status, 200, 'the session cookie from A is valid on B')

  const approveAt = async (base: string) => {
    const { verifier, challenge } = pkce()
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: CALLBACK,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 's',
    })
    const loc = await browser.approve(`${base}/authorize?${query}`)
    return { code: loc.searchParams.get('code')!, verifier }
  }

  // A code issued by A is redeemed at B.
  const first = await approveAt(a!.base)
  const atB = await token(b!.base, client.client_id, first.code, first.verifier)
  t.equal(atB.status, 200, 'a code issued by A is redeemed at B')
  const key = ((await atB.json()) as { access_token: string }).access_token

  // A key revoked through C is refused by A and B on their very next request.
  t.equal((await callTool(a!.base, key, 'list_notes')).status, 200)
  t.equal((await callTool(b!.base, key, 'list_notes')).status, 200)
  const revoked = await fetch(`${c!.base}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: key, client_id: client.client_id }),
  })
  t.equal(revoked.status, 200)
  t.equal((await callTool(a!.base, key, 'list_notes')).status, 401, 'A refuses it at once')
  t.equal((await callTool(b!.base, key, 'list_notes')).status, 401, 'B refuses it at once')

  // The same code raced at A, B and C succeeds exactly once. (Each new key replaces the
  // client's previous one: the revocation above is checked first.)
  for (let round = 0; round < 5; round++) {
    const { code, verifier } = await approveAt(c!.base)
    const results = await Promise.all(
      [a, b, c, a, b, c].map((i) => token(i!.base, client.client_id, code, verifier).then((r) => r.status)),
    )
    t.equal(results.filter((s) => s === 200).length, 1, `round ${round}: exactly one of six racing exchanges succeeds`)
    t.equal(results.filter((s) => s === 400).length, 5)
  }
})

t.test('SIGKILL in the middle of token exchanges loses no issued token', async (t) => {
  const dir = tempDir(t)
  const [a, b] = await startInstances(t, dir, 2)
  const config = testConfig(dir)
  const store = await createStore(config)
  t.teardown(() => store.close())
  const now = () => Math.floor(Date.now() / 1000)
  const user = await store.users.create({
    email: 'alice@example.com',
    name: 'alice',
    passwordHash: 'x',
    createdAt: now(),
  })
  const account = await store.accounts.create({ name: 'alice', kind: 'personal', ownerId: user.id, createdAt: now() })
  const client = await register(b!.base)
  const consent = await store.consents.upsert(
    { userId: user.id, clientId: client.client_id, accountId: account.id, scopes: ['read'] },
    now(),
  )
  // Codes signed the way /authorize signs them (the test holds the shared secret).
  const ring = keyring('authorization-code', SECRET, [])
  const signed = (challenge: string) =>
    signCode(
      ring,
      a!.base,
      {
        clientId: client.client_id,
        redirectUri: CALLBACK,
        codeChallenge: challenge,
        userId: user.id,
        accountId: account.id,
        scopes: ['read'],
        resource: `${a!.base}/mcp`,
        consentCreatedAt: consent.createdAt,
      },
      now(),
    )
  const codes = await Promise.all(
    Array.from({ length: 300 }, async () => {
      const { verifier, challenge } = pkce()
      return { code: await signed(challenge), verifier }
    }),
  )
  const received: string[] = []
  let failed = 0
  let next = 0
  const worker = async () => {
    while (next < codes.length) {
      const { code, verifier } = codes[next++]!
      try {
        const res = await token(a!.base, client.client_id, code, verifier)
        if (res.status === 200) received.push(((await res.json()) as { access_token: string }).access_token)
        else failed++
      } catch {
        failed++
      }
      if (received.length === 40) a!.child.kill('SIGKILL')
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  await a!.exited
  t.ok(received.length >= 40, `tokens received before the kill: ${received.length}`)
  t.ok(failed > 0, `exchanges failed after the kill: ${failed}`)
  // Every token a client received has its row.
  const rows = await Promise.all(received.map((raw) => store.keys.byHash(hashToken(raw))))
  for (const [i, raw] of received.entries()) {
    const row = rows[i]
    if (!row) t.fail(`token ${raw.slice(0, 11)}… is missing`)
  }
  t.pass(`all ${received.length} received tokens are stored`)
  // Each new key of the client replaces the one before. An exchange the kill cut off may have
  // committed without its answer reaching the client: then the live key is one nobody
  // received, so at most one of the received is live.
  const liveReceived = rows.filter((r) => r !== undefined && r.revokedAt === null).length
  t.ok(liveReceived <= 1, `live among the received: ${liveReceived}`)
  // The surviving instance exchanges the next code: its key works there, and replaced every other.
  const last = codes[codes.length - 1]!
  const fresh = await signed(createHash('sha256').update(last.verifier).digest('base64url'))
  const res = await token(b!.base, client.client_id, fresh, last.verifier)
  t.equal(res.status, 200, 'the surviving instance exchanges a code')
  const live = ((await res.json()) as { access_token: string }).access_token
  t.equal((await callTool(b!.base, live, 'list_notes')).status, 200, 'its key works on the surviving instance')
  const after = await Promise.all(received.map((raw) => store.keys.byHash(hashToken(raw))))
  t.ok(
    after.every((r) => r !== undefined && r.revokedAt !== null),
    'every earlier key of the connection is revoked',
  )
  if (!TEST_DATABASE_URL) {
    const db = new Database(config.dbPath, { readonly: true })
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'SQLite integrity check')
    db.close()
  } else {
    t.ok(await store.ping(), 'PostgreSQL answers')
  }
})

t.test('graceful shutdown finishes in-flight requests', async (t) => {
  const dir = tempDir(t)
  const { startUpstream } = await import('../support/upstream.js')
  const upstream = await startUpstream(t, dir)
  const [a] = await startInstances(t, dir, 1, { KEYGATE_UPSTREAM: upstream.url, KEYGATE_OPENAPI: upstream.openapiFile })
  const store = await createStore(testConfig(dir))
  t.teardown(() => store.close())
  const user = await store.users.create({ email: 'x@example.com', name: 'x', passwordHash: 'x', createdAt: 0 })
  const account = await store.accounts.create({ name: 'x', kind: 'personal', ownerId: user.id, createdAt: 0 })
  const k = newKey({ userId: user.id, accountId: account.id })
  await store.keys.insert(k.key)
  const slow = callTool(a!.base, k.token, 'fault', { kind: 'slow' })
  // In flight once the upstream has it (however long that takes on a loaded machine).
  while (!upstream.seen.some((r) => r.url.endsWith('/fault/slow'))) await new Promise((r) => setTimeout(r, 10))
  a!.child.kill('SIGTERM')
  const res = await slow
  t.equal(res.status, 200, 'the in-flight call completed')
  t.same(res.body.result.structuredContent, { late: true })
  t.equal(await a!.exited, 0, 'then the process exited cleanly')
})

t.test('a port taken between its pick and the listen: the set starts again on new ports', async (t) => {
  // Test files run side by side, so a port free when picked may be taken before keygate
  // listens on it. The first pick here is a port this test holds.
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())))
  const held = (holder.address() as { port: number }).port
  let picks = 0
  const pick = () => (++picks === 1 ? Promise.resolve(held) : freePort())
  const [a, b] = await startInstances(t, tempDir(t), 2, {}, pick)
  t.equal(picks, 4, 'two ports, twice')
  t.not(a!.port, held)
  for (const instance of [a!, b!]) t.equal((await fetch(`${instance.base}/healthz`)).status, 200)
})
