// The bench's settings (BENCH_SECONDS, BENCH_ROUNDS, …): a positive number from the
// environment, or the default. Anything else stops the bench with one line that names the
// setting, rather than a run of NaN.

export function setting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not "${raw}"`)
  return value
}

/** The setting from this process's environment; a bad one ends the bench with its one line. */
export function benchSetting(name: string, fallback: number): number {
  try {
    return setting(process.env, name, fallback)
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`)
    process.exit(2)
  }
}
