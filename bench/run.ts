// npm run bench: tools/call throughput of keygate's /mcp set against what a team would run
// instead, each server in a process of its own and the product's API in another
// (bench/peers/): (a) keygate /mcp; (b) the MCP SDK v2's documented server with bearer
// auth; (c) FastMCP, stateless, with auth; (d) a plain proxy hop to the API; (e) that
// hop after the same key lookup. Interleaved rounds, ratios per round, their median and
// spread. Then the in-process cost of one bearer check (1k and 1M rows) and code-exchange
// throughput. Reported as ratios, never as absolute pass/fail thresholds.

import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { Pool } from 'undici'
import { keyring } from '../src/crypto/secrets.js'
import { signCode } from '../src/oauth/code.js'
import { freePort } from '../test/support/http.js'
import { type BearerCost, bearerCheckCosts } from './bearer-cost.js'
import { DATABASES, median } from './databases.js'
import { exchangeThroughput } from './exchange.js'
import { benchSetting } from './settings.js'

const DURATION = benchSetting('BENCH_SECONDS', 8)
/** bench/server.ts's KEYGATE_SECRET: the bench signs keygate's codes with it. */
const BENCH_SECRET = 'bench-secret-0123456789-abcdefghijklmnop'
const CONNECTIONS = benchSetting('BENCH_CONNECTIONS', 16)
// Each path gets DURATION seconds in all, cut into ROUNDS slices that take turns, so that a
// neighbour's burst on a shared machine lands on every path alike. Ratios are computed per
// round and reported as their median.
const ROUNDS = benchSetting('BENCH_ROUNDS', 8)
// The rest of the run's sizes, read here so that a bad one is refused before anything starts.
const EXCHANGES = benchSetting('BENCH_EXCHANGES', 5000)
const LOOKUPS = { sqlite: benchSetting('BENCH_LOOKUPS', 50_000), server: benchSetting('BENCH_LOOKUPS', 8_000) }
// The large table's size (BENCH_BULK_ROWS, default 1,000,000; the bench's smoke run makes it small).
const BULK_ROWS = benchSetting('BENCH_BULK_ROWS', 1_000_000)
const INPROCESS_EXCHANGES = benchSetting('BENCH_INPROCESS_EXCHANGES', 3000)
const MEMORY_SECONDS = benchSetting('BENCH_MEMORY_SECONDS', 60)

type Sample = { rps: number; p50: number; p99: number; errors: number; non2xx: number }
type Row = Sample & { name: string; rounds: number[] }

async function sample(opts: autocannon.Options, seconds: number): Promise<Sample> {
  const r = await autocannon({ ...opts, duration: seconds, connections: CONNECTIONS })
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  }
}

const children: ChildProcess[] = []
/** Starts a bench process and waits for its first line. */
async function start(script: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  // A process that ends before its first line stops the bench (rather than waiting forever).
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${script} ended (exit ${code}) before it was ready`)
  })
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), exited])) as [string]
  exited.catch(() => undefined)
  return line
}

const [apiPort, keygatePort, sdkPort, fastmcpPort, proxyPort, floorPort, floorTokenPort] = [
  await freePort(),
  await freePort(),
  await freePort(),
  await freePort(),
  await freePort(),
  await freePort(),
  await freePort(),
]
const upstream = `http://127.0.0.1:${apiPort}`
await start('./peers/product-api.js', [String(apiPort)])
const keygate = JSON.parse(await start('./server.js', [String(keygatePort), upstream])) as {
  key: string
  db: string
  issuer: string
  exchange: { clientId: string; userId: number; accountId: number; consentCreatedAt: number }
}
const { key, db } = keygate
await start('./peers/sdk-server.js', [String(sdkPort), db, upstream])
await start('./peers/fastmcp-server.js', [String(fastmcpPort), db, upstream])
await start('./peers/proxy.js', [String(proxyPort), db, upstream])
await start('./peers/floor-mcp.js', [String(floorPort), db, upstream])
await start('./peers/floor-token.js', [String(floorTokenPort), BENCH_SECRET, keygate.issuer])
const auth = { authorization: `Bearer ${key}` }
const call = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'list_notes', arguments: {} },
})
/** The same call in the 2026-07-28 era: the _meta envelope and the revision's headers. */
const modernCall = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: {
    name: 'list_notes',
    arguments: {},
    _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    },
  },
})
const modern = (port: number, host = `127.0.0.1:${port}`): autocannon.Options => ({
  ...mcp(port, host),
  body: modernCall,
  headers: {
    ...mcp(port, host).headers,
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': 'list_notes',
  },
})
function mcp(port: number, host = `127.0.0.1:${port}`): autocannon.Options {
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    method: 'POST',
    body: call,
    headers: {
      ...auth,
      host,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
    },
  }
}

