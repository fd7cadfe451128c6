// Tools from the upstream's OpenAPI 3.x document. Each operation becomes one MCP tool:
// name from operationId, description from summary/description plus the scope it needs,
// inputSchema from path, query and header parameters and the JSON request body, with local
// $refs resolved by @apidevtools/json-schema-ref-parser. `x-mcp: false` opts out.
import { readFile } from 'node:fs/promises'
import $RefParser from '@apidevtools/json-schema-ref-parser'
import { request } from 'undici'

export type ParamLocation = 'path' | 'query' | 'header'
export type ToolParam = { name: string; in: ParamLocation; arg: string; required: boolean }

export type ToolDef = {
  name: string
  description: string
  inputSchema: {
    type: 'object'
    properties: Record<string, unknown>
    required?: string[]
    additionalProperties?: boolean
  }
  annotations: { title?: string; readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean }
  method: string
  path: string
  params: ToolParam[]
  hasBody: boolean
  /** Any one of these scope sets allows the call (OpenAPI security is OR of ANDs). */
  scopeSets: string[][]
}

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is walked by shape; each field is checked where it is read
type Json = Record<string, any>

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/
const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

export class OpenApiError extends Error {}

/** Reads the document from a file path or an http(s) URL. */
export async function readDocument(source: string): Promise<Json> {
  let text: string
  if (/^https?:\/\//i.test(source)) {
    const res = await request(source, { headersTimeout: 10_000, bodyTimeout: 10_000 })
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw new OpenApiError(`${source} answered HTTP ${res.statusCode}`)
    }
    text = await res.body.text()
  } else {
    text = await readFile(source, 'utf8')
  }
  if (text.length > MAX_DOCUMENT_BYTES) throw new OpenApiError('the OpenAPI document is larger than 5 MB')
  try {
    return JSON.parse(text) as Json
  } catch {
    throw new OpenApiError('the OpenAPI document is not valid JSON')
  }
}

function toolName(method: string, path: string, op: Json): string {
  const raw = typeof op.operationId === 'string' && op.operationId ? op.operationId : `${method}_${path}`
  const name = raw
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 128)
  return TOOL_NAME.test(name) ? name : `${method}_operation`
}

function methodScope(method: string): string[] {
  return method === 'get' || method === 'head' ? ['read'] : ['write']
}

function scopeSets(method: string, op: Json, doc: Json): string[][] {
  const security = (op.security ?? doc.security) as Json[] | undefined
  const sets = (security ?? [])
    .map((req) => [...new Set(Object.values(req).flat() as string[])])
    .filter((s) => s.length > 0)
  return sets.length > 0 ? sets : [methodScope(method)]
}

function jsonBodySchema(op: Json): { schema: Json; required: boolean } | undefined {
  const content = op.requestBody?.content as Json | undefined
  if (!content) return undefined
  const type = Object.keys(content).find((t) => /^application\/([\w.+-]*\+)?json\b/i.test(t))
  if (!type) return undefined
  return { schema: content[type].schema ?? { type: 'object' }, required: op.requestBody.required === true }
}

function buildTool(doc: Json, path: string, method: string, pathItem: Json, op: Json): ToolDef {
  const params: ToolParam[] = []
  const properties: Record<string, unknown> = {}
  const required: string[] = []
  const declared = [...(pathItem.parameters ?? []), ...(op.parameters ?? [])] as Json[]
  // Operation-level parameters override path-level ones with the same name and location.
  const byKey = new Map(declared.map((p) => [`${p.in}:${p.name}`, p]))
  for (const p of byKey.values()) {
    if (!['path', 'query', 'header'].includes(p.in) || typeof p.name !== 'string') continue
    if (p.in === 'header' && /^(authorization|cookie|host|content-type|content-length)$/i.test(p.name)) continue
    const arg = properties[p.name] === undefined ? p.name : `${p.in}_${p.name}`
    const isRequired = p.in === 'path' || p.required === true
    properties[arg] = { ...(p.schema ?? { type: 'string' }), ...(p.description ? { description: p.description } : {}) }
    if (isRequired) required.push(arg)
    params.push({ name: p.name, in: p.in, arg, required: isRequired })
  }
  const body = jsonBodySchema(op)
  if (body) {
    properties.body = body.schema
    if (body.required) required.push('body')
  }
  const sets = scopeSets(method, op, doc)
  const summary =
    [op.summary, op.description].filter((s) => typeof s === 'string' && s.trim()).join('\n\n') ||
    `${method.toUpperCase()} ${path}`
  const scopeNote = sets.map((s) => s.join(' + ')).join(' or ')
  return {
    name: toolName(method, path, op),
    description: `${summary}\n\nRequires scope: ${scopeNote}.`,
    inputSchema: { type: 'object', properties, ...(required.length ? { required } : {}) },
    annotations: {
      ...(typeof op.summary === 'string' ? { title: op.summary } : {}),
      ...(method === 'get' || method === 'head' ? { readOnlyHint: true } : { readOnlyHint: false }),
      ...(method === 'delete' ? { destructiveHint: true } : {}),
      ...(method === 'put' || method === 'delete' ? { idempotentHint: true } : {}),
    },
    method: method.toUpperCase(),
    path,
    params,
    hasBody: body !== undefined,
    scopeSets: sets,
  }
}

/** Builds the tools of an OpenAPI 3.x document (local $refs only). */
export async function toolsFromOpenApi(document: Json): Promise<ToolDef[]> {
  if (typeof document.openapi !== 'string' || !document.openapi.startsWith('3.'))
    throw new OpenApiError('only OpenAPI 3.x documents are supported')
  const doc = (await $RefParser.dereference(structuredClone(document), {
    resolve: { external: false },
    dereference: { circular: 'ignore' },
  })) as Json
  const tools: ToolDef[] = []
  for (const [path, pathItem] of Object.entries((doc.paths ?? {}) as Json)) {
    if (pathItem?.['x-mcp'] === false) continue
    for (const method of METHODS) {
      const op = pathItem?.[method] as Json | undefined
      if (!op || op['x-mcp'] === false) continue
      tools.push(buildTool(doc, path, method, pathItem, op))
    }
  }
  const seen = new Set<string>()
  for (const tool of tools) {
    if (seen.has(tool.name))
      throw new OpenApiError(`two operations map to the tool name ${tool.name}: give them distinct operationIds`)
    seen.add(tool.name)
  }
  return tools
}
