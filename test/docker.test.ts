// The image is built from the project's own files: every COPY names something that exists
// and that .dockerignore lets through, the runtime stage has every folder keygate reads
// beside its code, and the build context leaves out installed output, data and secrets.
// (There is no Docker daemon here; `npm run lint` also checks the Dockerfile's syntax.)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { repoPath } from '../src/paths.js'

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