const paths: Array<[string, autocannon.Options]> = [
  ['(a) keygate /mcp', mcp(keygatePort, `localhost:${keygatePort}`)],
  ["(b) the SDK v2's server", mcp(sdkPort)],
  ['(c) FastMCP, stateless', mcp(fastmcpPort)],
  ['(d) a plain proxy hop', { url: `http://127.0.0.1:${proxyPort}/api/v1/notes`, headers: auth }],
  ['(e) the hop + the key lookup', { url: `http://127.0.0.1:${proxyPort}/checked/api/v1/notes`, headers: auth }],
  ['(f) floor: the least a tools/call proxy does', mcp(floorPort)],
  [
    '(g) floor: (f) + the protections keygate must have',
    { ...mcp(floorPort), url: `http://127.0.0.1:${floorPort}/guarded/mcp` },
  ],
  [
    "(h) floor: (g) + the rest of keygate's per-call work",
    { ...mcp(floorPort), url: `http://127.0.0.1:${floorPort}/required/mcp` },
  ],
  ['(i) keygate /mcp, 2026-07-28', modern(keygatePort, `localhost:${keygatePort}`)],
  ["(j) the SDK's server, 2026-07-28", modern(sdkPort, `localhost:${sdkPort}`)],
]
for (const [, opts] of paths) await sample(opts, 1) // warm-up
const samples: Sample[][] = paths.map(() => [])
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order, so that no path always runs first or last in a round.
  for (let k = 0; k < paths.length; k++) {
    const i = (k + round) % paths.length
    samples[i]!.push(await sample(paths[i]![1], DURATION / ROUNDS))
  }
}
const rows: Row[] = paths.map(([name], i) => {
  const s = samples[i]!
  const sum = (f: (x: Sample) => number) => s.reduce((n, x) => n + f(x), 0)
  return {
    name,
    rps: median(s.map((x) => x.rps)),
    p50: median(s.map((x) => x.p50)),
    p99: median(s.map((x) => x.p99)),
    errors: sum((x) => x.errors),
    non2xx: sum((x) => x.non2xx),
    rounds: s.map((x) => x.rps),
  }
})
/** The median over rounds of x/y, each round's figures set against that same round's, and their spread. */
const ratio = (x: Row, y: Row) => {
  const per = x.rounds.map((v, r) => v / y.rounds[r]!)
  return { median: median(per), min: Math.min(...per), max: Math.max(...per) }
}

