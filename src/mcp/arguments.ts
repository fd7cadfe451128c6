// Tool arguments are checked against the tool's inputSchema before anything goes upstream
// (the MCP spec's tool security rules: servers must validate all tool inputs). A call that
// does not fit gets an isError result the model can act on, and the upstream sees nothing.
// Ajv does the checking, through the SDK's AjvJsonSchemaValidator; each tool's schema is
// compiled once, on its first call, so a large API costs nothing until it is used. Ajv's
// own warnings (an unknown `format`, ignored) go to the caller's log, not to the console.
import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/server'
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { ToolDef } from './openapi.js'

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const MAX_MESSAGE = 2000

export type CheckLog = {
  /** A schema Ajv cannot compile: that tool keeps only the check of its required parameters. */
  uncompilable(tool: string, err: Error): void
  /** Ajv's own warnings while compiling a tool's schema, such as a format it does not know and ignores. */
  warn(tool: string, message: string): void
}

export class ArgumentCheck {
  readonly validator: AjvJsonSchemaValidator
  // null: the schema could not be compiled (say, a circular $ref left in place); such a tool
  // keeps the check of its required parameters, and the upstream checks the rest.
  private readonly compiled = new WeakMap<ToolDef, JsonSchemaValidator<unknown> | null>()

  private readonly log: CheckLog
  /** The tool whose schema Ajv is compiling, for its warnings. */
  private compiling = ''

  constructor(log: CheckLog) {
    this.log = log
    // The SDK's default options (lenient about unknown keywords such as OpenAPI's `example`,
    // every error at once, formats checked), with the warnings routed to `log`.
    const warn = (...parts: unknown[]) => log.warn(this.compiling, parts.map(String).join(' '))
    const ajv = new Ajv({
      strict: false,
      validateFormats: true,
      validateSchema: false,
      allErrors: true,
      logger: { log: () => {}, warn, error: warn },
    })
    this.validator = new AjvJsonSchemaValidator(addFormats(ajv))
  }

  /** What is wrong with the arguments, or undefined when they fit the tool's inputSchema. */
  problem(tool: ToolDef, args: unknown): string | undefined {
    let check = this.compiled.get(tool)
    if (check === undefined) {
      this.compiling = tool.name
      try {
        check = this.validator.getValidator(tool.inputSchema as JsonSchemaType)
      } catch (err) {
        this.log.uncompilable(tool.name, err as Error)
        check = null
      }
      this.compiled.set(tool, check)
    }
    if (check === null) return undefined
    const result = check(args)
    if (result.valid) return undefined
    // Every error is named, but a body of a million bad items must not become a larger answer.
    const text = result.errorMessage
    return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text
  }
}
