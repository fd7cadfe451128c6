#!/usr/bin/env node
// Compiles the TypeScript only when a source is newer than the last build (npm ci builds
// once through the prepare script; npm start, npm test and the other scripts call this).
// A rebuild says so in one line, compiles incrementally and removes compiled files whose
// source is gone, so a deleted test never runs from a stale dist/.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

// The project's folder: this script's parent, or the first argument (the tests use a small project).
const ROOT = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..')
const DIST = join(ROOT, 'dist')
const STAMP = join(DIST, '.built')
const SOURCES = ['src', 'test', 'bench', 'examples', 'scripts']
const CONFIG = ['tsconfig.json', 'package-lock.json']
const TSC = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'typescript', 'bin', 'tsc')

function* files(dir) {
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* files(path)
    else yield path
  }
}

function newestSource() {
  let newest = 0
  let which = ''
  for (const dir of SOURCES)
    for (const file of files(join(ROOT, dir))) {
      if (!/\.(ts|json)$/.test(file)) continue
      const mtime = statSync(file).mtimeMs
      if (mtime > newest) [newest, which] = [mtime, file]
    }
  for (const name of CONFIG) {
    const file = join(ROOT, name)
    if (existsSync(file) && statSync(file).mtimeMs > newest) [newest, which] = [statSync(file).mtimeMs, file]
  }
  return { newest, which }
}

/** Deletes dist/x.js (and its map and declarations) when x.ts is gone. */
function pruneOrphans() {
  for (const dir of SOURCES)
    for (const file of files(join(DIST, dir))) {
      const source = file.replace(/\.js(\.map)?$/, '.ts').replace(/\.d\.ts$/, '.ts')
      if (!/\.js(\.map)?$/.test(file)) continue
      if (!existsSync(join(ROOT, relative(DIST, source)))) rmSync(file)
    }
}

const built = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0
const { newest, which } = newestSource()
if (built === 0 || newest > built) {
  const why = built === 0 ? 'no build yet' : `${relative(ROOT, which)} changed since the last build`
  process.stderr.write(`keygate: compiling (${why})…\n`)
  const tsc = spawnSync(process.execPath, [TSC, '-p', ROOT], {
    stdio: 'inherit',
  })
  if (tsc.status !== 0) process.exit(tsc.status ?? 1)
  pruneOrphans()
  writeFileSync(STAMP, `${new Date().toISOString()}\n`)
}
