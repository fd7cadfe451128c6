// The device flow end to end: a device's code approved in Chromium (sign-in, code, consent),
// polling that returns a key that works on /mcp; two keygate processes racing the poll of
// one approved code; and `keygate login` / `keygate stdio` / `keygate logout` as child
// processes with real stdin/stdout, the approval driven by the test's browser.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import t from 'tap'
import { POLL_INTERVAL } from '../../src/oauth/device.js'
import { createStore } from '../../src/store/index.js'
import { createUser, FileClock, TestClock, tempDir, testConfig } from '../helper.js'
import { launchChromium, screenshot } from '../support/browser.js'
import { Browser, csrfIn, listen } from '../support/http.js'
import { startInstances } from '../support/instances.js'
import { callTool } from '../support/mcp.js'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

async function deviceClient(base: string): Promise<string> {
  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Build Agent', grant_types: [DEVICE_GRANT] }),
  })
  return ((await res.json()) as { client_id: string }).client_id
}

async function startDevice(base: string, clientId: string) {
  const res = await fetch(`${base}/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId }).toString(),
  })
  return (await res.json()) as Record<string, string>
}

const poll = (base: string, clientId: string, deviceCode: string) =>
  fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId }).toString(),
  })

/** The test's browser signs in, enters the code, and approves. */
async function approveWith(browser: Browser, userCode: string): Promise<string> {
  const entry = await browser.open(`/device?user_code=${userCode}`)
  const consent = await browser.request('/device', { form: { csrf: csrfIn(await entry.text()), user_code: userCode } })
  const html = await consent.text()
  const account = /name="account_id" value="(\d+)"/.exec(html)![1]!
  const done = await browser.request('/device/approve', {
    form: { csrf: csrfIn(html), user_code: userCode, account_id: account, decision: 'approve', scope_choice: 'write' },
  })
  return done.text()
}

t.test('a device approved in Chromium gets a key that works on /mcp', async (t) => {
  const clock = new TestClock()
  const { app, base } = await listen(t, {}, tempDir(t), clock.now)
  const alice = await createUser(app, 'alice@example.com')
  const clientId = await deviceClient(base)
  const device = await startDevice(base, clientId)
  t.equal((await (await poll(base, clientId, device.device_code!)).json()).error, 'authorization_pending')

  const chromium = await launchChromium(t)
  const page = await chromium.newPage({ viewport: { width: 1000, height: 760 } })
  await page.goto(device.verification_uri_complete!)
  t.match(page.url(), `${base}/login?return_to=`, 'sign-in first')
  await page.getByLabel('Email').fill('alice@example.com')
  await page.getByLabel('Password').fill(alice.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${base}/device?**`)
  t.equal(await page.getByLabel('Code').inputValue(), device.user_code, 'the code filled in from the link')
  const entry = await screenshot(page, 'device-01-code')
  await page.getByRole('button', { name: 'Continue' }).click()
  t.ok(await page.getByText('A device is asking').isVisible())
  t.ok(await page.getByText('Build Agent').first().isVisible())
  const consent = await screenshot(page, 'device-02-consent')
  await page.getByRole('button', { name: 'Approve' }).click()
  t.ok(await page.getByRole('heading', { name: 'Device connected' }).isVisible())
  const done = await screenshot(page, 'device-03-done')
  for (const shot of [entry, consent, done]) t.ok(statSync(shot).size > 5000, shot)

  clock.advance(POLL_INTERVAL) // the interval: a sooner poll is slow_down
  const token = await poll(base, clientId, device.device_code!)
  t.equal(token.status, 200)
  const { access_token } = (await token.json()) as { access_token: string }
  t.equal((await callTool(base, access_token, 'list_notes')).status, 200, 'tools/call with the device key')

  // Denied: the device hears access_denied.
  const denied = await startDevice(base, clientId)
  await page.goto(denied.verification_uri_complete!)
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByRole('button', { name: 'Deny' }).click()
  t.ok(await page.getByRole('heading', { name: 'Device refused' }).isVisible())
  t.equal((await (await poll(base, clientId, denied.device_code!)).json()).error, 'access_denied')
})

t.test('two instances race the poll of one approved code: exactly one key', async (t) => {
  const dir = tempDir(t)
  const clock = new FileClock(t)
  const instances = await startInstances(t, dir, 2, clock.env)
  const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]]
  const store = await createStore(testConfig(dir))
  t.teardown(() => store.close())
  await createUser({ store, now: () => Math.floor(clock.now() / 1000) } as never, 'alice@example.com')
  const clientId = await deviceClient(a.base)
  const device = await startDevice(a.base, clientId)
  const browser = new Browser(b.base)
  await browser.signIn('alice@example.com')
  t.match(await approveWith(browser, device.user_code!), 'Device connected', 'approved on the other instance')
  clock.advance(POLL_INTERVAL)
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) => poll(i % 2 ? a.base : b.base, clientId, device.device_code!)),
  )
  t.equal(answers.filter((r) => r.status === 200).length, 1, 'one key, whichever instance answered')
  const user = (await store.users.byEmail('alice@example.com'))!
  t.equal((await store.keys.list({ userId: user.id })).length, 1)
})