// Code exchange over real HTTP: keygate's /token and oidc-provider's, the same client code,
// the same concurrency, interleaved rounds of pre-made codes (each redeemed once).
const EXCHANGE_ROUNDS = 3
const EXCHANGERS = ['keygate', 'oidc-provider', "floor: this design's least exchange", 'floor: HTTP and the form alone']
/** Per round, exchanges per second in EXCHANGERS' order. */
const exchangeRates: number[][] = []
{
  const opPort = await freePort()
  const op = spawn(
    process.execPath,
    [fileURLToPath(new URL('./peers/oidc-provider.js', import.meta.url)), String(opPort)],
    {
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  )
  const lines = createInterface({ input: op.stdout! })[Symbol.asyncIterator]()
  const next = async () => JSON.parse((await lines.next()).value as string)
  const opInfo = (await next()) as { verifier: string; redirect: string }
  const verifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const codeKeys = keyring('authorization-code', BENCH_SECRET, [])
  const perRound = Math.ceil(EXCHANGES / EXCHANGE_ROUNDS)
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
  // 32 requests in flight over keep-alive connections until every code is redeemed; the
  // round's time is from the first request to the last answer.
  const run = async (url: string, bodies: string[]) => {
    const pool = new Pool(new URL(url).origin, { connections: 32 })
    let next = 0
    let failed = 0
    let firstFailure = ''
    const started = performance.now()
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!
          const res = await pool.request({
            method: 'POST',
            path: new URL(url).pathname,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body,
          })
          const text = await res.body.text()
          if (res.statusCode !== 200 && failed++ === 0) firstFailure = `${res.statusCode} ${text.slice(0, 200)}`
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    await pool.close()
    if (failed > 0) {
      console.error(`${url}: ${failed} exchanges failed, the first: ${firstFailure}`)
      process.exitCode = 1
    }
    return bodies.length / seconds
  }
  const x = keygate.exchange
  // keygate's codes, signed with its secret; floor-token.ts verifies the same codes.
  const keygateBodies = async () => {
    const now = Math.floor(Date.now() / 1000)
    const codes = await Promise.all(
      Array.from({ length: perRound }, () =>
        signCode(
          codeKeys,
          keygate.issuer,
          {
            clientId: x.clientId,
            redirectUri: 'https://client.example/cb',
            codeChallenge: challenge,
            userId: x.userId,
            accountId: x.accountId,
            scopes: ['read'],
            resource: `${keygate.issuer}/mcp`,
            consentCreatedAt: x.consentCreatedAt,
          },
          now,
        ),
      ),
    )
    return codes.map((code) =>
      form({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        client_id: x.clientId,
        redirect_uri: 'https://client.example/cb',
      }),
    )
  }
  const floorToken = `http://127.0.0.1:${floorTokenPort}/token`
  const contenders: Array<[string, () => Promise<number>]> = [
    ['keygate', async () => run(`http://127.0.0.1:${keygatePort}/token`, await keygateBodies())],
    [
      'oidc-provider',
      async () => {
        op.stdin!.write(`mint ${perRound}\n`)
        const codes = (await next()) as string[]
        const bodies = codes.map((code) =>
          form({
            grant_type: 'authorization_code',
            code,
            code_verifier: opInfo.verifier,
            client_id: 'bench',
            redirect_uri: opInfo.redirect,
          }),
        )
        return run(`http://127.0.0.1:${opPort}/token`, bodies)
      },
    ],
    ["floor: this design's least exchange", async () => run(floorToken, await keygateBodies())],
    ['floor: HTTP and the form alone', async () => run(`${floorToken}/http`, await keygateBodies())],
  ]
  // A warm-up round for each (JIT, connections), not counted.
  for (const [, round] of contenders) await round()
  for (let round = 0; round < EXCHANGE_ROUNDS; round++) {
    // Rotate which goes first.
    const rates: number[] = []
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + round) % contenders.length
      rates[i] = await contenders[i]![1]()
    }
    exchangeRates.push(rates)
  }
  op.kill('SIGTERM')
}
// Resident memory (VmRSS, Linux's /proc) of a keygate process after BENCH_MEMORY_SECONDS
// (default 60) at full /mcp load: a fresh process, started for this (the target), and the
// process that served every round above (reported beside it).
const rss = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
}
const usedPid = children[1]!.pid!
const usedBefore = rss(usedPid)
await sample(paths[0]![1], MEMORY_SECONDS)
const usedAfter = rss(usedPid)
const freshPort = await freePort()
const fresh = JSON.parse(await start('./server.js', [String(freshPort), upstream])) as { key: string }
const freshPid = children.at(-1)!.pid!
const freshBefore = rss(freshPid)
const freshLoad = mcp(freshPort, `localhost:${freshPort}`)
await sample({ ...freshLoad, headers: { ...freshLoad.headers, authorization: `Bearer ${fresh.key}` } }, MEMORY_SECONDS)
const freshAfter = rss(freshPid)
for (const child of children) child.kill('SIGTERM')

// A database that is not running is reported as skipped; SQLite always runs.
const skipped = (name: string) => (err: Error) => {
  console.error(`${name} benchmark skipped: ${err.message}`)
  return undefined
}
const costs: BearerCost[] = []
// SQLite with 1,000 and with BULK_ROWS key rows in the same rounds; the servers with 1,000.
const [sqlite, bulk] = (await bearerCheckCosts(DATABASES[0]!, [1_000, BULK_ROWS], LOOKUPS.sqlite)) as [
  BearerCost,
  BearerCost,
]
costs.push(sqlite)
for (const database of DATABASES.slice(1)) {
  const cost = await bearerCheckCosts(database, [1_000], LOOKUPS.server).catch(skipped(database.name))
  if (cost) costs.push(cost[0]!)
}
const exchanges: Array<[string, number]> = []
for (const database of DATABASES) {
  const rate = await exchangeThroughput(database, INPROCESS_EXCHANGES).catch(skipped(database.name))
  if (rate !== undefined) exchanges.push([database.name, rate])
}

