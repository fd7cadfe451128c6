// Real keygate processes (bin/keygate.js serve) sharing one secret and one database.
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { type Test, testEnv } from '../helper.js'
import { freePort } from './http.js'

export type Instance = { base: string; port: number; child: ChildProcess; exited: Promise<number | null> }

class PortTaken extends Error {}

/**
 * `count` instances on ports free when asked for. Each instance must know every port before it
 * starts (issuer, allowed hosts), and a process running beside may take one of them first:
 * then every instance of that try is stopped and the whole set is tried again on new ports.
 */
export async function startInstances(
  t: Test,
  dir: string,
  count: number,
  env: Record<string, string> = {},
  pickPort: () => Promise<number> = freePort,
): Promise<Instance[]> {
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = []
    for (let i = 0; i < count; i++) ports.push(await pickPort())
    const started = ports.map((port) => spawnInstance(dir, ports, port, env))
    const ready = await Promise.allSettled(started.map((s) => s.ready))
    const failed = ready.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (!failed) {
      for (const s of started) t.teardown(() => s.stop())
      return started.map((s) => s.instance)
    }
    await Promise.all(started.map((s) => s.stop()))
    if (!(failed.reason instanceof PortTaken) || attempt === 5) throw failed.reason
  }
}

function spawnInstance(dir: string, ports: number[], port: number, env: Record<string, string>) {
  const shared = testEnv(dir, {
    KEYGATE_ISSUER: `http://localhost:${ports[0]}`,
    KEYGATE_ALLOWED_HOSTS: ports.map((p) => `localhost:${p}`).join(','),
    HOST: '127.0.0.1',
    KEYGATE_LOG_LEVEL: 'warn',
    ...env,
  })
  const child = spawn(process.execPath, ['bin/keygate.js', 'serve'], {
    env: { PATH: process.env.PATH ?? '', ...shared, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const stderr: string[] = []
  child.stderr!.on('data', (d) => stderr.push(String(d)))
  const ready = new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => /^keygate \S+ listening on /.test(line) && resolve())
    child.once('exit', (code) => {
      const said = stderr.join('')
      const Failure = said.includes('EADDRINUSE') ? PortTaken : Error
      reject(new Failure(`instance on ${port} exited with ${code}: ${said}`))
    })
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  return { ready, stop, instance: { base: `http://localhost:${port}`, port, child, exited } as Instance }
}
