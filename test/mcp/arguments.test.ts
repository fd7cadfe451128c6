// Tool arguments against the inputSchema: OpenAPI's schema dialect, compile-once, schemas Ajv
// cannot compile, and where Ajv's warnings go.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { ArgumentCheck, type CheckLog } from '../../src/mcp/arguments.js'
import type { ToolDef } from '../../src/mcp/openapi.js'
import { buildApp } from '../../src/server/app.js'
import { createKey, createUser, tempDir, testConfig } from '../helper.js'
import { INJECT_HEADERS as MCP_HEADERS, rpc } from '../support/mcp.js'
import { startUpstream } from '../support/upstream.js'

function tool(name: string, properties: Record<string, unknown>, required?: string[]): ToolDef {
  return {
    name,
    description: name,
    inputSchema: { type: 'object', properties, ...(required ? { required } : {}) },
    annotations: {},
    method: 'GET',
    path: '/x',
    params: [],
    hasBody: false,
    scopeSets: [['read']],
  }
}

/** A log for schemas that all compile without a warning. */
function silent(t: { fail(message: string): unknown }): CheckLog {
  return {
    uncompilable: (name) => void t.fail(`${name} compiles`),
    warn: (_tool, message) => void t.fail(`no warning expected: ${message}`),
  }
}

t.test('OpenAPI 3.0 keywords and formats', async (t) => {
  const checks = new ArgumentCheck(silent(t))
  const nullable = tool('nullable', { note: { type: 'string', nullable: true } })
  t.equal(checks.problem(nullable, { note: null }), undefined, 'nullable: true lets null through')
  t.match(checks.problem(nullable, { note: 3 }), 'must be string')
  const formats = tool('formats', {
    when: { type: 'string', format: 'date-time' },
    n: { type: 'integer', format: 'int64' },
    tag: { type: 'string', enum: ['a', 'b'] },
  })
  t.equal(checks.problem(formats, { when: '2026-11-23T10:00:00Z', n: 5, tag: 'a' }), undefined)
  t.match(checks.problem(formats, { when: 'yesterday' }), 'must match format "date-time"')
  t.match(checks.problem(formats, { tag: 'c' }), 'must be equal to one of the allowed values')
  t.match(checks.problem(formats, 'not an object'), 'must be object')
  t.match(
    checks.problem(formats, { when: 'yesterday', tag: 'c' }),
    /date-time.*allowed values|allowed values.*date-time/,
    'every problem is named at once',
  )
})

t.test('the message stays short when many arguments are wrong', async (t) => {
  const checks = new ArgumentCheck(silent(t))
  const list = tool('list', { ids: { type: 'array', items: { type: 'integer' } } })
  const problem = checks.problem(list, { ids: Array.from({ length: 100_000 }, () => 'x') })!
  t.match(problem, /^data\/ids\/0 must be integer, data\/ids\/1 must be integer/)
  t.ok(problem.length <= 2001, `${problem.length} characters`)
  t.ok(problem.endsWith('…'))
})

t.test('a schema that cannot be compiled is reported once, and the call is not refused for it', async (t) => {
  const reported: string[] = []
  const checks = new ArgumentCheck({
    uncompilable: (name, err) => reported.push(`${name}: ${err.message}`),
    warn: (_tool, message) => t.fail(message),
  })
  const circular = tool('tree', { node: { $ref: '#/components/schemas/Node' } })
  const broken = tool('broken', { n: { type: 'integer', exclusiveMinimum: true } })
  for (let i = 0; i < 3; i++) {
    t.equal(checks.problem(circular, { node: {} }), undefined)
    t.equal(checks.problem(broken, { n: 1 }), undefined)
  }
  t.equal(reported.length, 2, 'one report per tool, not per call')
  t.match(reported[0], /^tree: .*Node/)
  t.match(reported[1], /^broken: .*exclusiveMinimum/)
})

