// The product's face on keygate's pages (KEYGATE_PRODUCT_*): its logo read once at start-up
// and served from keygate's own origin, its colours as a stylesheet whose text keeps WCAG AA
// contrast whatever colour is chosen, the favicon, and what every template receives.
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { ConfigError } from '../config/checks.js'
import type { Brand } from '../config/index.js'

const MAX_LOGO_BYTES = 512 * 1024

export type Logo = { bytes: Buffer; type: string }

/** The image type from the first bytes: PNG, JPEG, GIF, WebP or SVG; anything else is refused. */
export function imageType(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png'
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg'
  if (
    bytes
      .subarray(0, 6)
      .toString('latin1')
      .match(/^GIF8[79]a$/)
  )
    return 'image/gif'
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP')
    return 'image/webp'
  const head = bytes
    .subarray(0, 1024)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(head)) return 'image/svg+xml'
  return undefined
}

const refuse = (problem: string): never => {
  throw new ConfigError(`KEYGATE_PRODUCT_LOGO: ${problem}`)
}

/** Reads the logo (a file, or an https URL fetched once); a problem stops start-up with one line. */
export async function loadLogo(source: string, timeoutMs = 10_000): Promise<Logo> {
  let bytes: Buffer
  if (/^https?:\/\//i.test(source)) {
    let res: Response
    try {
      res = await fetch(source, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      return refuse(`${source} could not be fetched (${cause?.code ?? (err as Error).name})`)
    }
    if (!res.ok) refuse(`${source} answered HTTP ${res.status}`)
    const length = Number(res.headers.get('content-length') ?? 0)
    if (length > MAX_LOGO_BYTES) refuse(`${source} is larger than ${MAX_LOGO_BYTES / 1024} KiB`)
    bytes = Buffer.from(await res.arrayBuffer())
  } else {
    try {
      bytes = await readFile(source)
    } catch (err) {
      return refuse(`${source} could not be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  if (bytes.length > MAX_LOGO_BYTES) refuse(`${source} is larger than ${MAX_LOGO_BYTES / 1024} KiB`)
  const type = imageType(bytes)
  if (!type) return refuse(`${source} is not a PNG, JPEG, GIF, WebP or SVG image`)
  return { bytes, type }
}

type Rgb = [number, number, number]

const rgb = (hex: string): Rgb => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as Rgb
const hex = (c: Rgb) => `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`

function luminance([r, g, b]: Rgb): number {
  const lin = (v: number) => {
    const s = v / 255
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
  }
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/** WCAG 2 contrast ratio of two colours (1 to 21). */
export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(rgb(a)), luminance(rgb(b))].sort((p, q) => q - p) as [number, number]
  return (x + 0.05) / (y + 0.05)
}

/** The colour mixed toward black until it reaches `ratio` against `background`. */
function darkenTo(color: string, background: string, ratio: number): string {
  const base = rgb(color)
  for (let step = 0; step <= 100; step++) {
    const c = hex(base.map((v) => v * (1 - step / 100)) as Rgb)
    if (contrast(c, background) >= ratio) return c
  }
  return '#000000'
}

export type Palette = { accent: string; onAccent: string; ink: string; focus: string }

/**
 * From one accent colour: buttons in it with white or near-black text (whichever reads
 * better), links and the focus ring in a shade that keeps 4.5:1 (text) and 3:1 (the
 * ring) against the page's white and light grey.
 */
export function palette(accent: string): Palette {
  const dark = '#111418'
  const onAccent = contrast(accent, '#ffffff') >= contrast(accent, dark) ? '#ffffff' : dark
  // Buttons with dark text keep the accent; with white text it is darkened to 4.5:1 if needed.
  const button = onAccent === '#ffffff' ? darkenTo(accent, '#ffffff', 4.5) : accent
  const ink = darkenTo(accent, '#f5f6f8', 4.5)
  return { accent: button, onAccent, ink, focus: ink }
}

export function brandStylesheet(brand: Brand): string {
  const p = palette(brand.color)
  return `:root { --accent: ${p.accent}; --on-accent: ${p.onAccent}; --ink: ${p.ink}; --focus: ${p.focus}; }\n`
}

/** keygate's own mark: a key in a rounded square, in the accent colour. */
export function defaultIcon(brand: Brand): string {
  const p = palette(brand.color)
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="${p.accent}"/><circle cx="12" cy="16" r="5" fill="none" stroke="${p.onAccent}" stroke-width="3"/><path d="M17 16h9v4M22 16v3" fill="none" stroke="${p.onAccent}" stroke-width="3" stroke-linecap="round"/></svg>\n`
}

/** What every template receives as `it.brand`. */
export type BrandView = {
  name: string
  logoUrl: string | null
  iconUrl: string
  homeUrl: string | null
  supportUrl: string | null
  privacyUrl: string | null
  /** Where the connection instructions are: the product's docs, or keygate's /connect. */
  docsUrl: string
  mcpUrl: string
  /** The name as a config key ("acme-notes"): for the client configurations shown. */
  slug: string
}

export function brandView(app: FastifyInstance, logo: Logo | undefined): BrandView {
  const { brand, issuer, resource } = app.config
  return {
    name: brand.name,
    logoUrl: logo ? '/brand/logo' : null,
    iconUrl: logo ? '/brand/logo' : '/static/icon.svg',
    homeUrl: brand.homeUrl ?? null,
    supportUrl: brand.supportUrl ?? null,
    privacyUrl: brand.privacyUrl ?? null,
    docsUrl: brand.docsUrl ?? `${issuer}/connect`,
    mcpUrl: resource,
    slug: brand.slug,
  }
}

/** The logo, the colours and the icon, with the pages' security headers. */
export async function brandRoutes(app: FastifyInstance, logo: Logo | undefined): Promise<void> {
  const css = brandStylesheet(app.config.brand)
  const icon = defaultIcon(app.config.brand)
  const PAGE = { config: { kind: 'page' as const } }
  const cached = 'public, max-age=3600'
  app.get('/static/brand.css', PAGE, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', cached).send(css),
  )
  app.get('/static/icon.svg', PAGE, async (_req, reply) =>
    reply.type('image/svg+xml').header('cache-control', cached).send(icon),
  )
  const favicon = logo ?? { bytes: Buffer.from(icon), type: 'image/svg+xml' }
  app.get('/favicon.ico', PAGE, async (_req, reply) =>
    reply.type(favicon.type).header('cache-control', cached).send(favicon.bytes),
  )
  if (!logo) return
  app.get('/brand/logo', PAGE, async (_req, reply) => {
    // An SVG opened on its own runs nothing: no scripts, no requests, no forms.
    if (logo.type === 'image/svg+xml')
      reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
    return reply.type(logo.type).header('cache-control', cached).send(logo.bytes)
  })
}