console.log(
  `\nkeygate benchmark: ${DURATION}s per path in ${ROUNDS} interleaved rounds, ${CONNECTIONS} connections, Node ${process.version}\n`,
)
console.log('| path | req/s (median of rounds) | p50 ms | p99 ms | errors | non-2xx |')
console.log('|---|---|---|---|---|---|')
for (const r of rows)
  console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} |`)
const [a, b, c, d, e, f, g, h, i, j] = rows as [Row, Row, Row, Row, Row, Row, Row, Row, Row, Row]
const show = (label: string, x: Row, y: Row, target: string) => {
  const r = ratio(x, y)
  console.log(`${label}: ${r.median.toFixed(2)} (rounds ${r.min.toFixed(2)}–${r.max.toFixed(2)})   target ${target}`)
}
console.log('')
show("a/b keygate vs the SDK's server", a, b, '>= 4')
show('a/c keygate vs FastMCP', a, c, '>= 4')
show('a/d keygate vs a bare hop', a, d, '>= 0.5')
show("i/j keygate vs the SDK's server, 2026-07-28", i, j, '>= 4')
show('i/d keygate 2026-07-28 vs a bare hop', i, d, '>= 0.5')
show('e/d the key lookup on a hop', e, d, '(reference)')
show('f/d floor: the least tools/call proxy vs a bare hop', f, d, '(what any design allows)')
show('g/d floor: (f) with the required protections vs a bare hop', g, d, '(reference)')
show("h/d floor: (g) with the rest of keygate's per-call work vs a bare hop", h, d, '(what keygate can reach at most)')
show('a/g keygate vs (g)', a, g, '(reference)')
show('a/h keygate vs (h)', a, h, '(reference)')
// Each server process is the bottleneck of its run, so 1/throughput is its time per request.
const perCall = (r: Row) => 1e6 / r.rps
console.log(
  `server time per request: a ${perCall(a).toFixed(0)} µs, d ${perCall(d).toFixed(0)} µs, e ${perCall(e).toFixed(0)} µs, f ${perCall(f).toFixed(0)} µs, g ${perCall(g).toFixed(0)} µs, h ${perCall(h).toFixed(0)} µs; keygate adds ${(perCall(a) - perCall(d)).toFixed(0)} µs to a bare hop, the target allows ${perCall(d).toFixed(0)} µs`,
)
console.log(
  `\nkeygate's resident memory after ${MEMORY_SECONDS} s at full /mcp load: a fresh process ${freshBefore.toFixed(0)} MB at start, ${freshAfter.toFixed(0)} MB after   target <= 200 MB`,
)
console.log(
  `  the process that served every round above: ${usedBefore.toFixed(0)} MB before, ${usedAfter.toFixed(0)} MB after`,
)
{
  console.log(
    `\ncode exchanges over HTTP (${EXCHANGES} codes, 32 connections, ${EXCHANGE_ROUNDS} interleaved rounds), per second by round:`,
  )
  for (const [i, name] of EXCHANGERS.entries())
    console.log(`  ${name}: ${exchangeRates.map((r) => r[i]!.toFixed(0)).join(', ')}`)
  const against = (i: number, label: string, target: string) => {
    const per = exchangeRates.map((r) => r[i]! / r[1]!)
    console.log(
      `${label} / oidc-provider: ${median(per).toFixed(2)} (rounds ${Math.min(...per).toFixed(2)}–${Math.max(...per).toFixed(2)})   ${target}`,
    )
  }
  against(0, 'keygate', 'target >= 1')
  against(2, "floor: this design's least exchange", '(what the design allows)')
  against(3, 'floor: HTTP and the form alone', '(what any server over this HTTP allows)')
}
console.log(
  "\nbearer check (format, SHA-256, lookup, checks) in-process, median of rounds; 0.1.0's lookup = the raw driver's statement, as keygate 0.1.0 looked keys up:",
)
console.log("| database | key rows | keygate µs | 0.1.0's lookup µs | keygate / 0.1.0 |")
console.log('|---|---|---|---|---|')
for (const c of [...costs, bulk])
  console.log(
    `| ${c.database} | ${c.rows.toLocaleString('en')} | ${c.micros.toFixed(1)} | ${c.baselineMicros.toFixed(1)} | ${c.ratio.toFixed(2)} |`,
  )
console.log(`SQLite: keygate / 0.1.0 ${sqlite.ratio.toFixed(2)}   target <= 1.10`)
const scaling = bulk.rounds.map((x, i) => x / sqlite.rounds[i]!)
console.log(
  `bearer check, ${BULK_ROWS.toLocaleString('en')} rows vs 1,000 rows (SQLite, same rounds): ${median(scaling).toFixed(2)}x (rounds ${Math.min(...scaling).toFixed(2)}–${Math.max(...scaling).toFixed(2)})   target <= 1.5 (1M rows)`,
)
const sqliteRate = exchanges.find(([name]) => name === 'SQLite')![1]
console.log(
  `code exchanges/s in-process (8 in flight): ${exchanges.map(([name, rate]) => `${name} ${rate.toFixed(0)} (${(rate / sqliteRate).toFixed(2)}x SQLite)`).join(', ')}`,
)
if (rows.some((r) => r.errors > 0 || r.non2xx > 0)) {
  console.error('some requests failed: the figures above are not comparable')
  process.exitCode = 1
}