t.test("Ajv's warnings go to the log, not to the console; the unknown format is not checked", async (t) => {
  const warnings: string[] = []
  const console_: string[] = []
  const original = console.warn
  console.warn = (...parts: unknown[]) => void console_.push(parts.join(' '))
  t.teardown(() => {
    console.warn = original
  })
  const checks = new ArgumentCheck({
    uncompilable: (name) => t.fail(`${name} compiles`),
    warn: (tool, message) => warnings.push(`${tool}: ${message}`),
  })
  const slug = tool('slug', {
    s: { type: 'string', format: 'slug' },
    n: { type: 'number', example: 3, xml: { name: 'n' } },
  })
  t.equal(checks.problem(slug, { s: 'any text', n: 1 }), undefined)
  t.match(checks.problem(slug, { s: 1 }), 'data/s must be string', 'the rest of the schema is still checked')
  t.ok(warnings.length > 0)
  t.match(warnings[0], /^slug: unknown format "slug" ignored/, 'the warning names the tool')
  t.same(console_, [])
})

t.test('each schema is compiled once and reused', async (t) => {
  const checks = new ArgumentCheck(silent(t))
  let compiles = 0
  const original = checks.validator.getValidator.bind(checks.validator)
  checks.validator.getValidator = (schema) => {
    compiles++
    return original(schema)
  }
  const one = tool('one', { a: { type: 'string' } }, ['a'])
  for (let i = 0; i < 5; i++) t.match(checks.problem(one, {}), "must have required property 'a'")
  t.equal(checks.problem(one, { a: 'x' }), undefined)
  t.equal(compiles, 1)
})

t.test(
  'in keygate: an uncompilable schema and an unknown format are logged as warnings, and the tool still works',
  async (t) => {
    const dir = tempDir(t)
    const upstream = await startUpstream(t, dir)
    const document = {
      openapi: '3.0.3',
      info: { title: 'tree', version: '1' },
      components: {
        schemas: {
          Node: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              children: { type: 'array', items: { $ref: '#/components/schemas/Node' } },
            },
          },
        },
      },
      paths: {
        '/items': {
          post: {
            operationId: 'create_tree',
            requestBody: {
              required: true,
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Node' } } },
            },
            responses: {},
          },
          get: {
            operationId: 'list_items',
            parameters: [{ name: 'tag', in: 'query', schema: { type: 'string', format: 'slug' } }],
            responses: {},
          },
        },
      },
    }
    const openapiFile = join(dir, 'tree.json')
    writeFileSync(openapiFile, JSON.stringify(document))
    const lines: string[] = []
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk))
        cb()
      },
    })
    const app = await buildApp(testConfig(dir, { KEYGATE_UPSTREAM: upstream.url, KEYGATE_OPENAPI: openapiFile }), {
      logger: { stream },
    })
    t.teardown(() => app.close())
    const { user, account } = await createUser(app, 'alice@example.com')
    const key = await createKey(app, { userId: user.id, accountId: account.id })
    const call = (name: string, args: Record<string, unknown>) =>
      app.inject({
        method: 'POST',
        url: '/mcp',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${key.token}` },
        payload: rpc('tools/call', { name, arguments: args }),
      })

    for (let i = 0; i < 2; i++) {
      const res = await call('create_tree', { body: { name: 'root', children: [{ name: 'leaf' }] } })
      t.same(
        res.json().result.structuredContent,
        { created: { name: 'root', children: [{ name: 'leaf' }] } },
        'the call goes through',
      )
    }
    t.match(
      (await call('create_tree', {})).json().result.content[0].text,
      'Missing required argument: body',
      'required parameters are still checked',
    )
    const tagged = await call('list_items', { tag: 'any text' })
    t.equal(tagged.json().result.isError, undefined)
    t.match((await call('list_items', { tag: 5 })).json().result.content[0].text, 'data/tag must be string')

    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40)
    const uncompilable = warnings.filter((w) => w.tool === 'create_tree')
    t.equal(uncompilable.length, 1, 'one warning, not one per call')
    t.match(uncompilable[0].msg, 'inputSchema cannot be compiled')
    t.ok(
      warnings.some((w) => w.tool === 'list_items' && /unknown format "slug" ignored/.test(w.reason)),
      "Ajv's warning is in the log, with the tool's name",
    )
  },
)
