// What Acme added for keygate: one endpoint. keygate sends the browser here with `state`
// and `return_to`; Acme signs who is signed in and their organisations and roles, and sends
// the browser back. The secret is shared with keygate (KEYGATE_HANDOFF_SECRET).
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { SignJWT } from 'jose'
import type { Acme } from './product.js'

export function keygateHandoff(app: FastifyInstance, acme: Acme, keygate: { url: string; secret: string }) {
  app.get('/keygate-handoff', async (req, reply) => {
    const { state, return_to } = req.query as { state?: string; return_to?: string }
    if (!state || !return_to?.startsWith(`${keygate.url}/`)) return reply.code(400).send('bad handoff request')
    const person = await acme.signedIn(req)
    if (!person) return reply.redirect(`/signin?next=${encodeURIComponent(req.url)}`)
    const { rows: accounts } = await acme.db.query(
      `SELECT o.id, o.name, m.role FROM memberships m JOIN organisations o ON o.id = m.org_id WHERE m.person_id = $1`,
      [person.id],
    )
    const assertion = await new SignJWT({ email: person.email, name: person.display_name, nonce: state, accounts })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(acme.url)
      .setAudience(keygate.url)
      .setSubject(person.id)
      .setIssuedAt()
      .setExpirationTime('60s')
      .setJti(randomUUID())
      .sign(new TextEncoder().encode(keygate.secret))
    const back = new URL(return_to)
    back.searchParams.set('state', state)
    back.searchParams.set('assertion', assertion)
    return reply.redirect(back.href)
  })
}
