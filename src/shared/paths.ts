// Files that ship beside the code (package.json, schemas, templates, public/): found from
// the package root, the nearest folder above this module that holds keygate's package.json.
// Whether the module runs from src/ (a loader), dist/src/ (npm start, tests) or an image's
// /app/dist/src, the answer is the same.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'keygate') return dir
    if (dirname(dir) === dir) throw new Error(`keygate's package.json was not found above ${start}`)
  }
}

export const PACKAGE_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))

/** A path under the package root, like repoPath('templates'). */
export function repoPath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts)
}
