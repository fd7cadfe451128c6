// Acme: a small product as it was before keygate. People sign in with a password and a
// cookie; organisations have members with roles; its REST API (/api/v1) serves projects to
// developer tokens it checks with its own code; a settings page lists, creates and revokes
// those tokens. Nothing here knows keygate except handoff.ts, the one endpoint added for it.
import { createHash, createHmac, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import formbody from '@fastify/formbody'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import pg from 'pg'
import { repoPath } from '../../src/shared/paths.js'
import { keygateHandoff } from './handoff.js'

export type Person = { id: string; email: string; display_name: string }
export type Acme = {
  url: string
  db: pg.Pool
  signedIn(req: FastifyRequest): Promise<Person | undefined>
}

const SCOPES = ['projects:read', 'projects:write']

const escape = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)} · Acme</title>
<style>body{font:16px system-ui;max-width:52rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}code{background:#f4f4f4;padding:.1rem .3rem}</style>
</head><body><h1>${escape(title)}</h1>${body}</body></html>`
}

export const hashPassword = (password: string) => {
  const salt = randomBytes(16)
  return `${salt.toString('hex')}:${scryptSync(password, salt, 32).toString('hex')}`
}
const passwordMatches = (password: string, stored: string) => {
  const [salt, hash] = stored.split(':')
  return timingSafeEqual(scryptSync(password, Buffer.from(salt!, 'hex'), 32), Buffer.from(hash!, 'hex'))
}

/** Acme's own token format and digest: acme_ + 32 random bytes, stored as SHA-256 hex. */
export const newToken = () => `acme_${randomBytes(32).toString('base64url')}`
export const digest = (token: string) => createHash('sha256').update(token).digest('hex')

/** Creates Acme's tables and its people, organisations and projects, once. */
export async function seed(db: pg.Pool): Promise<void> {
  await db.query(readFileSync(repoPath('examples/product/schema.sql'), 'utf8'))
  const { rowCount } = await db.query('SELECT 1 FROM people LIMIT 1')
  if (rowCount) return
  const people = await db.query(
    `INSERT INTO people (email, display_name, password_hash) VALUES ($1, 'Alice Adams', $3), ($2, 'Bob Brown', $3)
     RETURNING id, email`,
    ['alice@acme.example', 'bob@acme.example', hashPassword('acme-password')],
  )
  const [alice, bob] = people.rows
  const orgs = await db.query(`INSERT INTO organisations (name) VALUES ('Acme Rockets'), ('Acme Labs') RETURNING id, name`)
  const [rockets, labs] = orgs.rows
  await db.query(
    `INSERT INTO memberships (person_id, org_id, role) VALUES ($1, $3, 'owner'), ($1, $4, 'member'), ($2, $3, 'member')`,
    [alice.id, bob.id, rockets.id, labs.id],
  )
  await db.query(
    `INSERT INTO projects (org_id, name) VALUES ($1, 'Moon lander'), ($1, 'Orbital crane'), ($2, 'Lab notebook')`,
    [rockets.id, labs.id],
  )
}

export async function startProduct(options: {
  databaseUrl: string
  port: number
  host?: string
  keygate: { url: string; secret: string }
}): Promise<{ app: FastifyInstance; url: string; acme: Acme }> {
  const url = `http://localhost:${options.port}`
  const db = new pg.Pool({ connectionString: options.databaseUrl, max: 5 })
  // An idle connection the server ends must not stop the product: the pool drops it.
  db.on('error', () => undefined)
  const sessionKey = randomBytes(32)
  const sign = (id: string) => `${id}.${createHmac('sha256', sessionKey).update(id).digest('base64url')}`

  const acme: Acme = {
    url,
    db,
    async signedIn(req) {
      const cookie = /(?:^|;\s*)acme_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]
      const id = cookie?.split('.')[0]
      if (!id || sign(id) !== cookie) return undefined
      const { rows } = await db.query('SELECT id, email, display_name FROM people WHERE id = $1', [id])
      return rows[0]
    },
  }
  const app = Fastify()
  await app.register(formbody)
  app.addHook('onClose', () => db.end())

  const mustSignIn = async (req: FastifyRequest, reply: FastifyReply) => {
    const person = await acme.signedIn(req)
    if (!person) reply.redirect(`/signin?next=${encodeURIComponent(req.url)}`)
    return person
  }

  app.get('/', async (_req, reply) => reply.redirect('/settings/tokens'))

  app.get('/signin', async (req, reply) => {
    const { next = '/settings/tokens', failed } = req.query as { next?: string; failed?: string }
    return reply.type('text/html').send(
      page(
        'Sign in to Acme',
        `${failed ? '<p role="alert">Wrong email or password.</p>' : ''}
        <form method="post" action="/signin"><input type="hidden" name="next" value="${escape(next)}">
        <p><label>Email <input name="email" type="email" required></label></p>
        <p><label>Password <input name="password" type="password" required></label></p>
        <button type="submit">Sign in</button></form>`,
      ),
    )
  })

  app.post('/signin', async (req, reply) => {
    const { email = '', password = '', next = '/' } = req.body as Record<string, string>
    const { rows } = await db.query('SELECT id, password_hash FROM people WHERE email = lower($1)', [email])
    const safeNext = next.startsWith('/') && !next.startsWith('//') ? next : '/'
    if (!rows[0] || !passwordMatches(password, rows[0].password_hash))
      return reply.redirect(`/signin?failed=1&next=${encodeURIComponent(safeNext)}`)
    reply.header('set-cookie', `acme_session=${sign(rows[0].id)}; Path=/; HttpOnly; SameSite=Lax`)
    return reply.redirect(safeNext)
  })

  app.post('/signout', async (_req, reply) => {
    reply.header('set-cookie', 'acme_session=; Path=/; Max-Age=0')
    return reply.redirect('/signin')
  })

  // Settings: the developer tokens of the organisations the person belongs to.
  app.get('/settings/tokens', async (req, reply) => {
    const person = await mustSignIn(req, reply)
    if (!person) return reply
    const { created } = req.query as { created?: string }
    const orgs = await db.query(
      `SELECT o.id, o.name, m.role FROM memberships m JOIN organisations o ON o.id = m.org_id WHERE m.person_id = $1
       ORDER BY o.name`,
      [person.id],
    )
    const tokens = await db.query(
      `SELECT t.id, t.label, t.permissions, t.revoked, t.created_at, t.last_used_at, o.name AS org, p.email AS creator
       FROM developer_tokens t JOIN organisations o ON o.id = t.org_id JOIN people p ON p.id = t.created_by
       WHERE t.org_id IN (SELECT org_id FROM memberships WHERE person_id = $1) ORDER BY t.created_at DESC`,
      [person.id],
    )
    const rows = tokens.rows
      .map(
        (t) => `<tr><td>${escape(t.label)}</td><td>${escape(t.org)}</td><td>${escape(t.permissions.join(', '))}</td>
        <td>${escape(t.creator)}</td><td>${t.last_used_at ? escape(t.last_used_at.toISOString()) : 'never'}</td>
        <td>${t.revoked ? 'revoked' : `<form method="post" action="/settings/tokens/${t.id}/revoke"><button>Revoke</button></form>`}</td></tr>`,
      )
      .join('')
    return reply.type('text/html').send(
      page(
        'Developer tokens',
        `<p>Signed in as ${escape(person.email)}. <form method="post" action="/signout" style="display:inline"><button>Sign out</button></form></p>
        ${created ? `<p role="status">Your new token (shown once): <code>${escape(created)}</code></p>` : ''}
        <table><thead><tr><th>Label</th><th>Organisation</th><th>Permissions</th><th>Created by</th><th>Last used</th><th></th></tr></thead>
        <tbody>${rows || '<tr><td colspan="6">No tokens yet.</td></tr>'}</tbody></table>
        <h2>New token</h2><form method="post" action="/settings/tokens">
        <p><label>Label <input name="label" required maxlength="100"></label></p>
        <p><label>Organisation <select name="org_id">${orgs.rows.map((o) => `<option value="${o.id}">${escape(o.name)}</option>`).join('')}</select></label></p>
        <p>${SCOPES.map((s) => `<label><input type="checkbox" name="permissions" value="${s}" checked> ${s}</label>`).join(' ')}</p>
        <button type="submit">Create token</button></form>`,
      ),
    )
  })

  app.post('/settings/tokens', async (req, reply) => {
    const person = await mustSignIn(req, reply)
    if (!person) return reply
    const body = req.body as { label?: string; org_id?: string; permissions?: string | string[] }
    const permissions = [body.permissions ?? []].flat().filter((p) => SCOPES.includes(p))
    const member = await db.query('SELECT 1 FROM memberships WHERE person_id = $1 AND org_id::text = $2', [
      person.id,
      body.org_id ?? '',
    ])
    if (!member.rowCount || !body.label) return reply.code(400).send('bad token request')
    const token = newToken()
    await db.query(
      'INSERT INTO developer_tokens (org_id, created_by, label, token_digest, permissions) VALUES ($1, $2, $3, $4, $5)',
      [body.org_id, person.id, body.label.slice(0, 100), digest(token), permissions],
    )
    return reply.redirect(`/settings/tokens?created=${encodeURIComponent(token)}`)
  })

  // Revoking is Acme's own UPDATE: owners and admins of the organisation, or the token's creator.
  app.post('/settings/tokens/:id/revoke', async (req, reply) => {
    const person = await mustSignIn(req, reply)
    if (!person) return reply
    const { id } = req.params as { id: string }
    await db.query(
      `UPDATE developer_tokens t SET revoked = true
       WHERE t.id::text = $1 AND (t.created_by = $2 OR EXISTS (SELECT 1 FROM memberships m
         WHERE m.person_id = $2 AND m.org_id = t.org_id AND m.role IN ('owner', 'admin')))`,
      [id, person.id],
    )
    return reply.redirect('/settings/tokens')
  })

  apiRoutes(app, db)
  keygateHandoff(app, acme, options.keygate)
  await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' })
  return { app, url, acme }
}