function spawnCli(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; lines: string[]; next: (re: RegExp) => Promise<string> } {
  const child = spawn(process.execPath, ['bin/keygate.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiting: Array<{ re: RegExp; resolve: (line: string) => void }> = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    for (const w of [...waiting])
      if (w.re.test(line)) {
        waiting.splice(waiting.indexOf(w), 1)
        w.resolve(line)
      }
  })
  const next = (re: RegExp) =>
    new Promise<string>((resolve) => {
      const seen = lines.find((l) => re.test(l))
      if (seen) resolve(seen)
      else waiting.push({ re, resolve })
    })
  return { child, lines, next }
}

t.test('keygate login, then keygate stdio without a pasted key, then keygate logout', async (t) => {
  const { app, base } = await listen(t)
  await createUser(app, 'alice@example.com')
  const home = tempDir(t)
  const credentials = join(home, 'config', 'keygate', 'credentials.json')
  const env = { PATH: process.env.PATH ?? '', KEYGATE_CREDENTIALS: credentials }
  const url = `${base}/mcp`

  const login = spawnCli(['login', '--url', url], env)
  const exited = new Promise<number | null>((resolve) => login.child.once('exit', resolve))
  const instruction = await login.next(/^To sign in, open /)
  const userCode = /enter the code (\S+)$/.exec(instruction)![1]!
  t.match(instruction, `${base}/device`)
  const browser = new Browser(base)
  await browser.signIn('alice@example.com')
  t.match(await approveWith(browser, userCode), 'Device connected')
  t.equal(await exited, 0, login.lines.join('\n'))
  t.match(login.lines.at(-1), `Signed in. The key for ${url} is in ${credentials}.`)
  t.equal(statSync(credentials).mode & 0o777, 0o600, 'only the user can read the key')
  const client = (await app.store.clients.byId(
    (JSON.parse(readFileSync(credentials, 'utf8')) as any).servers[url].clientId,
  ))!
  t.match(client, { clientId: 'keygate-cli', clientName: 'keygate CLI', source: 'config' }, "keygate's own client")
  t.equal((await app.store.clients.list()).filter((c) => c.source === 'dcr').length, 0, 'nothing registered')

  const mcp = new Client({ name: 'desktop', version: '1' })
  await mcp.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['bin/keygate.js', 'stdio', '--url', url],
      env,
      stderr: 'pipe',
    }),
  )
  const listed = await mcp.callTool({ name: 'list_notes', arguments: {} })
  t.notOk(listed.isError, 'the stored key works through the bridge')
  await mcp.close()

  const logout = await promisify(execFile)(process.execPath, ['bin/keygate.js', 'logout', '--url', url], { env })
  t.match(logout.stdout, `Signed out of ${url}: the key is revoked and forgotten.`)
  const stored = JSON.parse(readFileSync(credentials, 'utf8'))
  t.same(stored.servers, {}, 'forgotten')
  const user = (await app.store.users.byEmail('alice@example.com'))!
  const keys = await app.store.keys.list({ userId: user.id })
  t.equal(keys.length, 1)
  t.not(keys[0]!.revokedAt, null, 'revoked at the server')

  const without = await promisify(execFile)(process.execPath, ['bin/keygate.js', 'stdio', '--url', url], { env }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  )
  t.equal(without.code, 1)
  t.equal(
    without.stderr,
    `keygate: no key for ${url}: run \`keygate login --url ${url}\`, or set KEYGATE_API_KEY to a key from the dashboard\n`,
  )
})

t.test("keygate login on a server that does not know keygate's own client registers one", async (t) => {
  const { app, base } = await listen(t)
  await createUser(app, 'alice@example.com')
  await app.store.clients.disable('keygate-cli', app.now())
  const env = { PATH: process.env.PATH ?? '', KEYGATE_CREDENTIALS: join(tempDir(t), 'credentials.json') }
  const login = spawnCli(['login', '--url', `${base}/mcp`], env)
  const exited = new Promise<number | null>((resolve) => login.child.once('exit', resolve))
  const userCode = /enter the code (\S+)$/.exec(await login.next(/^To sign in, open /))![1]!
  const browser = new Browser(base)
  await browser.signIn('alice@example.com')
  t.match(await approveWith(browser, userCode), 'Device connected')
  t.equal(await exited, 0, login.lines.join('\n'))
  const registered = (await app.store.clients.list()).filter((c) => c.source === 'dcr')
  t.match(registered, [{ clientName: 'keygate CLI' }], 'registered by dynamic registration instead')
})
