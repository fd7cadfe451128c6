// The pieces every configuration parser shares: the error that stops start-up naming the
// variable, list splitting, and the common number type.
import { z } from 'zod'

export class ConfigError extends Error {}

export function fail(variable: string, problem: string): never {
  throw new ConfigError(`${variable}: ${problem}`)
}

export const list = (sep: RegExp) => (s: string) =>
  s
    .split(sep)
    .map((x) => x.trim())
    .filter(Boolean)

export const positiveInt = z.coerce.number().int().positive()
