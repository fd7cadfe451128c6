// The product's face: its name, logo, colour and links on every page keygate shows, and an
// operator's own templates. Checked here; the logo and the templates are read at start-up
// (src/pages/brand.ts), so a missing file or a broken template stops keygate with one line.
import { z } from 'zod'
import { holdsInvisible } from '../shared/text.js'
import { fail } from './checks.js'

export const brandEnv = {
  KEYGATE_PRODUCT_NAME: z.string().default('keygate'),
  KEYGATE_PRODUCT_LOGO: z.string().min(1).optional(),
  KEYGATE_PRODUCT_COLOR: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #2755d6')
    .default('#2755d6'),
  KEYGATE_PRODUCT_URL: z.string().optional(),
  KEYGATE_SUPPORT_URL: z.string().optional(),
  KEYGATE_PRIVACY_URL: z.string().optional(),
  KEYGATE_DOCS_URL: z.string().optional(),
  KEYGATE_TEMPLATES_DIR: z.string().min(1).optional(),
}

type BrandEnv = z.infer<z.ZodObject<typeof brandEnv>>

export type Brand = {
  /** What people see as the service's name: page titles, headings, the resource's name. */
  name: string
  /** The name as a key ("acme-notes"): MCP's serverInfo.name, client configurations. */
  slug: string
  /** A file path or an https URL, read once at start-up and served from keygate's origin. */
  logo: string | undefined
  /** The accent colour (#rrggbb); the text on it and the links' shade are derived for contrast. */
  color: string
  homeUrl: string | undefined
  /** https or mailto: where people get help. */
  supportUrl: string | undefined
  privacyUrl: string | undefined
  /** The metadata's service_documentation; unset: keygate's public /connect page. */
  docsUrl: string | undefined
  /** Templates with keygate's names here replace keygate's (docs/branding.md). */
  templatesDir: string | undefined
}

function link(name: string, value: string | undefined, production: boolean, mailto = false): string | undefined {
  if (value === undefined || value === '') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    fail(name, `not an absolute URL: ${value}`)
  }
  if (mailto && url.protocol === 'mailto:') return url.href
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !production))
    fail(name, `must be https${mailto ? ' or mailto:' : ''}${production ? '' : ' (http outside production)'}`)
  return url.href
}

export function parseBrand(e: BrandEnv, production: boolean): Brand {
  const name = e.KEYGATE_PRODUCT_NAME.trim()
  if (name.length === 0 || name.length > 60) fail('KEYGATE_PRODUCT_NAME', 'must be 1 to 60 characters')
  if (holdsInvisible(name) || /[\p{Cc}<>]/u.test(name))
    fail('KEYGATE_PRODUCT_NAME', 'must not hold control, invisible or < > characters')
  const logo = e.KEYGATE_PRODUCT_LOGO
  if (logo !== undefined && /^[a-z][a-z0-9+.-]*:/i.test(logo) && !/^https?:\/\//i.test(logo))
    fail('KEYGATE_PRODUCT_LOGO', 'must be a file path or an https URL')
  if (logo !== undefined && /^http:\/\//i.test(logo) && production)
    fail('KEYGATE_PRODUCT_LOGO', 'must be https when NODE_ENV=production')
  const slug =
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'keygate'
  return {
    name,
    slug,
    logo,
    color: e.KEYGATE_PRODUCT_COLOR.toLowerCase(),
    homeUrl: link('KEYGATE_PRODUCT_URL', e.KEYGATE_PRODUCT_URL, production),
    supportUrl: link('KEYGATE_SUPPORT_URL', e.KEYGATE_SUPPORT_URL, production, true),
    privacyUrl: link('KEYGATE_PRIVACY_URL', e.KEYGATE_PRIVACY_URL, production),
    docsUrl: link('KEYGATE_DOCS_URL', e.KEYGATE_DOCS_URL, production),
    templatesDir: e.KEYGATE_TEMPLATES_DIR,
  }
}
