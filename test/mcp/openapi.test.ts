import t from 'tap'
import { OpenApiError, toolsFromOpenApi } from '../../src/mcp/openapi.js'

t.test('tool building: $refs, names, parameters, scopes, opt-out', async (t) => {
  const tools = await toolsFromOpenApi({
    openapi: '3.1.0',
    security: [{ oauth: ['read'] }],
    components: {
      parameters: { Id: { name: 'id', in: 'path', required: true, schema: { $ref: '#/components/schemas/Id' } } },
      schemas: {
        Id: { type: 'string', pattern: '^[a-z]+$' },
        Thing: { type: 'object', properties: { id: { $ref: '#/components/schemas/Id' } } },
      },
    },
    paths: {
      '/things/{id}': {
        parameters: [{ $ref: '#/components/parameters/Id' }],
        get: { operationId: 'get thing!', responses: {} },
        put: {
          operationId: 'putThing',
          description: 'Replace',
          security: [{ oauth: ['write', 'admin'] }, { oauth: ['root'] }],
          parameters: [
            { name: 'id', in: 'query', schema: { type: 'integer' } },
            { name: 'Authorization', in: 'header' },
          ],
          requestBody: {
            content: { 'application/merge-patch+json': { schema: { $ref: '#/components/schemas/Thing' } } },
          },
          responses: {},
        },
        patch: { operationId: 'patchThing', 'x-mcp': false, responses: {} },
        post: { operationId: 'xmlOnly', requestBody: { content: { 'application/xml': {} } }, responses: {} },
      },
      '/open': { get: { operationId: 'open', security: [], responses: {} }, head: { responses: {} } },
    },
  })
  t.same(
    tools.map((x) => x.name),
    ['get_thing', 'putThing', 'xmlOnly', 'open', 'head__open'],
  )
  const [get, put, xml, open, head] = tools
  t.same(
    get!.inputSchema,
    { type: 'object', properties: { id: { type: 'string', pattern: '^[a-z]+$' } }, required: ['id'] },
    'refs resolved',
  )
  t.equal(get!.description, 'GET /things/{id}\n\nRequires scope: read.', 'a description even without summary')
  t.same(get!.scopeSets, [['read']], 'document-level security')
  t.same(put!.scopeSets, [['write', 'admin'], ['root']])
  t.equal(put!.description, 'Replace\n\nRequires scope: write + admin or root.')
  t.same(
    Object.keys(put!.inputSchema.properties),
    ['id', 'query_id', 'body'],
    'a clashing name gets its location; Authorization is never a parameter',
  )
  t.same((put!.inputSchema.properties.body as any).properties.id, { type: 'string', pattern: '^[a-z]+$' })
  t.equal(xml!.hasBody, false, 'non-JSON bodies are not offered')
  t.same(open!.scopeSets, [['read']], 'empty security falls back to the method')
  t.same(head!.scopeSets, [['read']])
  t.same(put!.annotations, { readOnlyHint: false, idempotentHint: true })
})

t.test('bad documents are refused with a clear message', async (t) => {
  await t.rejects(toolsFromOpenApi({ swagger: '2.0' }), new OpenApiError('only OpenAPI 3.x documents are supported'))
  await t.rejects(
    toolsFromOpenApi({
      openapi: '3.0.0',
      paths: { '/a': { get: { operationId: 'x' } }, '/b': { get: { operationId: 'x' } } },
    }),
    new OpenApiError('two operations map to the tool name x: give them distinct operationIds'),
  )
  const circular = await toolsFromOpenApi({
    openapi: '3.0.0',
    components: { schemas: { Node: { type: 'object', properties: { next: { $ref: '#/components/schemas/Node' } } } } },
    paths: {
      '/n': {
        post: {
          operationId: 'n',
          requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Node' } } } },
        },
      },
    },
  })
  t.equal(circular[0]!.name, 'n', 'circular schemas do not hang')
})
