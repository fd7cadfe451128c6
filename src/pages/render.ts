// Server-rendered pages (eta via @fastify/view), the operator's own templates, and the
// static files: the stylesheet, the copy script and the product's face (brand.ts).
import { readdirSync, readFileSync } from 'node:fs'
import { basename, extname, resolve } from 'node:path'
import view from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError } from '../config/checks.js'
import { repoPath } from '../shared/paths.js'
import { cleanName } from '../shared/text.js'
import type { User } from '../store/types.js'
import { type BrandView, brandRoutes, brandView, type Logo, loadLogo } from './brand.js'
import { ensureSession } from './session.js'

const TEMPLATES = repoPath('templates')
const STYLESHEET = readFileSync(repoPath('public', 'style.css'))
const COPY_SCRIPT = readFileSync(repoPath('public', 'copy.js'))

/** "2026-11-23 12:00 UTC", or a dash for never. */
export function fmtTime(seconds: number | null | undefined): string {
  return seconds ? `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—'
}

/** keygate's template names: an operator's templates directory may replace any of them. */
export const TEMPLATE_NAMES = readdirSync(TEMPLATES)
  .filter((f) => f.endsWith('.eta'))
  .map((f) => f.slice(0, -4))

declare module 'fastify' {
  interface FastifyInstance {
    /** The product's name, logo and links as every template receives them (it.brand). */
    brand: BrandView
    brandLogo: Logo | undefined
  }
}

/**
 * The operator's templates (KEYGATE_TEMPLATES_DIR): each file must have one of keygate's
 * template names and compile; a problem stops start-up with one line naming the file.
 */
function operatorTemplates(eta: Eta, dir: string): Map<string, string> {
  const fail = (problem: string): never => {
    throw new ConfigError(`KEYGATE_TEMPLATES_DIR: ${problem}`)
  }
  let files: string[] = []
  try {
    files = readdirSync(dir).filter((f) => !f.startsWith('.'))
  } catch (err) {
    fail(`${dir} could not be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  const found = new Map<string, string>()
  for (const file of files) {
    const name = file.replace(/\.eta$/, '')
    if (!file.endsWith('.eta') || !TEMPLATE_NAMES.includes(name))
      fail(`${file} is not one of keygate's templates (${TEMPLATE_NAMES.map((n) => `${n}.eta`).join(', ')})`)
    const path = resolve(dir, file)
    try {
      eta.compile(readFileSync(path, 'utf8'))
    } catch (err) {
      fail(`${file} does not compile: ${(err as Error).message.split('\n')[0]}`)
    }
    found.set(name, path)
  }
  return found
}

export default fp(
  async (app) => {
    const eta = new Eta({ views: TEMPLATES, autoEscape: true, cache: true })
    const { templatesDir, logo } = app.config.brand
    if (templatesDir) {
      const own = operatorTemplates(eta, templatesDir)
      const builtin = eta.resolvePath!.bind(eta)
      eta.resolvePath = (template, options) => {
        const name = basename(template, extname(template) || undefined).replace(/\.eta$/, '')
        // keygate's templates are found by name in its own folder, also from an operator's.
        return own.get(name) ?? builtin(template, { ...options, filepath: undefined })
      }
    }
    const loaded = logo ? await loadLogo(logo) : undefined
    app.decorate('brandLogo', loaded)
    app.decorate('brand', brandView(app, loaded))
    await app.register(view, { engine: { eta }, root: TEMPLATES })
  },
  { name: 'keygate-pages', dependencies: ['keygate-context'] },
)

/** The stylesheet and the copy button's script, with the pages' security headers. */
export async function staticRoutes(app: FastifyInstance): Promise<void> {
  await brandRoutes(app, app.brandLogo)
  app.get('/static/style.css', { config: { kind: 'page' } }, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
  )
  app.get('/static/copy.js', { config: { kind: 'page' } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(COPY_SCRIPT),
  )
}

/** Renders a page with the signed-in user (if any) and the session's CSRF token. */
export async function renderPage(
  app: FastifyInstance,
  req: FastifyRequest,
  reply: FastifyReply,
  template: string,
  data: Record<string, unknown>,
  user: User | null = null,
): Promise<FastifyReply> {
  const session = await ensureSession(app, req, reply)
  reply.header('cache-control', 'no-store')
  return reply
    .type('text/html; charset=utf-8')
    .view(template, { ...data, user, csrf: session.csrf, fmtTime, cleanName, brand: app.brand })
}
