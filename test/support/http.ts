// Real HTTP for end-to-end tests: keygate listening on a local port, and a small cookie-
// keeping "browser" (undici fetch) that signs in and approves a consent like a person would.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/server/app.js'
import { type Test, tempDir, testConfig } from '../helper.js'

/**
 * A port free when asked for, drawn at random from below the kernel's ephemeral range: the
 * ports listen(0) and outgoing connections take come from that range, so a port from outside
 * it is not taken by them between this pick and the caller's listen. Only another pick of the
 * same number could take it, and callers that must be sure retry on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow()
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low - 1 - Math.floor(Math.random() * Math.min(12_000, low - 10_001))
    if (await canListen(port)) return port
  }
  return listenOnce(0)
}

/** The first port of the kernel's ephemeral range; Linux's default when it cannot be read. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (low > 12_000) return low
  } catch {}
  return 32_768
}

const canListen = (port: number) =>
  listenOnce(port).then(
    () => true,
    () => false,
  )

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(port, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

export type Listening = { app: FastifyInstance; base: string; dir: string }

/**
 * An app built for a free port and listening on it. The port is free when asked for, but a
 * process running beside may take it before the app listens: then another is tried.
 */
export async function listenOnFreePort(
  t: Test,
  build: (port: number) => Promise<FastifyInstance>,
): Promise<{ app: FastifyInstance; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const app = await build(port)
    try {
      await app.listen({ port, host: '127.0.0.1' })
      t.teardown(() => app.close())
      return { app, port }
    } catch (err) {
      await app.close()
      if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt === 5) throw err
    }
  }
}

/** keygate on a real port, issuer http://localhost:<port>. */
export async function listen(
  t: Test,
  env: Record<string, string> = {},
  dir = tempDir(t),
  clock?: () => number,
): Promise<Listening> {
  const { app, port } = await listenOnFreePort(t, (port) =>
    buildApp(
      testConfig(dir, { KEYGATE_ISSUER: `http://localhost:${port}`, PORT: String(port), ...env }),
      clock ? { clock } : {},
    ),
  )
  return { app, base: `http://localhost:${port}`, dir }
}

export class Browser {
  private jar = new Map<string, string>()
  readonly base: string
  constructor(base: string) {
    this.base = base
  }

  private cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string | string[]> } = {},
  ): Promise<Response> {
    const body = init.form
      ? new URLSearchParams(
          Object.entries(init.form).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
        )
      : undefined
    const res = await fetch(new URL(url, this.base), {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers: {
        cookie: this.cookieHeader(),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body,
      redirect: 'manual',
    })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const [name, value] = pair!.split(/=(.*)/s) as [string, string]
      if (value === '') this.jar.delete(name)
      else this.jar.set(name, value)
    }
    return res
  }

  async signIn(email: string, password = 'correct horse battery'): Promise<void> {
    const page = await (await this.request('/login')).text()
    const res = await this.request('/login', { form: { csrf: csrfIn(page), email, password, return_to: '/dashboard' } })
    if (res.status !== 303) throw new Error(`sign-in failed with ${res.status}`)
  }

  /**
   * Opens a page, following redirects like a browser (across origins: a sign-in through the
   * product goes there and back), up to `hops`.
   */
  async open(url: string, hops = 6): Promise<Response> {
    let res = await this.request(url)
    for (let i = 0; i < hops && res.status >= 301 && res.status <= 303; i++)
      res = await this.request(new URL(res.headers.get('location')!, res.url).href)
    return res
  }

  /** Opens the authorization URL (signing in on the way if it must), approves, and returns the redirect Location. */
  async approve(authorizationUrl: string | URL, form: Record<string, string | string[]> = {}): Promise<URL> {
    const page = await this.open(String(authorizationUrl))
    if (page.status !== 200)
      throw new Error(`consent page answered ${page.status} ${page.headers.get('location') ?? ''}`)
    const html = await page.text()
    const fields: Record<string, string | string[]> = { decision: 'approve', scope_choice: 'write' }
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
      fields[m[1]!] = unescapeHtml(m[2]!)
    const res = await this.request('/authorize', { form: { ...fields, ...form } })
    if (res.status !== 302) throw new Error(`consent POST answered ${res.status}: ${(await res.text()).slice(0, 300)}`)
    return new URL(res.headers.get('location')!)
  }
}

export function csrfIn(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html)
  if (!m) throw new Error('no csrf field')
  return m[1]!
}

export function unescapeHtml(s: string): string {
  return s
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&')
}
