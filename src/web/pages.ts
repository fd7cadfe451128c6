// Server-rendered pages (eta via @fastify/view) and the static stylesheet.
import { readFileSync } from 'node:fs'
import view from '@fastify/view'
import { Eta } from 'eta'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { cleanName } from '../oauth/client-metadata.js'
import { repoPath } from '../paths.js'
import type { User } from '../store/types.js'
import { ensureSession } from './session.js'

const TEMPLATES = repoPath('templates')
const STYLESHEET = readFileSync(repoPath('public', 'style.css'))
const COPY_SCRIPT = readFileSync(repoPath('public', 'copy.js'))

/** "2026-11-23 12:00 UTC", or a dash for never. */
export function fmtTime(seconds: number | null | undefined): string {
  return seconds ? `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—'
}

export default fp(
  async (app) => {
    await app.register(view, {
      engine: { eta: new Eta({ views: TEMPLATES, autoEscape: true, cache: true }) },
      root: TEMPLATES,
    })
  },
  { name: 'keygate-pages', dependencies: ['keygate-context'] },
)

/** The stylesheet and the copy button's script, with the pages' security headers. */
export async function staticRoutes(app: FastifyInstance): Promise<void> {
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
    .view(template, { ...data, user, csrf: session.csrf, fmtTime, cleanName })
}
