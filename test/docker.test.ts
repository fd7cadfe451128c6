// The image is built from the project's own files: every COPY names something that exists
// and that .dockerignore lets through, the runtime stage has every folder keygate reads
// beside its code, and the build context leaves out installed output, data and secrets.
// With no Docker daemon here, the two stages are also played out in folders: the build
// stage's files compiled as its RUN does, the final stage's files assembled from them and
// started. (`npm run lint` checks the Dockerfile's syntax.)
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import t from 'tap'
import { repoPath } from '../src/shared/paths.js'
import { tempDir } from './helper.js'
import { freePort } from './support/http.js'

const dockerfile = readFileSync(repoPath('Dockerfile'), 'utf8')
const ignored = readFileSync(repoPath('.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))

function isIgnored(path: string): boolean {
  const name = path.split('/').at(-1)!
  return ignored.some((pattern) => {
    if (pattern.startsWith('**/')) return name === pattern.slice(3)
    const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`)
    return regex.test(path)
  })
}

/** Each stage's COPY sources (without --from: they come from the build context). */
function copies(): Array<{ stage: number; sources: string[]; from: string | undefined }> {
  let stage = -1
  const out: Array<{ stage: number; sources: string[]; from: string | undefined }> = []
  for (const line of dockerfile.split('\n')) {
    if (/^FROM\s/i.test(line)) stage++
    const copy = /^COPY\s+(.*)$/i.exec(line)
    if (!copy) continue
    const words = copy[1]!.split(/\s+/)
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length)
    const rest = words.filter((w) => !w.startsWith('--'))
    out.push({ stage, sources: rest.slice(0, -1), from })
  }
  return out
}

t.test('every COPY from the build context exists and is not ignored', async (t) => {
  const all = copies().filter((c) => c.from === undefined)
  t.ok(all.length > 5)
  for (const { sources } of all)
    for (const source of sources) {
      t.ok(existsSync(repoPath(source)), `${source} exists`)
      t.notOk(isIgnored(source), `${source} is sent to the build`)
    }
})

t.test('the runtime stage holds every folder keygate reads beside its code', async (t) => {
  const last = Math.max(...copies().map((c) => c.stage))
  const runtime = copies()
    .filter((c) => c.stage === last)
    .flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, '').replace(/\/$/, '')))
  const read = new Set<string>()
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (path.endsWith('.ts'))
        for (const m of readFileSync(path, 'utf8').matchAll(/repoPath\('([^']+)'/g)) read.add(m[1]!)
    }
  }
  walk(repoPath('src'))
  t.ok(read.size >= 4, [...read].join(' '))
  for (const folder of [...read, 'dist', 'bin'])
    t.ok(runtime.includes(folder), `the image has ${folder} (copied: ${runtime.join(' ')})`)
})

t.test('the build context leaves out installed output, local data and secrets', async (t) => {
  for (const path of ['node_modules', 'dist', 'data', 'data/secret', 'data/keygate.db', '.git', 'test-output', '.env'])
    t.ok(isIgnored(path), `${path} is not sent`)
  for (const path of ['src/crypto/secrets.ts', 'package-lock.json', 'migrations', 'templates'])
    t.notOk(isIgnored(path), `${path} is sent`)
})

t.test("the stages played out: the build stage's files compile, the final stage's start and are ready", async (t) => {
  const stages = copies()
  const last = Math.max(...stages.map((c) => c.stage))
  const assemble = (stage: number, dir: string) => {
    for (const c of stages.filter((c) => c.stage === stage && c.from === undefined))
      for (const source of c.sources) cpSync(repoPath(source), join(dir, source), { recursive: true })
    // npm ci's result, shared: the test checks the files, not the registry.
    symlinkSync(repoPath('node_modules'), join(dir, 'node_modules'))
  }
  const build = tempDir(t)
  assemble(0, build)
  t.match(dockerfile, /RUN npx tsc -p tsconfig\.build\.json/, 'the build stage runs this compile')
  const compiled = await promisify(execFile)(
    process.execPath,
    [join(build, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(build, 'tsconfig.build.json')],
    { cwd: build },
  ).then(
    () => 0,
    (err: { code: number; stdout: string }) => {
      t.comment(err.stdout)
      return err.code
    },
  )
  t.equal(compiled, 0, 'the build stage compiles')
  const app = tempDir(t)
  assemble(last, app)
  t.match(dockerfile, /COPY --from=build \/app\/dist \.\/dist/)
  cpSync(join(build, 'dist'), join(app, 'dist'), { recursive: true })
  const port = await freePort()
  const child = spawn(process.execPath, ['bin/keygate.js', 'serve'], {
    cwd: app,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      KEYGATE_DB: join(tempDir(t), 'keygate.db'),
      KEYGATE_SECRET: 'a'.repeat(48),
      KEYGATE_ISSUER: 'https://mcp.example.com',
      KEYGATE_ALLOWED_HOSTS: `127.0.0.1:${port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => child.kill('SIGKILL'))
  const lines = createInterface({ input: child.stdout })
  const listening = new Promise<void>((resolve) => lines.on('line', (l) => /listening on/.test(l) && resolve()))
  const exited = once(child, 'exit').then(() => 'exited' as const)
  t.equal(await Promise.race([listening.then(() => 'listening' as const), exited]), 'listening')
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
  t.same([ready.status, await ready.json()], [200, { status: 'ready', tools: 4 }], 'the image would be ready')
})
