// Request data at the edge: a form, query or params object parsed with zod instead of cast.
// What is not an object becomes {} (or, for OAuth forms, the caller's error); each route's
// own checks then read the fields as `unknown` and refuse what does not fit.
import { z } from 'zod'

export type Fields = Record<string, unknown>

const FIELDS = z.record(z.string(), z.unknown())

/** The request's form, query or params as a plain object, or undefined when it is none. */
export function fieldsOf(value: unknown): Fields | undefined {
  if (Array.isArray(value)) return undefined
  const parsed = FIELDS.safeParse(value)
  return parsed.success ? parsed.data : undefined
}

/** A single text field: a string cut to `max` characters, or '' for anything else. */
export const textField = (max: number) =>
  z
    .unknown()
    .optional()
    .transform((v) => (typeof v === 'string' ? v.slice(0, max) : ''))

/** A field that may be ticked several times (checkboxes): the strings sent, each at most 4,096 characters, at most 64. */
export const ticked = z
  .unknown()
  .optional()
  .transform((value): string[] => {
    const list = Array.isArray(value) ? value : value === undefined ? [] : [value]
    return list.filter((v): v is string => typeof v === 'string' && v.length <= 4096).slice(0, 64)
  })

/** Reads a form, query or params object with a schema of lenient fields; what is not an object reads as {}. */
export function readFields<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  return schema.parse(fieldsOf(value) ?? {})
}
