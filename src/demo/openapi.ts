// The demo API's OpenAPI 3.1 document, served at /api/v1/openapi.json.
export const DEMO_OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'keygate demo notes API',
    version: '1.0.0',
    description: 'Notes that belong to the account of the API key.',
  },
  servers: [{ url: '/api/v1' }],
  components: {
    securitySchemes: {
      keygate: {
        type: 'oauth2',
        description: 'API keys, or OAuth access tokens from keygate (they are the same thing).',
        flows: {
          authorizationCode: {
            authorizationUrl: '/authorize',
            tokenUrl: '/token',
            scopes: { read: 'Read notes', write: 'Create and delete notes' },
          },
        },
      },
    },
    schemas: {
      Note: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          title: { type: 'string' },
          body: { type: 'string' },
          created_at: { type: 'integer', description: 'Unix seconds' },
        },
        required: ['id', 'title', 'body', 'created_at'],
      },
      NewNote: {
        type: 'object',
        properties: {
          title: { type: 'string', minLength: 1, maxLength: 200 },
          body: { type: 'string', maxLength: 10000 },
        },
        required: ['title'],
        additionalProperties: false,
      },
      NoteId: {
        name: 'id',
        in: 'path',
        required: true,
        description: 'The note id',
        schema: { type: 'integer', minimum: 1 },
      },
    },
  },
  paths: {
    '/notes': {
      get: {
        operationId: 'list_notes',
        summary: 'List notes',
        description: "Lists the notes of the key's account, oldest first.",
        security: [{ keygate: ['read'] }],
        responses: {
          '200': {
            description: 'The notes',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { notes: { type: 'array', items: { $ref: '#/components/schemas/Note' } } },
                },
              },
            },
          },
        },
      },
      post: {
        operationId: 'create_note',
        summary: 'Create a note',
        security: [{ keygate: ['write'] }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewNote' } } },
        },
        responses: {
          '201': {
            description: 'The new note',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Note' } } },
          },
        },
      },
    },
    '/notes/{id}': {
      parameters: [{ $ref: '#/components/schemas/NoteId' }],
      get: {
        operationId: 'get_note',
        summary: 'Get a note',
        security: [{ keygate: ['read'] }],
        responses: {
          '200': {
            description: 'The note',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Note' } } },
          },
          '404': { description: 'No such note' },
        },
      },
      delete: {
        operationId: 'delete_note',
        summary: 'Delete a note',
        security: [{ keygate: ['write'] }],
        responses: { '204': { description: 'Deleted' }, '404': { description: 'No such note' } },
      },
    },
  },
} as const