/** Acme's REST API: every request carries a developer token, checked against its own table. */
function apiRoutes(app: FastifyInstance, db: pg.Pool) {
  const problem = (reply: FastifyReply, status: number, detail: string) =>
    reply.code(status).type('application/problem+json').send({ title: detail, status, detail })

  async function tokenOf(req: FastifyRequest, reply: FastifyReply, permission: string) {
    const raw = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
    const { rows } = raw
      ? await db.query(
          `UPDATE developer_tokens SET last_used_at = now() WHERE token_digest = $1 AND NOT revoked
           RETURNING org_id, permissions`,
          [digest(raw)],
        )
      : { rows: [] }
    if (!rows[0]) return void problem(reply, 401, 'a valid developer token is required')
    if (!rows[0].permissions.includes(permission)) return void problem(reply, 403, `the token lacks ${permission}`)
    return rows[0] as { org_id: string }
  }

  app.get('/api/v1/openapi.json', async () => OPENAPI)
  app.get('/api/v1/projects', async (req, reply) => {
    const token = await tokenOf(req, reply, 'projects:read')
    if (!token) return reply
    const { rows } = await db.query('SELECT id, name, status FROM projects WHERE org_id = $1 ORDER BY name', [
      token.org_id,
    ])
    return { projects: rows }
  })
  app.get('/api/v1/projects/:id', async (req, reply) => {
    const token = await tokenOf(req, reply, 'projects:read')
    if (!token) return reply
    const { rows } = await db.query('SELECT id, name, status FROM projects WHERE id::text = $1 AND org_id = $2', [
      (req.params as { id: string }).id,
      token.org_id,
    ])
    return rows[0] ?? problem(reply, 404, 'no such project')
  })
  app.post('/api/v1/projects', async (req, reply) => {
    const token = await tokenOf(req, reply, 'projects:write')
    if (!token) return reply
    const name = (req.body as { name?: unknown } | undefined)?.name
    if (typeof name !== 'string' || !name.trim() || name.length > 200)
      return problem(reply, 400, 'name is required (200 characters at most)')
    const { rows } = await db.query('INSERT INTO projects (org_id, name) VALUES ($1, $2) RETURNING id, name, status', [
      token.org_id,
      name.trim(),
    ])
    return reply.code(201).send(rows[0])
  })
}

const project = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' }, status: { type: 'string' } },
}
const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Acme API', version: '1.0.0' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/projects': {
      get: {
        operationId: 'list_projects',
        summary: "List the organisation's projects",
        security: [{ token: ['projects:read'] }],
        responses: { '200': { description: 'The projects' } },
      },
      post: {
        operationId: 'create_project',
        summary: 'Create a project',
        security: [{ token: ['projects:write'] }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } },
            },
          },
        },
        responses: { '201': { description: 'The project', content: { 'application/json': { schema: project } } } },
      },
    },
    '/projects/{id}': {
      get: {
        operationId: 'get_project',
        summary: 'Get one project',
        security: [{ token: ['projects:read'] }],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'The project' } },
      },
    },
  },
}
