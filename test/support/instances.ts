// Real keygate processes (bin/keygate.js serve) sharing one secret and one database.
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { type Test, testEnv } from '../helper.js'
import { freePort } from './http.js'

export type Instance = { base: string; port: number; child: ChildProcess; exited: Promise<number | null> }

export async function startInstances(
  t: Test,
  dir: string,
  count: number,
  env: Record<string, string> = {},
): Promise<Instance[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i++) ports.push(await freePort())
  const issuer = `http://localhost:${ports[0]}`
  const shared = testEnv(dir, {
    KEYGATE_ISSUER: issuer,
    KEYGATE_ALLOWED_HOSTS: ports.map((p) => `localhost:${p}`).join(','),
    HOST: '127.0.0.1',
    KEYGATE_LOG_LEVEL: 'warn',
    ...env,
  })
  return Promise.all(
    ports.map(async (port) => {
      const child = spawn(process.execPath, ['bin/keygate.js', 'serve'], {
        env: { PATH: process.env.PATH ?? '', ...shared, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      t.teardown(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
        await exited
      })
      const stderr: string[] = []
      child.stderr!.on('data', (d) => stderr.push(String(d)))
      await new Promise<void>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! })
        lines.on('line', (line) => line.startsWith('keygate listening') && resolve())
        child.once('exit', (code) => reject(new Error(`instance on ${port} exited with ${code}: ${stderr.join('')}`)))
      })
      return { base: `http://localhost:${port}`, port, child, exited }
    }),
  )
}
