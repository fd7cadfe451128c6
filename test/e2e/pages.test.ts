// Every page keygate shows, in Chromium, as keygate and as a branded product, 1280 and 390
// pixels wide: axe-core finds no WCAG 2.1 A/AA violation on any of them, nothing scrolls
// sideways at 390, the product's name is on each, and a screenshot of each is saved to
// test-output/screenshots/ (pages-<brand>-<width>-<page>.png) for a person to look at.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { Page } from 'playwright-core'
import t from 'tap'
import { repoPath } from '../../src/shared/paths.js'
import { authorizeQuery, createUser, pkce } from '../helper.js'
import { launchChromium, screenshot } from '../support/browser.js'
import { freePort, listen } from '../support/http.js'

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

const BRANDS: Record<string, Record<string, string>> = {
  keygate: {},
  acme: {
    KEYGATE_PRODUCT_NAME: 'Acme Notes',
    KEYGATE_PRODUCT_LOGO: repoPath('test', 'fixtures', 'brand', 'acme.svg'),
    KEYGATE_PRODUCT_COLOR: '#f59e0b',
    KEYGATE_PRODUCT_URL: 'https://acme.example',
    KEYGATE_SUPPORT_URL: 'mailto:help@acme.example',
    KEYGATE_PRIVACY_URL: 'https://acme.example/privacy',
    KEYGATE_LOGOUT_URL: 'https://acme.example/logout',
  },
}

type Violation = { id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }

async function callbackServer(t: { teardown(fn: () => unknown): void }) {
  const port = await freePort()
  const server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Callback</title>'),
  )
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${port}/callback`
}

for (const [brand, env] of Object.entries(BRANDS))
  for (const width of [1280, 390])
    t.test(`every page as ${brand}, ${width} px wide: no axe violation, no sideways scroll`, async (t) => {
      const { app, base } = await listen(t, env)
      const name = env.KEYGATE_PRODUCT_NAME ?? 'keygate'
      const alice = await createUser(app, 'alice@example.com')
      const bob = await createUser(app, 'bob@example.com')
      const team = await app.store.accounts.create({
        name: 'Acme Team',
        kind: 'team',
        ownerId: alice.user.id,
        createdAt: app.now(),
      })
      await app.store.accounts.addMember(team.id, bob.user.id, 'member', app.now())
      const callback = await callbackServer(t)
      const client = await (
        await fetch(`${base}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ client_name: 'Claude', redirect_uris: [callback] }),
        })
      ).json()
      const browser = await launchChromium(t)
      const page = await browser.newPage({ viewport: { width, height: 900 } })

      const seen: string[] = []
      async function check(label: string, p: Page = page) {
        await p.waitForLoadState('load')
        await p.evaluate(AXE)
        const axeResult = (await p.evaluate(async () => {
          // axe is the script evaluated above.
          const axe = (globalThis as any).axe
          const result = await axe.run(document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
          })
          return { violations: result.violations, passes: result.passes.length }
        })) as { violations: Violation[]; passes: number }
        t.ok(axeResult.passes > 5, `${label}: axe ran (${axeResult.passes} rules passed)`)
        t.same(
          axeResult.violations.map(
            (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
          ),
          [],
          `${label}: no WCAG A/AA violation`,
        )
        const sideways = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
        t.ok(sideways <= 0, `${label}: nothing scrolls sideways (${sideways} px)`)
        t.match(await p.title(), new RegExp(` · ${name}$`), `${label}: the title names ${name}`)
        seen.push(await screenshot(p, `pages-${brand}-${width}-${label}`))
      }

      // Signed out: the public page, the sign-in an app starts, an error page.
      await page.goto(`${base}/connect`)
      await check('connect')
      await page.goto(`${base}/authorize?client_id=nobody&response_type=code`)
      await check('error')
      const { challenge } = pkce()
      const query = authorizeQuery(client.client_id, challenge, { redirect_uri: callback, resource: `${base}/mcp` })
      await page.goto(`${base}/authorize?${query}`)
      t.match(await page.locator('h1').textContent(), `Sign in to ${name} to connect Claude`)
      await check('login')
      await page.getByLabel('Email').fill('alice@example.com')
      await page.getByLabel('Password').fill('wrong password')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await check('login-failed')
      await page.getByLabel('Password').fill(alice.password)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.waitForURL(`${base}/authorize?**`)
      t.match(await page.locator('h1').textContent(), `Claude wants to use your ${name} account`)
      await check('consent')
      await page.getByRole('button', { name: 'Approve' }).click()
      await page.waitForURL(`${callback}?**`)

      // The dashboard: connect instructions, keys, a key created, revoked with a notice.
      await page.goto(`${base}/dashboard?account=${team.id}`)
      await page.locator('details.connect summary').click()
      await check('dashboard')
      await page.getByLabel('Name', { exact: true }).fill('laptop')
      await page.getByRole('button', { name: 'Create key' }).click()
      await check('key-created')
      await page.goto(`${base}/dashboard?account=${team.id}`)
      await page.getByRole('button', { name: 'Revoke key laptop' }).click()
      await check('confirm-revoke')
      await page.getByRole('button', { name: 'Yes, revoke' }).click()
      await page.waitForURL(`${base}/dashboard?account=${team.id}&done=key_revoked`)
      await check('dashboard-notice')
      const revokeButton = page.getByRole('button', { name: 'Remove bob@example.com' })
      t.ok(await revokeButton.isVisible(), 'the row action is on screen')
      await revokeButton.click()
      await check('confirm-member')
      await page.goto(`${base}/dashboard/audit?account=${team.id}`)
      await check('audit')

      // A device: the code page, a code that cannot be one, the consent, the result.
      const device = await (
        await fetch(`${base}/device_authorization`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: 'keygate-cli', resource: `${base}/mcp` }).toString(),
        })
      ).json()
      await page.goto(`${base}/device`)
      await check('device')
      await page.getByLabel('Code').fill('AEIO-UBCD')
      await page.getByRole('button', { name: 'Continue' }).click()
      t.match(await page.getByRole('alert').textContent(), 'no vowels, digits or other signs (A, E, I, O, U)')
      await check('device-problem')
      await page.getByLabel('Code').fill(device.user_code)
      await page.getByRole('button', { name: 'Continue' }).click()
      t.match(await page.locator('.identity').textContent(), 'Verified: the command-line tool of this server')
      await check('device-consent')
      await page.getByRole('button', { name: 'Approve' }).click()
      await check('device-done')

      // Signing out.
      await page.goto(`${base}/logout`)
      await check('logout')
      await page.locator('main').getByRole('button', { name: 'Sign out' }).click()
      if (env.KEYGATE_LOGOUT_URL) await check('signed-out')
      else t.match(page.url(), `${base}/login`, 'signed out: back to sign-in')
      t.ok(seen.length >= 15, `${seen.length} screenshots`)
    })
