// The layout shows the design: every module lives in a folder named for its concern, and no
// two folders of src/ import each other, directly or through others (type imports count).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import t from 'tap'
import { repoPath } from '../src/shared/paths.js'

const SRC = repoPath('src')

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

const folderOf = (file: string) => relative(SRC, file).split('/')[0]!

/** Folder → the folders its modules import. */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>()
  for (const file of modules(SRC)) {
    const from = folderOf(file)
    const edges = graph.get(from) ?? new Set<string>()
    graph.set(from, edges)
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = normalize(join(dirname(file), m[1]!))
      const to = folderOf(target)
      if (to !== from) edges.add(to)
    }
  }
  return graph
}

/** The groups of folders that reach each other (Tarjan's strongly connected components). */
function circles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const found: string[][] = []
  const visit = (v: string) => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = []
      let w: string
      do {
        w = stack.pop()!
        group.push(w)
      } while (w !== v)
      if (group.length > 1) found.push(group.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

t.test('every module of src/ is in a folder', async (t) => {
  t.same(
    readdirSync(SRC).filter((f) => f.endsWith('.ts')),
    [],
  )
})

t.test('no two folders of src/ import each other, directly or through others', async (t) => {
  const graph = folderGraph()
  t.ok(graph.size >= 10, [...graph.keys()].join(' '))
  t.same(circles(graph), [])
  // The check finds a circle when there is one.
  t.same(
    circles(
      new Map([
        ['a', new Set(['b'])],
        ['b', new Set(['c'])],
        ['c', new Set(['a'])],
      ]),
    ),
    [['a', 'b', 'c']],
  )
})
